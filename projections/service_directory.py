"""Read model `service_directory`: the resource directory's providers and services with
their HSDS profiles (tables `directory_providers` and `directory_services`, created by
projections/migrations/0009_service_directory.sql), for the HSDS publication and for
finding a service to refer to by need, language, area and opening hours.

The directory itself is a fold of its stream (directory/resources.py); this table is the
same fold kept in PostgreSQL so that lists page and filter in SQL. Nothing here is about
a client: every role may read it (`Query.DIRECTORIES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import asyncpg

from directory.hsds.schedule import open_at
from events.directory_events import (
    ProviderAdded,
    ProviderChanged,
    ProviderDeactivated,
    ProviderServiceAdded,
    ProviderServiceWithdrawn,
)
from events.envelope import RecordedEvent
from events.hsds_events import Schedule, ServiceProfileRecorded
from projections.base import Projection, handler_map, ignoring_the_rest, on

NAME = "service_directory"
TABLES = ("directory_providers", "directory_services")
MIGRATIONS = ("0009_service_directory.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


async def provider_added(
    conn: asyncpg.Connection, event: ProviderAdded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO directory_providers (provider_id, name) VALUES ($1, $2)
           ON CONFLICT (provider_id) DO UPDATE SET name = EXCLUDED.name""",
        event.provider_id,
        event.name,
    )


async def provider_changed(
    conn: asyncpg.Connection, event: ProviderChanged, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE directory_providers SET name = $2 WHERE provider_id = $1",
        event.provider_id,
        event.name,
    )


async def provider_deactivated(
    conn: asyncpg.Connection, event: ProviderDeactivated, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE directory_providers SET active = false WHERE provider_id = $1", event.provider_id
    )


async def service_added(
    conn: asyncpg.Connection, event: ProviderServiceAdded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO directory_services (provider_id, service_id, name, domains,
               modified_at, position)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (provider_id, service_id) DO NOTHING""",
        event.provider_id,
        event.service_id,
        event.name,
        [d.value for d in event.domains],
        envelope.occurred_at,
        envelope.global_position,
    )


async def service_withdrawn(
    conn: asyncpg.Connection, event: ProviderServiceWithdrawn, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE directory_services SET active = false, modified_at = $3, position = $4
            WHERE provider_id = $1 AND service_id = $2""",
        event.provider_id,
        event.service_id,
        envelope.occurred_at,
        envelope.global_position,
    )


async def profile_recorded(
    conn: asyncpg.Connection, event: ServiceProfileRecorded, envelope: RecordedEvent
) -> None:
    profile = event.profile
    codes = sorted(
        {a.name.lower() for a in profile.service_areas}
        | {c.lower() for a in profile.service_areas for c in a.codes}
    )
    await conn.execute(
        """UPDATE directory_services
              SET name = $3, domains = $4, languages = $5, area_codes = $6,
                  schedule = $7::jsonb, profile = $8::jsonb, modified_at = $9, position = $10
            WHERE provider_id = $1 AND service_id = $2""",
        event.provider_id,
        event.service_id,
        profile.name,
        [d.value for d in profile.domains],
        [lang.lower() for lang in profile.languages],
        codes,
        json.dumps([s.model_dump(mode="json") for s in profile.schedules]),
        profile.model_dump_json(),
        envelope.occurred_at,
        envelope.global_position,
    )


HANDLERS = handler_map(
    on(ProviderAdded, provider_added),
    on(ProviderChanged, provider_changed),
    on(ProviderDeactivated, provider_deactivated),
    on(ProviderServiceAdded, service_added),
    on(ProviderServiceWithdrawn, service_withdrawn),
    on(ServiceProfileRecorded, profile_recorded),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    # base.ignoring_the_rest adds every directory event type; this projection reads some.
    ignores=ignoring_the_rest(HANDLERS) - HANDLERS.keys(),
)


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryService:
    provider_id: str
    provider_name: str
    service_id: str
    name: str
    domains: list[str]
    languages: list[str]
    area_codes: list[str]
    active: bool
    modified_at: datetime
    profile: dict[str, Any] | None


def _row(r: asyncpg.Record) -> DirectoryService:
    return DirectoryService(
        provider_id=r["provider_id"],
        provider_name=r["provider_name"],
        service_id=r["service_id"],
        name=r["name"],
        domains=list(r["domains"]),
        languages=list(r["languages"]),
        area_codes=list(r["area_codes"]),
        active=r["active"],
        modified_at=r["modified_at"],
        profile=json.loads(r["profile"]) if r["profile"] is not None else None,
    )


_SELECT = """SELECT s.*, p.name AS provider_name
               FROM directory_services s JOIN directory_providers p USING (provider_id)"""


async def services(
    pool: asyncpg.Pool,
    *,
    need: str | None = None,
    language: str | None = None,
    area: str | None = None,
    open_at_time: datetime | None = None,
    default_tz: tzinfo | None = None,
) -> list[DirectoryService]:
    """Active services of active providers (for `need`, speaking `language`, serving
    `area`, open at `open_at_time`), by provider name then service name."""
    rows = await pool.fetch(
        _SELECT
        + """ WHERE s.active AND p.active
                AND ($1::text IS NULL OR $1 = ANY (s.domains))
                AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM unnest(s.languages) l
                                                  WHERE l = $2 OR l LIKE $2 || '-%'))
                AND ($3::text IS NULL OR $3 = ANY (s.area_codes))
              ORDER BY p.name, s.name, s.provider_id, s.service_id""",
        need,
        language.lower() if language else None,
        area.lower() if area else None,
    )
    found = [_row(r) for r in rows]
    if open_at_time is None:
        return found
    zone = default_tz or open_at_time.tzinfo
    assert zone is not None
    return [
        s
        for s in found
        if s.profile is not None
        and open_at(
            [Schedule.model_validate(x) for x in s.profile.get("schedules", [])],
            open_at_time,
            zone,
        )
    ]


async def published_services(
    pool: asyncpg.Pool, *, page: int, per_page: int, modified_after: datetime | None = None
) -> tuple[int, list[DirectoryService]]:
    """Services with an HSDS profile (withdrawn ones too: their status says so), by when
    they last changed: the total and one page (1-based)."""
    where = "WHERE s.profile IS NOT NULL AND ($1::timestamptz IS NULL OR s.modified_at > $1)"
    total = await pool.fetchval(
        "SELECT count(*) FROM directory_services s " + where, modified_after
    )
    rows = await pool.fetch(
        _SELECT + " " + where + " ORDER BY s.modified_at, s.provider_id, s.service_id"
        " LIMIT $2 OFFSET $3",
        modified_after,
        per_page,
        (page - 1) * per_page,
    )
    return int(total), [_row(r) for r in rows]
