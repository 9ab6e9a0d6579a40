"""Plain-SQL migrations, applied in order and recorded in `schema_migrations`.

Guarantees: each migration runs at most once, in its own transaction, in file-name
order within its source and in the order the sources are given. Running twice is a
no-op; two processes running at once serialise on an advisory lock, so the second
finds the work done. A migration whose file changed after it was applied is an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# pg_advisory_lock key: "casework" folded into a bigint.
MIGRATION_LOCK_KEY = 0x636173_65776F726B


@dataclass(frozen=True)
class Migration:
    source: str
    name: str
    sql: str

    @property
    def version(self) -> str:
        return f"{self.source}/{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """A migration changed after it was applied, or failed to apply."""


def load_migrations(source: str, directory: Path) -> list[Migration]:
    return [
        Migration(source=source, name=path.name, sql=path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.sql"))
    ]


EVENT_STORE_MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet applied; return the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    text PRIMARY KEY,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        for migration in migrations:
            recorded = done.get(migration.version)
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                        migration.version,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.version} failed: {exc}") from exc
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now


def event_store_migrations() -> list[Migration]:
    return load_migrations("events", EVENT_STORE_MIGRATIONS)
