"""The `transfers` read model: seen from the receiving side, answered and withdrawn
transfers leave the list, and the projected table equals a rebuild from the log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from cases.actors import Actor, Role
from devtools.simulation import RandomChooser, simulate_case
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    CaseClosed,
    CaseOpened,
    CaseReopened,
    ClientDetails,
    ClosureReason,
    ReferralSource,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)
from projections import queries
from projections.catalog import projection_named
from projections.rebuild import rebuild
from projections.scope import AccessDenied
from tests.projections.conftest import append_interleaved, catch_up, snapshot

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)

ANNA = Actor(staff_id="anna", role=Role.CASEWORKER, team="north")
BEN = Actor(staff_id="ben", role=Role.CASEWORKER, team="north")
CARA = Actor(staff_id="cara", role=Role.CASEWORKER, team="south")
SUPER_NORTH = Actor(staff_id="super-north", role=Role.SUPERVISOR, team="north")
SUPER_SOUTH = Actor(staff_id="super-south", role=Role.SUPERVISOR, team="south")
TEAMLESS = Actor(staff_id="drifter", role=Role.SUPERVISOR)
BOSS = Actor(staff_id="boss", role=Role.MANAGER)

NAMED, UNNAMED, ACCEPTED, REJECTED, CLOSED = (uuid.UUID(int=n) for n in range(1, 6))


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


def _to(team: str, worker: str | None, n: int = 1) -> TransferRequested:
    return TransferRequested(
        transfer_id=f"transfer-{n}", to_team=team, to_worker=worker, reason="client moved"
    )


async def _append(store: EventStore, case_id: uuid.UUID, events: list[DomainEvent]) -> None:
    stream = f"case-{case_id}"
    for event in events:
        version = await store.stream_version(stream)
        await store.append_domain(
            stream, version, [(uuid.uuid4(), event)],
            EventMetadata(actor_id="boss", actor_role="manager"),
            T0 + timedelta(hours=case_id.int, minutes=version),
        )  # fmt: skip


@pytest.fixture
async def seeded(store: EventStore, database_url: str) -> None:
    await _append(store, NAMED, [_opened(NAMED, "cara", "south"), _to("north", "anna")])
    await _append(store, UNNAMED, [_opened(UNNAMED, "cara", "south"), _to("north", None)])
    await _append(store, ACCEPTED, [
        _opened(ACCEPTED, "cara", "south"), _to("north", "ben"),
        TransferAccepted(transfer_id="transfer-1", worker="ben", team="north"),
    ])  # fmt: skip
    await _append(store, REJECTED, [
        _opened(REJECTED, "anna", "north"), _to("south", "cara"),
        TransferRejected(transfer_id="transfer-1", reason="no room"),
        _to("south", None, 2),  # asked again: the second one waits
    ])  # fmt: skip
    await _append(store, CLOSED, [
        _opened(CLOSED, "cara", "south"), _to("north", "anna"),
        CaseClosed(reason=ClosureReason.GOALS_MET),
        CaseReopened(reason="came back"),  # reopening does not revive the transfer
    ])  # fmt: skip
    await catch_up(database_url, store)


async def _waiting(pool: asyncpg.Pool, actor: Actor) -> set[tuple[uuid.UUID, str]]:
    rows = await queries.pending_transfers(pool, actor)
    return {(uuid.UUID(r.case_id), r.transfer_id) for r in rows}


@pytest.mark.usefixtures("seeded")
async def test_each_receiver_sees_what_waits_for_them(pool: asyncpg.Pool) -> None:
    named, unnamed = (NAMED, "transfer-1"), (UNNAMED, "transfer-1")
    again = (REJECTED, "transfer-2")
    assert await _waiting(pool, ANNA) == {named, unnamed}
    assert await _waiting(pool, BEN) == {unnamed}  # not anna's; his own was accepted
    assert await _waiting(pool, CARA) == {again}
    assert await _waiting(pool, SUPER_NORTH) == {named, unnamed}
    assert await _waiting(pool, SUPER_SOUTH) == {again}
    assert await _waiting(pool, TEAMLESS) == set()
    assert await _waiting(pool, BOSS) == {named, unnamed, again}
    for role in (Role.AUDITOR, Role.ADMIN, Role.OPERATOR, Role.SYSTEM):
        with pytest.raises(AccessDenied):
            await queries.pending_transfers(pool, Actor(staff_id="x", role=role))

    rows = await queries.pending_transfers(pool, BOSS)
    assert [uuid.UUID(r.case_id) for r in rows] == [NAMED, UNNAMED, REJECTED]  # oldest first
    first = rows[0]
    assert (first.from_team, first.from_worker, first.to_team, first.to_worker) == (
        "south", "cara", "north", "anna",
    )  # fmt: skip
    assert (first.client_ref, first.requested_by, first.reason) == (
        f"ref-{NAMED.int}", "boss", "client moved",
    )  # fmt: skip
    after = (first.requested_at, first.case_id, first.transfer_id)
    rest = await queries.pending_transfers(pool, BOSS, after=after, limit=1)
    assert [uuid.UUID(r.case_id) for r in rest] == [UNNAMED]

    statuses = dict(
        (tuple(r[:2]), r[2])
        for r in await pool.fetch("SELECT case_id, transfer_id, status FROM transfers")
    )
    assert statuses[(str(ACCEPTED), "transfer-1")] == "accepted"
    assert statuses[(str(REJECTED), "transfer-1")] == "rejected"
    assert statuses[(str(CLOSED), "transfer-1")] == "withdrawn"


async def test_projected_transfers_equal_a_rebuild(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(15)
    cases = [simulate_case(chooser, steps=40) for _ in range(30)]
    await append_interleaved(store, cases, chooser)
    await catch_up(database_url, store)
    projection = projection_named("transfers")
    projected = await snapshot(pool, projection)
    statuses = {row[2] for row in projected["transfers"]}
    assert {"pending", "accepted", "rejected"} <= statuses, statuses  # not vacuous
    await rebuild(database_url, projection, batch_size=7, settle=30)
    assert await snapshot(pool, projection) == projected
