"""Valid case lifecycles, generated step by step from a chooser (hypothesis or random).

`simulate_case(chooser, steps)` returns the NewEvents of one case in stream order;
every step is one the case workflow could take in the state the case is in.

The agency, the chooser and the case's state are in devtools/simulation_state.py (and
re-exported here); the steps in devtools/simulation_course.py,
devtools/simulation_referrals.py and devtools/simulation_support.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from devtools import simulation_course as course
from devtools import simulation_referrals as referrals
from devtools import simulation_support as support
from devtools.simulation_state import (
    CLIENT_NAME,
    PROVIDERS,
    TEAMS,
    CaseState,
    Chooser,
    RandomChooser,
    supervisor_of,
)
from events.envelope import EventMetadata, NewEvent
from events.registry import DomainEvent
from events.vocabulary import CaseOpened, ClientDetails, ReferralSource


def _meta(actor: str, role: str) -> EventMetadata:
    return EventMetadata(actor_id=actor, actor_role=role, correlation_id="lifecycle")


def simulate_case(
    chooser: Chooser,
    steps: int,
    start: datetime | None = None,
    teams: dict[str, tuple[str, ...]] | None = None,
) -> tuple[uuid.UUID, list[NewEvent]]:
    """One case: CaseOpened then up to `steps` valid steps (teams: team -> workers)."""
    teams = teams or TEAMS
    team = chooser.choice(sorted(teams))
    state = CaseState(
        case_id=uuid.uuid4(),
        teams=teams,
        worker=chooser.choice(teams[team]),
        team=team,
        clock=start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )
    out: list[NewEvent] = []

    def emit(event: DomainEvent, actor: str | None = None, role: str = "caseworker") -> None:
        state.clock += timedelta(hours=chooser.integer(1, 72))
        out.append(
            NewEvent(
                event_id=uuid.uuid4(),
                event_type=event.type,
                schema_version=event.schema_version,
                data=event.to_data(),
                metadata=_meta(actor or state.worker, role),
                occurred_at=state.clock,
            )
        )

    emit(
        CaseOpened(
            case_id=state.case_id,
            client_ref=f"C-{state.case_id.hex[:8]}",
            client=ClientDetails(name=CLIENT_NAME, date_of_birth=date(1980, 2, 3)),
            referral_source=chooser.choice(list(ReferralSource)),
            assigned_worker=state.worker,
            team=state.team,
            presenting_needs=["housing"],
        ),
        actor="intake-1",
    )
    for _ in range(steps):
        options = _options(state)
        if not options:
            break
        step = chooser.choice(options)
        _STEPS[step](state, chooser, emit)
    return state.case_id, out


def _options(s: CaseState) -> list[str]:
    if s.status == "closed":
        return ["reopen"]
    opts = ["consent", "assess", "contact", "assign", "schedule_review"]
    if s.review_due_at is not None:
        opts += ["review_due", "review_lapsed"]
    opts.append("escalate")
    if s.escalation is not None:
        opts.append("resolve_escalation")
    opts.append("resume" if s.on_hold else "hold")
    if s.assessed and s.pending is None and s.plan_version == s.plan_approved_version:
        opts.append("draft")
    if s.pending is None and s.plan_version > s.plan_approved_version:
        opts.append("request_plan")
    if s.pending is not None:
        opts += ["grant", "return"]
    if s.active_version:
        opts += ["refer", "progress", "evaluate"]
    for status in s.referrals.values():
        if status in ("made", "dispatch_failed"):
            opts.append("dispatch")
        if status == "sent":
            opts += ["respond", "follow_up"]
        if status == "accepted":
            opts += ["complete", "report"]
    if s.transfer is None:
        opts.append("transfer")
    else:
        opts.append("transfer_answer")
    if s.pending is None:
        opts += ["request_closure", "close"]
    opts += ["circle", "conference", "advocacy", "feedback"]
    if s.active_version:
        opts.append("action")
    return sorted(set(opts))


_STEPS = {**course.STEPS, **referrals.STEPS, **support.STEPS}
"""Every step by name (as `_options` offers them)."""


__all__ = [
    "CLIENT_NAME",
    "PROVIDERS",
    "TEAMS",
    "CaseState",
    "Chooser",
    "RandomChooser",
    "simulate_case",
    "supervisor_of",
]
