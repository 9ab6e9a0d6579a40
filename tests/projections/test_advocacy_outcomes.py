"""The outcomes read model's advocacy and feedback tables (issue 16): systemic barriers by
team and outcome, and which providers the agency's clients rate poorly."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyConcluded,
    AdvocacyOpened,
    AdvocacyOutcome,
    AdvocacyStepRecorded,
    CaseAssigned,
    CaseOpened,
    ClientDetails,
    ClientFeedbackRecorded,
    ConsentGiver,
    FeedbackSubject,
    ReferralSource,
)
from projections import queries
from projections.catalog import projection_named
from projections.scope import AccessDenied
from tests.projections.conftest import catch_up, snapshot
from tests.projections.test_queries import ADMIN, MANAGER, SUPER_A, SUPER_B

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
A, B = uuid.UUID(int=0xAD1), uuid.UUID(int=0xAD2)


def _opened(case_id: uuid.UUID, team: str) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        client_ref=f"ref-{case_id.int:x}",
        client=ClientDetails(name="Private Person"),
        referral_source=ReferralSource.SELF_REFERRAL,
        assigned_worker=f"worker-{team}",
        team=team,
        presenting_needs=["benefits"],
    )


def _advocacy(n: int, barrier: AdvocacyBarrier, org: str = "Benefits Office") -> AdvocacyOpened:
    return AdvocacyOpened(
        advocacy_id=f"advocacy-{n}",
        barrier=barrier,
        organisation=org,
        action=AdvocacyAction.REQUEST,
        consent_by=ConsentGiver.CLIENT,
        details="Private details",
        next_step="reply",
        next_step_date=date(2026, 2, 1),
    )


def _feedback(n: int, provider: str, service: str, rating: int) -> ClientFeedbackRecorded:
    return ClientFeedbackRecorded(
        feedback_id=f"feedback-{n}",
        subject=FeedbackSubject.SERVICE,
        provider_id=provider,
        service_id=service,
        rating=rating,
        words="Private words",
    )


async def _append(store: EventStore, case_id: uuid.UUID, events: list[DomainEvent]) -> None:
    stream = f"case-{case_id}"
    version = await store.stream_version(stream)
    for i, event in enumerate(events):
        await store.append_domain(
            stream,
            version + i,
            [(uuid.uuid4(), event)],
            EventMetadata(actor_id="worker", actor_role="caseworker"),
            T0 + timedelta(days=version + i),
        )


@pytest.fixture
async def seeded(store: EventStore, pool: asyncpg.Pool, database_url: str) -> asyncpg.Pool:
    await _append(
        store,
        A,
        [
            _opened(A, "team-a"),
            _advocacy(1, AdvocacyBarrier.BENEFIT_STOPPED),
            AdvocacyStepRecorded(
                advocacy_id="advocacy-1",
                step=2,
                action=AdvocacyAction.APPEAL,
                next_step="tribunal",
                next_step_date=date(2026, 3, 1),
            ),
            AdvocacyConcluded(advocacy_id="advocacy-1", outcome=AdvocacyOutcome.RESOLVED),
            _advocacy(2, AdvocacyBarrier.WAITING_LIST, "Housing Office"),
            ClientFeedbackRecorded(
                feedback_id="feedback-1",
                subject=FeedbackSubject.REFERRAL,
                referral_id="referral-1",
                provider_id="provider-food",
                service_id="s1",
                rating=1,
            ),
            ClientFeedbackRecorded(
                feedback_id="feedback-2",
                subject=FeedbackSubject.PLAN,
                plan_id="plan-1",
                plan_version=1,
                rating=2,
                agrees_with_plan=False,
            ),
        ],
    )
    await _append(
        store,
        B,
        [
            _opened(B, "team-b"),
            _advocacy(1, AdvocacyBarrier.BENEFIT_STOPPED),
            AdvocacyConcluded(advocacy_id="advocacy-1", outcome=AdvocacyOutcome.NOT_RESOLVED),
            _feedback(1, "provider-food", "s1", 3),
            _feedback(2, "provider-clinic", "s2", 5),
            # Moved to team a afterwards: what happened stays with team b.
            CaseAssigned(worker="worker-team-a", team="team-a", reason="moved"),
        ],
    )
    await catch_up(database_url, store)
    return pool


async def test_advocacy_by_barrier_and_outcome_per_team(seeded: asyncpg.Pool) -> None:
    report = await queries.outcomes(seeded, MANAGER)
    rows = {(r["barrier"], r["team"]): r for r in report["advocacy"]}
    assert set(rows) == {
        ("benefit_stopped", "team-a"),
        ("benefit_stopped", "team-b"),
        ("waiting_list", "team-a"),
    }
    won = rows["benefit_stopped", "team-a"]
    assert (won["opened"], won["resolved"], won["appealed"], won["won_on_appeal"]) == (1, 1, 1, 1)
    lost = rows["benefit_stopped", "team-b"]
    assert (lost["not_resolved"], lost["appealed"], lost["won_on_appeal"]) == (1, 0, 0)
    waiting = rows["waiting_list", "team-a"]
    assert (waiting["still_open"], waiting["resolved"]) == (1, 0)


async def test_feedback_by_provider_and_service_lowest_first(seeded: asyncpg.Pool) -> None:
    report = await queries.outcomes(seeded, MANAGER)
    assert report["feedback"] == [
        {
            "provider_id": "provider-food",
            "service_id": "s1",
            "ratings": 2,
            "avg_rating": 2.0,
            "poor": 1,
        },
        {
            "provider_id": "provider-clinic",
            "service_id": "s2",
            "ratings": 1,
            "avg_rating": 5.0,
            "poor": 0,
        },
    ]
    assert report["plan_feedback"] == {
        "ratings": 1,
        "avg_rating": 2.0,
        "agrees": 0,
        "disagrees": 1,
    }


async def test_scoped_and_bounded_in_time(seeded: asyncpg.Pool) -> None:
    team_b = await queries.outcomes(seeded, SUPER_B)
    assert team_b["advocacy"] == [] and team_b["feedback"] == []  # case B is team a's now
    team_a = await queries.outcomes(seeded, SUPER_A)
    assert {r["team"] for r in team_a["advocacy"]} == {"team-a", "team-b"}
    later = await queries.outcomes(seeded, MANAGER, since=T0 + timedelta(days=30))
    assert [(r["barrier"], r["still_open"]) for r in later["advocacy"]] == [("waiting_list", 1)]
    assert later["feedback"] == []
    with pytest.raises(AccessDenied):
        await queries.outcomes(seeded, ADMIN)


async def test_no_personal_data_in_the_tables_and_a_rebuild_matches(
    seeded: asyncpg.Pool, store: EventStore, database_url: str
) -> None:
    projection = projection_named("outcomes")
    before = await snapshot(seeded, projection)
    text = repr(before)
    assert "Private" not in text and "advocacy-2" in text
    for table in projection.tables:
        await seeded.execute(f"TRUNCATE {table}")
    await seeded.execute("DELETE FROM projection_checkpoints WHERE name = 'outcomes'")
    await catch_up(database_url, store, [projection])
    assert await snapshot(seeded, projection) == before
