"""Connecting to PostgreSQL: pools, and applying every migration of the project."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from casework.settings import Settings
from events.migrate import Migration, event_store_migrations, load_migrations, migrate
from projections import projection_migrations

ACTIVITY_MIGRATIONS = Path(__file__).resolve().parent.parent / "activities" / "migrations"


def all_migrations() -> list[Migration]:
    """Every migration of the project, in the order they must run."""
    return (
        event_store_migrations()
        + load_migrations("activities", ACTIVITY_MIGRATIONS)
        + projection_migrations()
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool `reset` that sends nothing (asyncpg still rolls back an open transaction)."""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, stateless: bool = False
) -> asyncpg.Pool:
    """A pool; `stateless` for users that never leave session state (locks, LISTEN,
    SET) on a connection: releasing one then costs no reset round trip."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session if stateless else None,
    )
    assert pool is not None
    return pool


async def apply_migrations(dsn: str, migrations: Sequence[Migration] | None = None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, all_migrations() if migrations is None else migrations)
    finally:
        await conn.close()


EMBEDDED_DATABASE = "casework"


def database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the embedded server that `casework up` runs."""
    if settings.database_url:
        return settings.database_url
    return f"postgresql://postgres@127.0.0.1:{settings.embedded_pg_port}/{EMBEDDED_DATABASE}"


async def ensure_database(server_dsn: str, name: str) -> None:
    """Create database `name` on the server if it does not exist."""
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
