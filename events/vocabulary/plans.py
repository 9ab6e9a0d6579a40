"""Plans and their approval: a plan with client-centred goals is drafted (or revised),
submitted for a supervisor's approval (as is a closure), approved or returned, and
activated.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from events.choices import ApprovalKind, ClosureReason, Domain
from events.fields import Identifier, PersonalShortText, PersonalText, ShortList, ShortText
from events.registry import DomainEvent
from events.vocabulary.common import Participants, _Part


class GoalTerm(StrEnum):
    SHORT = "short"
    LONG = "long"


class GoalKind(StrEnum):
    LOGISTICAL = "logistical"
    WELLBEING = "wellbeing"


class Goal(_Part):
    goal_id: Identifier
    client_words: PersonalShortText = Field(description="The goal in the client's own words")
    domain: Domain
    term: GoalTerm
    kind: GoalKind
    objective: ShortText = Field(description="Measurable objective")
    target_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    interventions: ShortList = Field(default_factory=list)
    strategies: ShortList = Field(default_factory=list)


class ClientParticipation(_Part):
    participated: bool
    agreed: bool
    client_comment: PersonalText = ""


class PlanDrafted(DomainEvent):
    """A new plan version (the first draft, or a revision of a returned or active plan)."""

    schema_version: ClassVar[int] = 2
    """v2 added `participants` (v1 plans read as made by no one recorded besides the
    client: `upcast_plan_drafted_v1`)."""

    type: Literal["PlanDrafted"] = "PlanDrafted"
    plan_id: Identifier
    plan_version: int = Field(ge=1)
    goals: list[Goal] = Field(min_length=1, max_length=30)
    crisis_plan: PersonalText = ""
    participation: ClientParticipation
    participants: Participants = Participants()
    """Who else took part in making the plan (staff, members of the circle of support)."""


def upcast_plan_drafted_v1(data: dict[str, Any]) -> dict[str, Any]:
    """PlanDrafted v1 → v2: no participants were recorded besides the client."""
    return {**data, "participants": {"staff": [], "circle": []}}


class ApprovalRequested(DomainEvent):
    type: Literal["ApprovalRequested"] = "ApprovalRequested"
    approval_id: Identifier
    kind: ApprovalKind
    plan_id: Identifier | None = None
    plan_version: int | None = None
    closure_reason: ClosureReason | None = None
    note: PersonalText = ""


class ApprovalGranted(DomainEvent):
    type: Literal["ApprovalGranted"] = "ApprovalGranted"
    approval_id: Identifier
    kind: ApprovalKind
    note: PersonalText = ""


class ApprovalReturned(DomainEvent):
    type: Literal["ApprovalReturned"] = "ApprovalReturned"
    approval_id: Identifier
    kind: ApprovalKind
    reasons: ShortList = Field(min_length=1)


class PlanActivated(DomainEvent):
    type: Literal["PlanActivated"] = "PlanActivated"
    plan_id: Identifier
    plan_version: int
