"""Every query returns only what the acting role may see (projections/scope.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from cases.actors import Actor, Role
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    AssessmentRecorded,
    CaseClosed,
    CaseOnHold,
    CaseOpened,
    CaseResumed,
    ClientDetails,
    ClientParticipation,
    ClosureReason,
    ContactKind,
    ContactLogged,
    Domain,
    DomainRating,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    Goal,
    GoalEvaluation,
    GoalKind,
    GoalOutcome,
    GoalsEvaluated,
    GoalTerm,
    NextStep,
    PlanActivated,
    PlanDrafted,
    ReferralDispatched,
    ReferralMade,
    ReferralSource,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
    RiskLevel,
)
from projections import queries
from projections.catalog import projection_named
from projections.scope import AccessDenied, CaseNotVisible
from tests.projections.conftest import catch_up

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

WORKER_A1 = Actor(staff_id="worker-a1", role=Role.CASEWORKER, team="team-a")
WORKER_A2 = Actor(staff_id="worker-a2", role=Role.CASEWORKER, team="team-a")
SUPER_A = Actor(staff_id="super-a", role=Role.SUPERVISOR, team="team-a")
SUPER_B = Actor(staff_id="super-b", role=Role.SUPERVISOR, team="team-b")
TEAMLESS_SUPER = Actor(staff_id="super-x", role=Role.SUPERVISOR)
MANAGER = Actor(staff_id="boss", role=Role.MANAGER)
AUDITOR = Actor(staff_id="audit-1", role=Role.AUDITOR)
ADMIN = Actor(staff_id="admin-1", role=Role.ADMIN)

A, B, C = (uuid.UUID(int=n) for n in (0xA, 0xB, 0xC))


def _opened(case_id: uuid.UUID, worker: str, team: str) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        client_ref=f"ref-{case_id.int:x}",
        client=ClientDetails(name="Private Person"),
        referral_source=ReferralSource.SELF_REFERRAL,
        assigned_worker=worker,
        team=team,
        presenting_needs=["housing"],
    )


def _plan(version: int = 1) -> PlanDrafted:
    return PlanDrafted(
        plan_id="plan-1",
        plan_version=version,
        goals=[
            Goal(
                goal_id="goal-1",
                client_words="a home",
                domain=Domain.HOUSING,
                term=GoalTerm.SHORT,
                kind=GoalKind.LOGISTICAL,
                objective="tenancy signed",
                target_date=date(2026, 6, 1),
            )
        ],
        participation=ClientParticipation(participated=True, agreed=True),
    )


async def _append(
    store: EventStore, case_id: uuid.UUID, events: list[tuple[str, DomainEvent]]
) -> None:
    stream = f"case-{case_id}"
    version = await store.stream_version(stream)
    for i, (actor, event) in enumerate(events):
        role = "supervisor" if actor.startswith("super") else "caseworker"
        await store.append_domain(
            stream,
            version + i,
            [(uuid.uuid4(), event)],
            EventMetadata(actor_id=actor, actor_role=role),
            T0 + timedelta(hours=version + i),
        )


@pytest.fixture
async def seeded(store: EventStore, pool: asyncpg.Pool, database_url: str) -> asyncpg.Pool:
    await _append(
        store,
        A,
        [
            ("intake", _opened(A, "worker-a1", "team-a")),
            (
                "worker-a1",
                AssessmentRecorded(
                    assessment_id="as-1",
                    domains={Domain.HOUSING: DomainRating(rating=3)},
                    needs=[],
                    risk_level=RiskLevel.HIGH,
                    scoring_rules="v1",
                ),
            ),
            ("worker-a1", _plan()),
            (
                "worker-a1",
                ApprovalRequested(
                    approval_id="ap-1", kind=ApprovalKind.PLAN, plan_id="plan-1", plan_version=1
                ),
            ),
            (
                "worker-a1",
                ReferralMade(
                    referral_id="ref-1",
                    provider_id="provider-food",
                    service_id="s1",
                    goal_id="goal-1",
                ),
            ),
            ("casework", ReferralDispatched(referral_id="ref-1", channel="email", attempts=1)),
            (
                "worker-a1",
                ContactLogged(
                    contact_id="c1", kind=ContactKind.PHONE, contact_date=date(2026, 2, 20)
                ),
            ),
        ],
    )
    await _append(
        store,
        B,
        [
            ("intake", _opened(B, "worker-a2", "team-a")),
            (
                "super-a",
                ApprovalRequested(
                    approval_id="ap-1",
                    kind=ApprovalKind.CLOSURE,
                    closure_reason=ClosureReason.MOVED_AWAY,
                ),
            ),
        ],
    )
    await _append(
        store,
        C,
        [
            ("intake", _opened(C, "worker-b1", "team-b")),
            ("worker-b1", _plan()),
            (
                "worker-b1",
                ApprovalRequested(
                    approval_id="ap-1", kind=ApprovalKind.PLAN, plan_id="plan-1", plan_version=1
                ),
            ),
            ("super-b", ApprovalGranted(approval_id="ap-1", kind=ApprovalKind.PLAN)),
            ("casework", PlanActivated(plan_id="plan-1", plan_version=1)),
            (
                "worker-b1",
                ReferralMade(
                    referral_id="ref-1",
                    provider_id="provider-clinic",
                    service_id="s2",
                    goal_id="goal-1",
                ),
            ),
            (
                "worker-b1",
                GoalsEvaluated(
                    evaluation_id="ev-1",
                    evaluations=[
                        GoalEvaluation(goal_id="goal-1", outcome=GoalOutcome.MET, reason="done")
                    ],
                    next_step=NextStep.CONTINUE,
                ),
            ),
        ],
    )
    # Reviews and escalations come with issue 4: rows stand in for its events here.
    for case_id, due in ((A, date(2026, 2, 1)), (B, date(2026, 3, 5)), (C, date(2026, 2, 10))):
        await pool.execute(
            """INSERT INTO case_reviews (case_id, due_on, due_at, status, scheduled_at, updated_at)
               VALUES ($1, $2, $2::date::timestamp AT TIME ZONE 'UTC', 'scheduled', $3, $3)""",
            str(case_id),
            due,
            T0,
        )
        await pool.execute(
            """INSERT INTO case_escalations (case_id, escalation_id, level, reason, raised_at,
                   status) VALUES ($1, 'esc-1', 1, 'review lapsed', $2, 'open')""",
            str(case_id),
            T0,
        )
    await catch_up(database_url, store)
    await pool.execute(
        """UPDATE case_summary cs SET next_review_due = r.due_at
             FROM case_reviews r WHERE r.case_id = cs.case_id"""
    )
    return pool


def _cases(rows: Sequence[object]) -> set[str]:
    return {str(getattr(r, "case_id")) for r in rows}  # noqa: B009


async def test_case_summary_scoping(seeded: asyncpg.Pool) -> None:
    summary = await queries.case_summary(seeded, WORKER_A1, A)
    assert summary.risk_level == "high"
    assert summary.open_referrals == 1
    assert summary.plan_status == "awaiting_approval"
    assert summary.last_contact == date(2026, 2, 20)
    assert summary.client_ref == f"ref-{A.int:x}"
    for actor, case_id in ((WORKER_A1, B), (WORKER_A2, A), (SUPER_A, C), (SUPER_B, A)):
        with pytest.raises(CaseNotVisible):
            await queries.case_summary(seeded, actor, case_id)
    for actor in (SUPER_A, MANAGER, AUDITOR):
        assert (await queries.case_summary(seeded, actor, A)).worker == "worker-a1"
    assert (await queries.case_summary(seeded, MANAGER, C)).active_plan_version == 1
    with pytest.raises(AccessDenied):
        await queries.case_summary(seeded, ADMIN, A)
    with pytest.raises(CaseNotVisible):
        await queries.case_summary(seeded, TEAMLESS_SUPER, A)


async def test_caseload_scoping(seeded: asyncpg.Pool) -> None:
    mine = await queries.caseload(seeded, WORKER_A1, now=NOW)
    assert [(c.worker, c.open_cases) for c in mine] == [("worker-a1", 1)]
    assert mine[0].by_risk["high"] == 1
    assert mine[0].max_days_since_contact == 9
    assert mine[0].overdue_reviews == 1
    team = await queries.caseload(seeded, SUPER_A, now=NOW)
    assert [(c.team, c.worker) for c in team] == [("team-a", "worker-a1"), ("team-a", "worker-a2")]
    everyone = await queries.caseload(seeded, MANAGER, by="team", now=NOW)
    assert [(c.team, c.open_cases, c.workers) for c in everyone] == [
        ("team-a", 2, 2),
        ("team-b", 1, 1),
    ]
    assert await queries.caseload(seeded, SUPER_A, team="team-b", now=NOW) == []
    assert await queries.caseload(seeded, WORKER_A1, worker="worker-a2", now=NOW) == []
    assert len(await queries.caseload(seeded, AUDITOR, now=NOW)) == 3
    assert await queries.caseload(seeded, TEAMLESS_SUPER, now=NOW) == []
    with pytest.raises(AccessDenied):
        await queries.caseload(seeded, ADMIN)


async def test_pending_approvals_scoping(seeded: asyncpg.Pool) -> None:
    team_a = await queries.pending_approvals(seeded, SUPER_A, now=NOW)
    # oldest first: B's was requested at T0+1h, A's at T0+3h
    assert [(a.case_id, a.kind) for a in team_a] == [(str(B), "closure"), (str(A), "plan")]
    assert [a.can_decide for a in team_a] == [False, True]  # B's was requested by super-a
    assert team_a[0].team == "team-a" and team_a[0].waiting_hours > team_a[1].waiting_hours
    assert await queries.pending_approvals(seeded, SUPER_B, now=NOW) == []  # C's was granted
    assert _cases(await queries.pending_approvals(seeded, WORKER_A1, now=NOW)) == {str(A)}
    assert not any(a.can_decide for a in await queries.pending_approvals(seeded, MANAGER))
    assert len(await queries.pending_approvals(seeded, AUDITOR)) == 2
    with pytest.raises(AccessDenied):
        await queries.pending_approvals(seeded, ADMIN)


async def test_referrals_scoping(seeded: asyncpg.Pool) -> None:
    assert _cases(await queries.referrals(seeded, WORKER_A1, now=NOW)) == {str(A)}
    assert _cases(await queries.referrals(seeded, SUPER_B, now=NOW)) == {str(C)}
    everything = await queries.referrals(seeded, MANAGER, now=NOW)
    assert _cases(everything) == {str(A), str(C)}
    sent = next(r for r in everything if r.case_id == str(A))
    assert sent.status == "sent" and sent.waiting_hours is not None and sent.waiting_hours > 0
    counts = await queries.referral_counts(seeded, AUDITOR, now=NOW)
    assert [(c.provider_id, c.status, c.referrals) for c in counts] == [
        ("provider-clinic", "made", 1),
        ("provider-food", "sent", 1),
    ]
    assert await queries.referral_counts(seeded, WORKER_A2, now=NOW) == []
    with pytest.raises(AccessDenied):
        await queries.referrals(seeded, ADMIN)


async def test_reviews_and_escalations_scoping(seeded: asyncpg.Pool) -> None:
    overdue = await queries.reviews(seeded, MANAGER, overdue_only=True, now=NOW)
    assert [(r.case_id, r.days_overdue) for r in overdue] == [(str(A), 28), (str(C), 19)]
    due_soon = await queries.reviews(seeded, SUPER_A, within_days=7, now=NOW)
    assert [r.case_id for r in due_soon] == [str(A), str(B)]
    assert _cases(await queries.reviews(seeded, WORKER_A2, now=NOW)) == {str(B)}
    assert _cases(await queries.escalations(seeded, SUPER_B, now=NOW)) == {str(C)}
    assert len(await queries.escalations(seeded, AUDITOR, now=NOW)) == 3
    assert await queries.escalations(seeded, TEAMLESS_SUPER, now=NOW) == []
    with pytest.raises(AccessDenied):
        await queries.reviews(seeded, ADMIN)
    with pytest.raises(AccessDenied):
        await queries.escalations(seeded, ADMIN)


async def test_outcomes_scoping(seeded: asyncpg.Pool) -> None:
    everything = await queries.outcomes(seeded, MANAGER)
    assert everything["goals"] == [
        {"domain": "housing", "team": "team-b", "met": 1, "partly_met": 0, "not_met": 0}
    ]
    assert everything["plan_approval"]["approved"] == 1
    assert everything["plan_approval"]["avg_hours_to_approval"] == 1.0
    team_a = await queries.outcomes(seeded, SUPER_A)
    assert team_a["goals"] == [] and team_a["plan_approval"]["approved"] == 0
    later = await queries.outcomes(seeded, MANAGER, since=datetime(2026, 2, 1, tzinfo=UTC))
    assert later["goals"] == []
    with pytest.raises(AccessDenied):
        await queries.outcomes(seeded, ADMIN)


async def test_timeline_scoping(seeded: asyncpg.Pool, store: EventStore) -> None:
    entries = await queries.timeline(seeded, WORKER_A1, A)
    assert [e.stream_version for e in entries] == list(range(1, 8))
    assert entries[0].description == (
        f"Case opened for client ref-{A.int:x} (self referral), "
        "assigned to worker-a1 in team team-a"
    )
    assert entries[3].actor_id == "worker-a1" and entries[3].actor_role == "caseworker"
    assert all("Private Person" not in e.description for e in entries)
    with pytest.raises(CaseNotVisible):
        await queries.timeline(seeded, WORKER_A1, C)
    with pytest.raises(CaseNotVisible):
        await queries.timeline(seeded, SUPER_B, A)
    assert len(await queries.timeline(seeded, AUDITOR, C)) == 7
    with pytest.raises(AccessDenied):
        await queries.timeline(seeded, ADMIN, A)
    with pytest.raises(CaseNotVisible):
        await queries.timeline(seeded, MANAGER, uuid.uuid4())


async def test_closed_cases_leave_the_caseload(
    seeded: asyncpg.Pool, store: EventStore, database_url: str
) -> None:
    await _append(store, C, [("worker-b1", CaseClosed(reason=ClosureReason.GOALS_MET))])
    await catch_up(database_url, store)
    assert await queries.caseload(seeded, SUPER_B, now=NOW) == []
    outcome = await queries.outcomes(seeded, AUDITOR)
    assert outcome["closures"] == {"goals_met": 1}
    assert await queries.reviews(seeded, SUPER_B, now=NOW) == []


async def test_reviews_escalations_and_holds_from_their_events(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    due = datetime(2026, 2, 15, 9, 0, tzinfo=UTC)
    await _append(
        store,
        A,
        [
            ("intake", _opened(A, "worker-a1", "team-a")),
            ("casework", ReviewScheduled(due_at=due, reason=ReviewReason.OPENED, policy_version=1)),
            ("casework", ReviewDue(due_at=due, assigned_worker="worker-a1")),
            ("casework", ReviewLapsed(due_at=due, grace_ended_at=due + timedelta(days=7))),
            ("casework", _escalation(1)),
            ("casework", _escalation(2)),
            ("worker-a1", CaseOnHold(reason="in hospital", until=due + timedelta(days=30))),
        ],
    )
    await catch_up(database_url, store)
    summary = await queries.case_summary(pool, SUPER_A, A)
    assert summary.next_review_due == due
    assert summary.open_escalations == 1 and summary.on_hold
    [review] = await queries.reviews(pool, SUPER_A, overdue_only=True, now=NOW)
    assert (review.status, review.days_overdue, review.grace_until) == (
        "lapsed",
        14,
        date(2026, 2, 22),
    )
    [escalation] = await queries.escalations(pool, MANAGER, now=NOW)
    assert (escalation.level, escalation.escalated_to, escalation.subject) == (
        2,
        "manager",
        "review",
    )
    assert await queries.escalations(pool, SUPER_B, now=NOW) == []
    [caseload] = await queries.caseload(pool, WORKER_A1, now=NOW)
    assert caseload.overdue_reviews == 1
    await _append(
        store,
        A,
        [
            ("super-a", EscalationResolved(escalation_id="esc-1", resolution="review done")),
            ("worker-a1", CaseResumed(reason="home again")),
            ("worker-a1", CaseClosed(reason=ClosureReason.GOALS_MET)),
        ],
    )
    await catch_up(database_url, store)
    summary = await queries.case_summary(pool, SUPER_A, A)
    assert summary.open_escalations == 0 and not summary.on_hold
    assert summary.next_review_due is None
    assert await queries.escalations(pool, MANAGER, now=NOW) == []
    assert await queries.reviews(pool, MANAGER, now=NOW) == []
    lines = [e.description for e in await queries.timeline(pool, AUDITOR, A)]
    assert "Review scheduled for 2026-02-15 (opened)" in lines
    assert "Escalation esc-1 resolved" in lines


def _escalation(level: int) -> EscalationRaised:
    return EscalationRaised(
        escalation_id="esc-1",
        subject=EscalationSubject.REVIEW,
        subject_id="review-1",
        level=level,
        notify="supervisor" if level == 1 else "manager",
        team="team-a",
        reason="review lapsed",
    )


async def test_reviews_never_mix_two_read_models_at_different_positions(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """case_summary and reviews advance separately: a rescheduling one of them has not
    applied yet leaves the case out, rather than showing one's date with the other's row."""
    later = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    overdue = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
    await _append(
        store,
        A,
        [
            ("intake", _opened(A, "worker-a1", "team-a")),
            (
                "casework",
                ReviewScheduled(due_at=later, reason=ReviewReason.OPENED, policy_version=1),
            ),
        ],
    )
    await catch_up(database_url, store)
    assert await queries.reviews(pool, MANAGER, overdue_only=True, now=NOW) == []

    await _append(
        store,
        A,
        [
            (
                "casework",
                ReviewScheduled(due_at=overdue, reason=ReviewReason.RISK_CHANGED, policy_version=1),
            )
        ],
    )
    await catch_up(database_url, store, [projection_named("case_summary")])
    assert (await queries.case_summary(pool, MANAGER, A)).next_review_due == overdue
    # case_reviews still holds the June review: no row pairs it with February's selection
    assert await queries.reviews(pool, MANAGER, overdue_only=True, now=NOW) == []

    await catch_up(database_url, store)
    [review] = await queries.reviews(pool, MANAGER, overdue_only=True, now=NOW)
    assert (review.due_at, review.overdue, review.days_overdue) == (overdue, True, 9)
