"""The KPI rules alone (cases/kpi.py): which event measures what, once, attributed to
the team and worker holding the case then; and how measures sum into figures."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from cases.kpi import (
    CaseFacts,
    Kpi,
    Measure,
    Selection,
    Unit,
    aggregate,
    figure,
    step,
    totals,
)
from events.registry import DomainEvent
from events.vocabulary import (
    ActionCompleted,
    ApprovalGranted,
    ApprovalKind,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    ClientDetails,
    ClosureReason,
    ContactLogged,
    EscalationRaised,
    EscalationResolved,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralMade,
    ReferralWithdrawn,
    ReviewLapsed,
    ReviewScheduled,
)

T0 = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def opened() -> CaseOpened:
    return CaseOpened(
        case_id=uuid.uuid4(), client_ref="c-1", client=ClientDetails(name="X"),
        referral_source="self_referral", assigned_worker="alice", team="north",
        presenting_needs=["housing"],
    )  # fmt: skip


def assessed(reassessment: bool = False) -> AssessmentRecorded:
    return AssessmentRecorded.model_validate(
        {
            "assessment_id": "a-1", "reassessment": reassessment,
            "domains": {"housing": {"rating": 2}}, "needs": [], "risk_level": "low",
            "scoring_rules": "v1",
        }
    )  # fmt: skip


def run(events: list[tuple[DomainEvent, timedelta]]) -> list[Measure]:
    facts: CaseFacts | None = None
    out: list[Measure] = []
    for event, after in events:
        facts, made = step(facts, event, T0 + after)
        out += made
    return out


def test_times_from_the_referral_are_measured_once_each() -> None:
    measures = run(
        [
            (opened(), timedelta()),
            (ContactLogged(contact_id="k1", kind="phone", contact_date=date(2026, 3, 31)),
             timedelta(hours=26)),
            (ContactLogged(contact_id="k2", kind="phone", contact_date=date(2026, 4, 1)),
             timedelta(hours=50)),
            (assessed(), timedelta(days=3)),
            (assessed(reassessment=True), timedelta(days=4)),
            (ApprovalGranted(approval_id="p1", kind=ApprovalKind.PLAN), timedelta(days=5)),
            (ApprovalGranted(approval_id="p2", kind=ApprovalKind.PLAN), timedelta(days=6)),
        ]
    )  # fmt: skip
    assert [(m.kpi, m.value, m.day) for m in measures] == [
        (Kpi.REFERRAL_TO_FIRST_CONTACT, 26 * 3600, date(2026, 3, 31)),
        (Kpi.REFERRAL_TO_ASSESSMENT, 3 * 86400, date(2026, 4, 2)),
        (Kpi.REFERRAL_TO_PLAN_APPROVAL, 5 * 86400, date(2026, 4, 4)),
    ]


def test_measures_go_to_the_team_and_worker_holding_the_case_then() -> None:
    measures = run(
        [
            (opened(), timedelta()),
            (CaseAssigned(worker="erin", team="south", reason="moved"), timedelta(days=1)),
            (CaseClosed(reason=ClosureReason.GOALS_MET), timedelta(days=10)),
            (CaseReopened(reason="back"), timedelta(days=20)),
            (CaseClosed(reason=ClosureReason.MOVED_AWAY), timedelta(days=22)),
        ]
    )
    assert [(m.kpi, m.team, m.worker, m.subject, m.value) for m in measures] == [
        (Kpi.CASE_DURATION, "south", "erin", "goals_met", 10 * 86400),
        (Kpi.CASE_DURATION, "south", "erin", "moved_away", 2 * 86400),
    ]


def test_a_review_is_done_on_time_or_lapsed_never_both() -> None:
    due = T0 + timedelta(days=30)
    scheduled = ReviewScheduled(due_at=due, reason="opened", policy_version=1)
    lapsed = ReviewLapsed(due_at=due, grace_ended_at=due + timedelta(days=3))
    on_time = run([(opened(), timedelta()), (scheduled, timedelta()),
                   (assessed(reassessment=True), timedelta(days=20))])  # fmt: skip
    assert [(m.kpi, m.value) for m in on_time] == [(Kpi.REVIEW_ON_TIME, 1)]
    late = run([(opened(), timedelta()), (scheduled, timedelta()), (lapsed, timedelta(days=33)),
                (assessed(reassessment=True), timedelta(days=40))])  # fmt: skip
    assert [(m.kpi, m.value) for m in late] == [(Kpi.REVIEW_ON_TIME, 0)]
    closed = run([(opened(), timedelta()), (scheduled, timedelta()),
                  (CaseClosed(reason=ClosureReason.GOALS_MET), timedelta(days=5)),
                  (lapsed, timedelta(days=33))])  # fmt: skip
    assert [m.kpi for m in closed] == [Kpi.CASE_DURATION]


def test_escalations_count_once_and_their_open_time() -> None:
    def raised(level: int) -> EscalationRaised:
        return EscalationRaised(
            escalation_id="e1", subject="review", subject_id="r1", level=level,
            notify="supervisor", team="north", reason="x",
        )  # fmt: skip

    measures = run(
        [
            (opened(), timedelta()),
            (raised(1), timedelta(days=1)),
            (raised(2), timedelta(days=2)),
            (EscalationResolved(escalation_id="e1", resolution="done"), timedelta(days=4)),
            (EscalationResolved(escalation_id="e1", resolution="again"), timedelta(days=5)),
        ]
    )
    assert [(m.kpi, m.subject, m.value) for m in measures] == [
        (Kpi.ESCALATION_RAISED, "review", 1),
        (Kpi.ESCALATION_OPEN_TIME, "review", 3 * 86400),
    ]


def test_referral_acceptance_and_completion_by_provider_and_service() -> None:
    def made(rid: str) -> ReferralMade:
        return ReferralMade(referral_id=rid, provider_id="shelter", service_id="beds",
                            goal_id="g1")  # fmt: skip

    measures = run(
        [
            (opened(), timedelta()),
            (made("r1"), timedelta()),
            (made("r2"), timedelta()),
            (made("r3"), timedelta()),
            (ReferralAccepted(referral_id="r1"), timedelta(days=1)),
            (ReferralCompleted(referral_id="r1"), timedelta(days=9)),
            (ReferralDeclined(referral_id="r2", reason="full"), timedelta(days=1)),
            (ReferralAccepted(referral_id="r3"), timedelta(days=1)),
            (ReferralWithdrawn(referral_id="r3", provider_id="shelter", reason="moved"),
             timedelta(days=2)),
            (ReferralCompleted(referral_id="r3"), timedelta(days=3)),  # closed already
            (ReferralAccepted(referral_id="unknown"), timedelta(days=3)),
        ]
    )  # fmt: skip
    got = [(m.kpi, m.value) for m in measures]
    assert got == [
        (Kpi.REFERRAL_ACCEPTED, 1),
        (Kpi.REFERRAL_COMPLETED, 1),
        (Kpi.REFERRAL_ACCEPTED, 0),
        (Kpi.REFERRAL_COMPLETED, 0),
        (Kpi.REFERRAL_ACCEPTED, 1),
        (Kpi.REFERRAL_COMPLETED, 0),
    ]
    assert {m.subject for m in measures} == {"shelter/beds"}


def test_nothing_is_measured_before_the_opening_and_unrelated_events_keep_the_facts() -> None:
    facts, made = step(None, ActionCompleted(action_id="a1"), T0)
    assert facts is None and made == []
    facts, _ = step(None, opened(), T0)
    same, made = step(facts, CaseAssigned(worker="alice", team="north", reason="r"), T0)
    assert made == []
    assert facts is not None and same is not None and same.team == facts.team


measures_strategy = st.lists(
    st.builds(
        Measure,
        kpi=st.sampled_from(list(Kpi)),
        team=st.sampled_from(["north", "south"]),
        worker=st.sampled_from(["alice", "erin"]),
        day=st.dates(min_value=date(2025, 11, 1), max_value=date(2026, 4, 30)),
        subject=st.sampled_from(["", "housing", "shelter/beds"]),
        value=st.integers(min_value=0, max_value=10**7),
    ),
    max_size=60,
)


@given(measures_strategy)
def test_cells_sum_every_selected_measure_once(measures: list[Measure]) -> None:
    selection = Selection("2025-12", "2026-03", team="north")
    cells = aggregate(measures, selection)
    chosen = [m for m in measures if m.team == "north" and "2025-12" <= m.day.isoformat()[:7]
              <= "2026-03"]  # fmt: skip
    assert sum(c.count for c in cells) == len(chosen)
    assert sum(c.total for c in cells) == sum(m.value for m in chosen)
    assert [c.key() for c in cells] == sorted(c.key() for c in cells)
    assert len({c.key() for c in cells}) == len(cells)


def test_figures() -> None:
    assert figure(Unit.SECONDS, 2, 7200 * 2) == 2.0
    assert figure(Unit.RATE, 4, 3) == 0.75
    assert figure(Unit.COUNT, 5, 5) == 5.0
    assert figure(Unit.RATING, 0, 0) is None


def test_step_leaves_the_facts_it_was_given_as_they_were() -> None:
    facts, _ = step(None, opened(), T0)
    assert facts is not None
    before = facts.model_dump()
    made = ReferralMade(referral_id="r1", provider_id="p", service_id="s", goal_id="g1")
    after, _ = step(facts, made, T0)
    after, _ = step(after, ReferralDeclined(referral_id="r1", reason="full"), T0)
    assert facts.model_dump() == before
    assert after is not None and after.referrals_closed == ["r1"] and facts.referrals == {}


def test_totals_sum_each_kpi_over_every_cell() -> None:
    measures = [
        Measure(kpi=Kpi.GOAL_MET, team=t, worker="w", day=date(2026, m, 1), subject=s, value=v)
        for t, m, s, v in (("a", 1, "housing", 1), ("b", 2, "income", 0), ("a", 2, "income", 1))
    ]
    cells = aggregate(measures, Selection("2026-01", "2026-12"))
    assert len(cells) == 3
    assert totals(cells) == {Kpi.GOAL_MET: (3, 2)}
