"""The `service_directory` read model (tables `directory_providers`, `directory_services`):
filled from the resource directory's stream by HSDS imports and the admins' provider
commands, filtered for referring, published in pages, and the projected tables equal a
rebuild from the log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from directory import ResourceDirectory
from directory.hsds import import_package, synthetic_package
from events.directory_events import PROVIDER_STREAM, ProviderDeactivated
from events.envelope import EventMetadata
from events.store import EventStore
from projections import queries
from projections.catalog import projection_named
from projections.rebuild import rebuild
from tests.projections.conftest import catch_up, snapshot

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hsds"
BEDS = "5e7c0000-0000-4000-8000-000000000001"
TENANCY = "5e7c0000-0000-4000-8000-000000000002"
JOBS = "5e7c0000-0000-4000-8000-000000000003"
RIVERSIDE = "0b6a3c2e-1f1a-4e7e-9d0a-000000000002"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
METADATA = EventMetadata(actor_id="root", actor_role="admin")


async def _import(
    store: EventStore, directory: ResourceDirectory, data: bytes, at: datetime
) -> ResourceDirectory:
    """Plan `data` against `directory` and append its events at `at`, in chunks."""
    plan = import_package(
        data,
        directory,
        import_id=f"imp-{uuid.uuid4().hex[:8]}",
        channel_for=lambda p: f"https://casework.test/portal/providers/{p}/inbox",
        max_unpacked=10_000_000,
    )
    for start in range(0, len(plan.events), 7):
        chunk = plan.events[start : start + 7]
        await store.append_domain(
            PROVIDER_STREAM,
            directory.version,
            [(uuid.uuid4(), e) for e in chunk],
            metadata=METADATA,
            occurred_at=at,
        )
        directory = directory.fold(chunk)
    return directory


async def _history(store: EventStore) -> ResourceDirectory:
    """Two versions of the fixture's package, a synthetic one, a provider deactivated."""
    directory = await _import(
        store, ResourceDirectory(), (FIXTURES / "directory.json").read_bytes(), T0
    )
    directory = await _import(
        store, directory, (FIXTURES / "directory_v2.json").read_bytes(), T0 + timedelta(days=1)
    )
    directory = await _import(store, directory, synthetic_package(30), T0 + timedelta(days=2))
    deactivated = ProviderDeactivated(provider_id=RIVERSIDE, reason="closed")
    await store.append_domain(
        PROVIDER_STREAM,
        directory.version,
        [(uuid.uuid4(), deactivated)],
        metadata=METADATA,
        occurred_at=T0 + timedelta(days=3),
    )
    return directory.fold([deactivated])


async def test_the_services_read_model_filters_and_pages(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await _history(store)
    await catch_up(database_url, store, [projection_named("service_directory")])
    housing = {s.service_id for s in await queries.services(pool, need="housing")}
    assert BEDS in housing and JOBS not in housing
    spanish = await queries.services(pool, need="housing", language="es")
    assert BEDS in {s.service_id for s in spanish} and TENANCY not in {
        s.service_id for s in spanish
    }
    for found in spanish:
        assert "housing" in found.domains
        assert any(lang == "es" or lang.startswith("es-") for lang in found.languages)
    north = await queries.services(pool, area="n1")
    assert BEDS in {s.service_id for s in north}
    assert all("n1" in s.area_codes for s in north)
    # Riverside was deactivated: its job club is no longer offered.
    assert JOBS not in {s.service_id for s in await queries.services(pool)}
    # Emergency beds open 18:00-08:00 London time: open at 23:00 UTC on a Monday in March,
    # closed at noon.
    night = await queries.services(
        pool, open_at_time=T0.replace(hour=23), default_tz=ZoneInfo("UTC")
    )
    assert BEDS in {s.service_id for s in night}
    noon = await queries.services(
        pool, open_at_time=T0.replace(hour=12), default_tz=ZoneInfo("UTC")
    )
    assert BEDS not in {s.service_id for s in noon}
    total, first = await queries.published_services(pool, page=1, per_page=10)
    assert total >= 33 and len(first) == 10
    _, later = await queries.published_services(
        pool, page=1, per_page=100, modified_after=T0 + timedelta(hours=12)
    )
    changed = {s.service_id for s in later}
    assert {BEDS, TENANCY} <= changed  # changed, and withdrawn, by the second version
    assert JOBS not in changed  # unchanged since the first
    withdrawn = [s for s in later if s.service_id == TENANCY]
    assert [s.active for s in withdrawn] == [False]


async def test_projected_services_equal_a_rebuild(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await _history(store)
    projection = projection_named("service_directory")
    await catch_up(database_url, store, [projection])
    projected = await snapshot(pool, projection)
    assert len(projected["directory_services"]) >= 33  # not vacuous
    assert any(not row[-1] for row in projected["directory_providers"])  # one deactivated
    await rebuild(database_url, projection, batch_size=7, settle=30)
    assert await snapshot(pool, projection) == projected
