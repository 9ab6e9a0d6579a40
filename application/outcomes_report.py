"""The outcomes report (application/read_models.py `outcomes`): goal evaluations by
domain and team, closures by reason, time to plan approval, advocacy by barrier and
outcome, and the client's feedback, over a period, of the cases the caller sees. One
document of counts, never paged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, Field

from application.bootstrap import Casework
from application.paging import InvalidQuery
from cases.access import Query, query_relation
from cases.actors import Actor
from projections import queries


class GoalOutcomes(BaseModel):
    domain: str
    team: str
    """The team that held the case when the goal was evaluated."""
    met: int
    partly_met: int
    not_met: int


class PlanApprovalTimes(BaseModel):
    approved: int
    avg_hours_to_approval: float | None


class AdvocacyOutcomes(BaseModel):
    """Advocacy on clients' behalf against one barrier, by the team that took it up:
    opened in the period, still open, concluded in the period by outcome, and of those
    how many went to appeal and how many appeals were won (systemic barriers)."""

    barrier: str
    team: str
    opened: int
    still_open: int
    resolved: int
    partly_resolved: int
    not_resolved: int
    withdrawn: int
    appealed: int
    won_on_appeal: int


class ProviderFeedback(BaseModel):
    """Clients' ratings (1 poor … 5 excellent) of one provider's service, lowest first."""

    provider_id: str
    service_id: str | None
    ratings: int
    avg_rating: float
    poor: int
    """Ratings of 1 or 2."""


class PlanFeedback(BaseModel):
    """Clients' ratings of their plans, and whether they agreed with the version asked about."""

    ratings: int = 0
    avg_rating: float | None = None
    agrees: int = 0
    disagrees: int = 0


class Outcomes(BaseModel):
    """Goal evaluations by domain and team, closures by reason, time to plan approval,
    advocacy by barrier and outcome, and the client's feedback by provider and service,
    over [since, until) (all time when not given), of the cases the caller sees."""

    since: datetime | None
    until: datetime | None
    goals: list[GoalOutcomes]
    closures: dict[str, int]
    plan_approval: PlanApprovalTimes
    advocacy: list[AdvocacyOutcomes] = Field(default_factory=list)
    feedback: list[ProviderFeedback] = Field(default_factory=list)
    plan_feedback: PlanFeedback = PlanFeedback()


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


async def outcomes(
    app: Casework, actor: Actor, *, since: date | None = None, until: date | None = None
) -> Outcomes:
    """The outcomes report (one document of counts, not a list: never paged)."""
    query_relation(actor, Query.OUTCOMES)
    if since is not None and until is not None and until <= since:
        raise InvalidQuery("until", "must be a later day than since")
    found: dict[str, Any] = await queries.outcomes(
        app.pool, actor, since=_midnight(since), until=_midnight(until)
    )
    return Outcomes.model_validate(found)
