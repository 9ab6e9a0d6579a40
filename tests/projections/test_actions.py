"""The `plan_actions` read model: my actions due this week, overdue actions by team, a
case's actions by goal; a rebuild from the log gives the same table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from cases.actors import Actor, Role
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
    CaseClosed,
    CaseOpened,
    ClientDetails,
    ClosureReason,
    ReferralSource,
)
from projections import queries
from projections.catalog import projection_named
from projections.rebuild import rebuild
from projections.scope import AccessDenied
from tests.projections.conftest import catch_up, snapshot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)

ANNA = Actor(staff_id="anna", role=Role.CASEWORKER, team="north")
BEN = Actor(staff_id="ben", role=Role.CASEWORKER, team="north")
CARA = Actor(staff_id="cara", role=Role.CASEWORKER, team="south")
SUPER_NORTH = Actor(staff_id="super-north", role=Role.SUPERVISOR, team="north")
BOSS = Actor(staff_id="boss", role=Role.MANAGER)

NORTH, SOUTH, CLOSED = (uuid.UUID(int=n) for n in range(1, 4))
CLIENT = ActionOwner(kind=ActionOwnerKind.CLIENT)
BEN_OWNS = ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="ben")


def _opened(case_id: uuid.UUID, worker: str, team: str) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        client_ref=f"ref-{case_id.int}",
        client=ClientDetails(name="Private Person"),
        referral_source=ReferralSource.SELF_REFERRAL,
        assigned_worker=worker,
        team=team,
        presenting_needs=["housing"],
    )


def _add(n: int, due: timedelta, owner: ActionOwner = CLIENT, crisis: bool = False) -> ActionAdded:
    return ActionAdded(
        action_id=f"action-{n}",
        goal_id="housing",
        description="Bring the tenancy papers",
        owner=owner,
        due_at=T0 + due,
        crisis_plan=crisis,
    )


async def _append(store: EventStore, case_id: uuid.UUID, events: list[DomainEvent]) -> None:
    stream = f"case-{case_id}"
    for event in events:
        version = await store.stream_version(stream)
        await store.append_domain(
            stream,
            version,
            [(uuid.uuid4(), event)],
            EventMetadata(actor_id="anna", actor_role="caseworker"),
            T0 + timedelta(minutes=version),
        )


@pytest.fixture
async def seeded(store: EventStore, database_url: str) -> None:
    await _append(
        store,
        NORTH,
        [
            _opened(NORTH, "anna", "north"),
            _add(1, 3 * DAY),  # anna's, due this week
            _add(2, 20 * DAY),  # anna's, later
            _add(3, 2 * DAY, BEN_OWNS),  # ben owns it
            _add(4, -DAY, crisis=True),
            ActionReminderDue(action_id="action-4", due_at=T0 - DAY, worker="anna"),
            ActionOverdue(action_id="action-4", due_at=T0 - DAY, worker="anna"),
            _add(5, -2 * DAY),
            ActionOverdue(action_id="action-5", due_at=T0 - 2 * DAY, worker="anna"),
            ActionCompleted(action_id="action-5", late=True),
            _add(6, DAY),
            ActionDropped(action_id="action-6", reason="no longer needed"),
            _add(7, -DAY),
            ActionOverdue(action_id="action-7", due_at=T0 - DAY, worker="anna"),
            ActionReassigned(
                action_id="action-7", owner=CLIENT, due_at=T0 + 5 * DAY, reason="new date"
            ),
        ],
    )
    await _append(
        store,
        SOUTH,
        [
            _opened(SOUTH, "cara", "south"),
            _add(1, -3 * DAY),
            ActionOverdue(action_id="action-1", due_at=T0 - 3 * DAY, worker="cara"),
        ],
    )
    await _append(
        store,
        CLOSED,
        [
            _opened(CLOSED, "anna", "north"),
            _add(1, -3 * DAY),
            ActionOverdue(action_id="action-1", due_at=T0 - 3 * DAY, worker="anna"),
            CaseClosed(reason=ClosureReason.MOVED_AWAY),
        ],
    )
    await catch_up(database_url, store)


def _ids(rows: list[queries.ActionRow]) -> list[tuple[int, str]]:
    return [(uuid.UUID(r.case_id).int, r.action_id) for r in rows]


@pytest.mark.usefixtures("seeded")
async def test_my_actions_due_this_week_overdue_first(pool: asyncpg.Pool) -> None:
    mine = await queries.my_actions(pool, ANNA, now=T0)
    assert _ids(mine) == [(1, "action-4"), (1, "action-1"), (1, "action-7")]
    assert mine[0].status == "overdue" and mine[0].crisis_plan and mine[0].reminded_at
    assert mine[2].status == "open" and mine[2].overdue_at is None  # a new due date
    # ben owns an action on anna's case: his, though the case is not his caseload
    assert _ids(await queries.my_actions(pool, BEN, now=T0)) == [(1, "action-3")]
    assert _ids(await queries.my_actions(pool, ANNA, now=T0, within=30 * DAY))[-1] == (
        1,
        "action-2",
    )
    with pytest.raises(AccessDenied):
        await queries.my_actions(pool, Actor(staff_id="root", role=Role.ADMIN), now=T0)


@pytest.mark.usefixtures("seeded")
async def test_overdue_actions_by_team(pool: asyncpg.Pool) -> None:
    assert _ids(await queries.overdue_actions(pool, SUPER_NORTH)) == [(1, "action-4")]
    assert _ids(await queries.overdue_actions(pool, BOSS)) == [(2, "action-1"), (1, "action-4")]
    assert _ids(await queries.overdue_actions(pool, BOSS, team="south")) == [(2, "action-1")]
    assert _ids(await queries.overdue_actions(pool, CARA)) == [(2, "action-1")]
    by_team = await queries.overdue_actions_by_team(pool, BOSS)
    assert [(t.team, t.overdue, t.critical) for t in by_team] == [
        ("north", 1, 1),
        ("south", 1, 0),
    ]
    assert [t.team for t in await queries.overdue_actions_by_team(pool, SUPER_NORTH)] == ["north"]
    rows = await queries.goal_actions(pool, ANNA, str(NORTH))
    assert {r.action_id: r.status for r in rows} == {
        "action-1": "open",
        "action-2": "open",
        "action-3": "open",
        "action-4": "overdue",
        "action-5": "done",
        "action-6": "dropped",
        "action-7": "open",
    }
    assert next(r for r in rows if r.action_id == "action-5").late
    assert await queries.goal_actions(pool, CARA, str(NORTH)) == []


@pytest.mark.usefixtures("seeded")
async def test_projected_actions_equal_a_rebuild(pool: asyncpg.Pool, database_url: str) -> None:
    projection = projection_named("plan_actions")
    projected = await snapshot(pool, projection)
    assert len(projected["plan_actions"]) == 9
    await rebuild(database_url, projection, batch_size=3, settle=30)
    assert await snapshot(pool, projection) == projected
