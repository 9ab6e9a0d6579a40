"""Connecting to PostgreSQL: the database URL, pools, creating a database."""

from __future__ import annotations

import contextlib

import asyncpg

from infrastructure.settings import Settings


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
