"""The directories over the real event store: bootstrap, changes, races, resolve_actor."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cases.actors import Actor, Role
from directory import (
    PROVIDER_STREAM,
    STAFF_STREAM,
    NotFound,
    NotPermitted,
    Refused,
    add_provider,
    add_service,
    add_staff,
    add_team,
    bootstrap_admin,
    change_staff,
    deactivate_staff,
    load_resource_directory,
    load_staff_directory,
    resolve_actor,
)
from events.registry import EventValidationError
from events.store import EventStore

ADA = Actor(staff_id="ada", role=Role.ADMIN)


async def seeded(store: EventStore) -> None:
    await bootstrap_admin(store, "ada", "Ada Admin")
    await add_team(store, ADA, "north", "North team")
    await add_staff(store, ADA, "sam", "Sam", "supervisor", "north")
    await add_staff(store, ADA, "cal", "Cal", "caseworker", "north", "http://127.0.0.1:9/cal")


async def test_bootstrap_only_once(store: EventStore) -> None:
    admin = await bootstrap_admin(store, "ada", "Ada Admin")
    assert admin.role == "admin" and admin.active
    with pytest.raises(Refused, match="only allowed while the staff directory is empty"):
        await bootstrap_admin(store, "eve", "Eve Intruder")
    events = await store.read_stream(STAFF_STREAM)
    assert len(events) == 1
    assert events[0].metadata.actor_id == "ada" and events[0].metadata.actor_role == "admin"


async def test_concurrent_bootstraps_make_one_admin(pool: asyncpg.Pool) -> None:
    stores = [EventStore(pool) for _ in range(4)]
    results = await asyncio.gather(
        *(bootstrap_admin(s, f"admin-{i}", "A") for i, s in enumerate(stores)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Refused) for r in results if isinstance(r, BaseException))
    assert len((await load_staff_directory(stores[0])).admins()) == 1


async def test_bootstrap_with_invalid_id_writes_nothing(store: EventStore) -> None:
    with pytest.raises(EventValidationError, match="staff_id:"):
        await bootstrap_admin(store, "no spaces allowed", "X")
    assert await store.stream_version(STAFF_STREAM) == 0


async def test_changes_are_events_naming_the_admin(store: EventStore) -> None:
    await seeded(store)
    events = await store.read_stream(STAFF_STREAM)
    assert [e.event_type for e in events] == [
        "StaffMemberAdded",
        "TeamAdded",
        "StaffMemberAdded",
        "StaffMemberAdded",
    ]
    assert {e.metadata.actor_id for e in events} == {"ada"}
    directory = await load_staff_directory(store)
    assert directory.version == 4
    assert [m.staff_id for m in directory.members_of("north")] == ["sam", "cal"]


async def test_non_admin_refused_and_nothing_written(store: EventStore) -> None:
    await seeded(store)
    sam = await resolve_actor(store, "sam")
    with pytest.raises(NotPermitted, match="sam \\(supervisor\\) may not add a team"):
        await add_team(store, sam, "south", "South")
    with pytest.raises(NotPermitted):
        await add_provider(store, sam, "p", "P", "housing", "https://p.example")
    assert await store.stream_version(STAFF_STREAM) == 4
    assert await store.stream_version(PROVIDER_STREAM) == 0


async def test_unknown_team_and_duplicate_id_refused(store: EventStore) -> None:
    await seeded(store)
    with pytest.raises(Refused, match="team: no team 'south'"):
        await add_staff(store, ADA, "cam", "Cam", "caseworker", "south")
    with pytest.raises(Refused, match="staff_id: 'cal' is already"):
        await add_staff(store, ADA, "cal", "Cal 2", "caseworker", "north")
    assert await store.stream_version(STAFF_STREAM) == 4


async def test_invalid_webhook_refused_naming_the_field(store: EventStore) -> None:
    await seeded(store)
    with pytest.raises(EventValidationError, match="webhook_url:"):
        await add_staff(store, ADA, "cam", "Cam", "auditor", webhook_url="not-a-url")
    with pytest.raises(EventValidationError, match=r"channel\.webhook_url:"):
        await add_provider(store, ADA, "p", "P", "housing", "ftp://p.example/x")


async def test_resolve_actor(store: EventStore, pool: asyncpg.Pool) -> None:
    await seeded(store)
    assert await resolve_actor(pool, "cal") == Actor(
        staff_id="cal", role=Role.CASEWORKER, team="north"
    )
    await deactivate_staff(store, ADA, "cal", "left the agency")
    with pytest.raises(NotFound, match="'cal' is deactivated \\(left the agency\\)"):
        await resolve_actor(store, "cal")
    with pytest.raises(LookupError, match="'nobody'"):
        await resolve_actor(pool, "nobody")


async def test_cached_directory_sees_other_writers(pool: asyncpg.Pool) -> None:
    reader, writer = EventStore(pool), EventStore(pool)
    await seeded(writer)
    assert (await load_staff_directory(reader)).version == 4
    await change_staff(writer, ADA, "cal", role="supervisor")
    directory = await load_staff_directory(reader)
    assert directory.version == 5
    assert [m.staff_id for m in directory.supervisors_of("north")] == ["sam", "cal"]


async def test_concurrent_adds_all_land(pool: asyncpg.Pool) -> None:
    """Writers racing for the stream retry on the newer version; none is lost."""
    await seeded(EventStore(pool))
    await asyncio.gather(
        *(
            add_staff(EventStore(pool), ADA, f"cw-{i}", f"W{i}", "caseworker", "north")
            for i in range(4)
        )
    )
    directory = await load_staff_directory(EventStore(pool))
    assert directory.version == 8
    assert len(directory.members_of("north")) == 6


async def test_resource_directory_round_trip(store: EventStore) -> None:
    await seeded(store)
    await add_provider(
        store,
        ADA,
        "shelter-1",
        "Harbour Shelter",
        "housing",
        "https://shelter.example/r",
        email="intake@shelter.example",
        eligibility="adults over 18",
    )
    await add_service(store, ADA, "shelter-1", "beds", "Emergency beds", ["housing"])
    with pytest.raises(Refused, match="already has 'beds'"):
        await add_service(store, ADA, "shelter-1", "beds", "Beds", ["housing"])
    with pytest.raises(NotFound, match="no provider 'ghost'"):
        await add_service(store, ADA, "ghost", "x", "X", ["housing"])
    directory = await load_resource_directory(EventStore(store.pool))
    assert directory.provider("shelter-1").channel.email == "intake@shelter.example"
    assert directory.service("shelter-1", "beds").name == "Emergency beds"
    events = await store.read_stream(PROVIDER_STREAM)
    assert [e.metadata.actor_id for e in events] == ["ada", "ada"]
