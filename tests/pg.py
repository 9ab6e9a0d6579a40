"""Where the tests find PostgreSQL: DATABASE_URL, else 127.0.0.1:5432, else embedded.

Tests never stop or reconfigure a server they did not start; they create and drop
databases of their own on it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from infrastructure.embedded_postgres import EmbeddedPostgres, free_port, port_answers


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def server_dsn(scratch: Path) -> tuple[str, EmbeddedPostgres | None]:
    """A DSN for a server the tests may create databases on, and the server if we own it."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    if port_answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres", None
    server = EmbeddedPostgres(scratch / "embedded-pg", free_port())
    server.start()
    return server.dsn, server


async def create_database(server: str, template: str | None = None) -> str:
    name = f"casework_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return name


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def until_events_readable(pool: asyncpg.Pool, within: float = 120.0) -> None:
    """Wait until every committed event is readable to the log's readers (the notary, the
    projector): they read only below the oldest transaction still running in the whole
    cluster, which another test (or another suite) on the same server may hold back.
    Once it passes, it holds: later transactions have newer ids."""
    deadline = asyncio.get_running_loop().time() + within
    while await pool.fetchval(
        "SELECT count(*) FROM events WHERE transaction_id >= "
        "pg_snapshot_xmin(pg_current_snapshot())"
    ):
        assert asyncio.get_running_loop().time() < deadline, "events not readable"
        await asyncio.sleep(0.05)
