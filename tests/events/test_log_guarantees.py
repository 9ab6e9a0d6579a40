"""What the database itself guarantees: append-only, hash chain, NOTIFY, verify."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from events.chain import verify_chains
from events.store import NOTIFY_CHANNEL, EventStore
from tests.events.factories import contact_event


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET event_type = 'Forged'",
        "DELETE FROM events",
        "TRUNCATE events",
    ],
)
async def test_the_log_refuses_change(
    store: EventStore, pool: asyncpg.Pool, statement: str
) -> None:
    await store.append("case-a", 0, [contact_event(1)])
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute(statement)
    assert await pool.fetchval("SELECT count(*) FROM events") == 1


async def test_append_notifies_listeners(store: EventStore, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(NOTIFY_CHANNEL, lambda *args: received.put_nowait(args[2]))
    try:
        await store.append("case-a", 0, [contact_event(1)])
        assert await asyncio.wait_for(received.get(), timeout=5) == NOTIFY_CHANNEL
    finally:
        await conn.close()


async def test_verify_passes_on_an_untouched_log(store: EventStore, pool: asyncpg.Pool) -> None:
    for stream in ("case-a", "case-b"):
        await store.append(stream, 0, [contact_event(i) for i in range(5)])
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert report.ok and report.streams == 2 and report.events == 10


async def tamper(pool: asyncpg.Pool, sql: str) -> None:
    """What a superuser could do behind the engine's back."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")


async def test_verify_names_the_first_altered_event(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append("case-a", 0, [contact_event(i) for i in range(5)])
    await store.append("case-b", 0, [contact_event(i) for i in range(3)])
    target = (await store.read_stream("case-a"))[2]
    await tamper(
        pool,
        f"""UPDATE events SET data = jsonb_set(data, '{{notes}}', '"rewritten"')
            WHERE event_id = '{target.event_id}'""",
    )
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert not report.ok
    assert len(report.findings) == 1
    finding = report.findings[0]
    assert (finding.stream_id, finding.stream_version) == ("case-a", 3)
    assert finding.event_id == target.event_id
    assert "altered" in finding.problem


async def test_verify_finds_a_deleted_event(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append("case-a", 0, [contact_event(i) for i in range(4)])
    await tamper(pool, "DELETE FROM events WHERE stream_id = 'case-a' AND stream_version = 2")
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert [(f.stream_version, f.problem) for f in report.findings] == [
        (3, "version gap: expected v2")
    ]


async def test_verify_finds_a_recomputed_hash_with_a_broken_link(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """Rewriting an event and its own hash still breaks the next event's link."""
    await store.append("case-a", 0, [contact_event(i) for i in range(3)])
    await tamper(
        pool,
        """UPDATE events SET data = jsonb_set(data, '{notes}', '"forged"') WHERE stream_version = 2;
           UPDATE events SET hash = casework_event_hash(previous_hash, stream_id, stream_version,
               event_id, event_type, schema_version, occurred_at, data, metadata)
            WHERE stream_version = 2""",
    )
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert [(f.stream_version, f.problem) for f in report.findings] == [
        (3, "previous_hash does not match the preceding event")
    ]


async def test_verify_command_exits_1_naming_the_tampered_event(
    pool: asyncpg.Pool, database_url: str
) -> None:
    import json
    import os
    import subprocess
    import sys

    from events.keys import MasterKeyring
    from events.origin import OriginKeyring
    from tests.conftest import ROOT

    # Appended as the engine appends: every event with its origin proof.
    origin = OriginKeyring.generate("test-origin")
    store = EventStore(pool, origin=origin)
    await store.append("case-a", 0, [contact_event(i) for i in range(3)])
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CASEWORK_LOG_LEVEL": "ERROR",
        "CASEWORK_ORIGIN_KEYS": origin.to_spec(),
        "CASEWORK_MASTER_KEYS": MasterKeyring.generate("test-master").to_spec(),
    }
    args = [sys.executable, "-m", "starter", "verify", "--chains-only", "--json"]
    clean = await asyncio.to_thread(
        subprocess.run, args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert clean.returncode == 0, clean.stderr
    target = (await store.read_stream("case-a"))[1]
    await tamper(
        pool,
        f"""UPDATE events SET metadata = jsonb_set(metadata, '{{actor_id}}', '"mallory"')
            WHERE event_id = '{target.event_id}'""",
    )
    broken = await asyncio.to_thread(
        subprocess.run, args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1
    report = json.loads(broken.stdout.strip().splitlines()[-1])
    [finding] = report["chain_findings"]
    assert finding["event_id"] == str(target.event_id) and finding["stream_version"] == 2
