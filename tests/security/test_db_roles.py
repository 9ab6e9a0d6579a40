"""The database roles of events/migrations/0003_roles.sql hold only what they need.

Each test creates LOGIN roles of its own (unique names: roles are cluster-wide),
members of one group role, connects as them to this test's database, and drops
them at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from events.store import EventStore
from infrastructure.database import create_pool
from projections.catalog import all_projections
from tests.events.factories import contact_event

GROUPS = ("casework_engine", "casework_projector", "casework_reader")
CHECKPOINT_TABLES = ("projection_checkpoints", "projection_rebuilds")

LoginFor = Callable[[str], Awaitable[str]]


def _as_user(dsn: str, user: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{quote(user)}:{quote(password)}@{host}{port}"))


@pytest.fixture
async def login_as(database_url: str) -> AsyncIterator[LoginFor]:
    """`await login_as("casework_engine")` -> a DSN of a fresh login in that group."""
    created: list[str] = []
    admin = await asyncpg.connect(database_url)

    async def login(group: str) -> str:
        name = f"cw_test_{group.removeprefix('casework_')}_{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE {group}")
        created.append(name)
        return _as_user(database_url, name, password)

    try:
        yield login
    finally:
        for name in created:
            # Connections of the role are closed by the tests; end any left behind.
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name
            )
            await admin.execute(f"DROP ROLE IF EXISTS {name}")
        await admin.close()


@asynccontextmanager
async def connected(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _refused(conn: asyncpg.Connection, sql: str) -> str:
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as caught:
        await conn.execute(sql)
    return str(caught.value)


async def test_the_group_roles_exist_and_cannot_log_in(database_url: str) -> None:
    async with connected(database_url) as conn:
        rows = await conn.fetch(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])",
            list(GROUPS),
        )
    assert {r["rolname"]: r["rolcanlogin"] for r in rows} == dict.fromkeys(GROUPS, False)


async def test_the_engine_appends_and_reads_through_the_event_store(login_as: LoginFor) -> None:
    dsn = await login_as("casework_engine")
    pool = await create_pool(dsn, max_size=2)
    try:
        store = EventStore(pool)
        stream = f"case-{uuid.uuid4()}"
        await store.append(stream, 0, [contact_event(1)])
        # Version 2 makes the chain trigger read version 1 (SELECT on events).
        result = await store.append(stream, 1, [contact_event(2), contact_event(3)])
        assert result.last_version == 3
        assert [e.stream_version for e in await store.read_stream(stream)] == [1, 2, 3]
        assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream) == 3
    finally:
        await pool.close()


async def test_the_engine_cannot_change_or_erase_the_log(
    login_as: LoginFor, store: EventStore
) -> None:
    await store.append("case-existing", 0, [contact_event(1)])
    async with connected(await login_as("casework_engine")) as conn:
        for sql in (
            "UPDATE events SET event_type = 'Forged'",
            "DELETE FROM events",
            "TRUNCATE events",
        ):
            message = await _refused(conn, sql)
            # Refused by the grants, before the append-only trigger could run.
            assert "permission denied for table events" in message, (sql, message)
        await _refused(conn, "ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        await _refused(conn, "INSERT INTO case_summary (case_id) VALUES ('x')")
        await _refused(conn, "SELECT * FROM case_summary")
        await _refused(conn, "DELETE FROM notification_outbox")
        await _refused(conn, "SELECT * FROM schema_migrations")
        assert await conn.fetchval("SELECT count(*) FROM events") == 1


async def test_the_projector_reads_the_log_and_writes_only_read_models(
    login_as: LoginFor, store: EventStore
) -> None:
    await store.append("case-existing", 0, [contact_event(1)])
    async with connected(await login_as("casework_projector")) as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 1
        stream = f"case-{uuid.uuid4()}"
        message = await _refused(
            conn,
            f"""INSERT INTO events (stream_id, stream_version, event_id, event_type,
                    schema_version, data, metadata, occurred_at, hash)
                VALUES ('{stream}', 1, gen_random_uuid(), 'Forged', 1, '{{}}', '{{}}',
                        now(), '\\x00')""",
        )
        assert "permission denied for table events" in message
        for sql in ("UPDATE events SET event_type = 'x'", "DELETE FROM events", "TRUNCATE events"):
            await _refused(conn, sql)
        await _refused(conn, "SELECT * FROM notification_outbox")
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO projection_checkpoints (name) VALUES ('role-test') "
                "ON CONFLICT (name) DO UPDATE SET global_position = 1"
            )
            await conn.execute("DELETE FROM projection_checkpoints WHERE name = 'role-test'")


async def test_the_reader_reads_read_models_only(login_as: LoginFor) -> None:
    async with connected(await login_as("casework_reader")) as conn:
        assert await conn.fetchval("SELECT count(*) FROM case_summary") == 0
        await _refused(conn, "SELECT * FROM events")
        await _refused(conn, "SELECT * FROM notification_outbox")
        await _refused(conn, "DELETE FROM case_summary")


async def test_every_read_model_table_is_granted(database_url: str) -> None:
    """A new projection table without grants would fail the projector in production."""
    tables = {t for p in all_projections() for t in p.tables} | set(CHECKPOINT_TABLES)
    async with connected(database_url) as conn:
        for table in sorted(tables):
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                assert await conn.fetchval(
                    "SELECT has_table_privilege('casework_projector', $1, $2)", table, privilege
                ), f"casework_projector lacks {privilege} on {table}"
            if table != "projection_rebuilds":
                assert await conn.fetchval(
                    "SELECT has_table_privilege('casework_reader', $1, 'SELECT')", table
                ), f"casework_reader lacks SELECT on {table}"
        for role in ("casework_engine", "casework_reader"):
            for privilege in ("INSERT", "UPDATE", "DELETE"):
                granted = await conn.fetch(
                    "SELECT t FROM unnest($1::text[]) t WHERE has_table_privilege($2, t, $3)",
                    sorted(tables),
                    role,
                    privilege,
                )
                assert granted == [], f"{role} may {privilege} {[r['t'] for r in granted]}"
