"""Every migration of the project, in the order it must run, and applying them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

from activities import activity_migrations
from application.identity.schema import identity_migrations
from events.migrate import Migration, event_store_migrations, load_migrations, migrate
from infrastructure.database import NOT_ANSWERING, database_not_answering
from projections import projection_migrations

API_MIGRATIONS = Path(__file__).parent / "api_migrations"
"""The HTTP API's own table (idempotency keys)."""

DOCUMENT_MIGRATIONS = Path(__file__).parent / "documents" / "migrations"
"""Documents' sealed bytes (application/documents/store.py)."""

CLIENT_MIGRATIONS = Path(__file__).parent / "clients" / "migrations"
"""The client index (application/clients/index.py)."""


def all_migrations() -> list[Migration]:
    """The event store's, then the activities' (outbox), the read models', and the
    identity tables (staff accounts' secrets), then the API's idempotency keys, the
    documents' sealed bytes and the client index."""
    return (
        event_store_migrations()
        + activity_migrations()
        + projection_migrations()
        + identity_migrations()
        + load_migrations("api", API_MIGRATIONS)
        + load_migrations("documents", DOCUMENT_MIGRATIONS)
        + load_migrations("clients", CLIENT_MIGRATIONS)
    )


async def apply_migrations(dsn: str, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply what is not applied yet (safe twice and from two processes at once).
    A server that does not answer raises ServerNotAnswering (infrastructure/environment.py)."""
    try:
        conn = await asyncpg.connect(dsn)
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc
    try:
        return await migrate(conn, all_migrations() if migrations is None else migrations)
    finally:
        await conn.close()
