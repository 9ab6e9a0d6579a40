"""Tamper evidence beyond the hash chain: the notary's Merkle tree and signed checkpoints.

Every attack here is made as the database superuser, who can switch the log's triggers
off and recompute every chain hash: `verify_chains` (today's verify) passes, and the
log no longer reproduces a checkpoint signed with a key the database never held.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from application.bootstrap import open_casework
from application.consistency import check_consistency
from application.forget import forget
from application.identity.accounts import invite
from application.notary import Notary, checkpoint_now, run_notary, trusted_keys
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from events.chain import verify_chains
from events.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointExists,
    DirectorySink,
    NotaryKey,
    SignedCheckpoint,
    TrustedKeys,
    check_chain,
    public_key_line,
)
from events.merkle import (
    LEAF_COLUMNS,
    leaf_hash,
    root_from_leaves,
    row_leaf_bytes,
    verify_consistency,
    verify_inclusion,
)
from events.notary import (
    MerkleTree,
    TreeReport,
    check_log_against_checkpoints,
    inclusion_proofs,
    stored_consistency_proof,
    stored_root,
)
from events.store import EventStore
from infrastructure.settings import Settings
from tests.events.factories import contact_event
from tests.events.test_personal_data import ADA, open_case, sealed, seed_staff
from tests.pg import until_events_readable

__all__ = ["sealed"]  # the fixture, imported for the erasure test

STREAMS = ("case-a", "case-b", "case-c")


@pytest.fixture
def key() -> NotaryKey:
    return NotaryKey.generate()


@pytest.fixture
def notary(database_url: str, key: NotaryKey, tmp_path: Path) -> Notary:
    return Notary(
        dsn=database_url,
        key=key,
        sink=DirectorySink(tmp_path / "checkpoints"),
        keys=TrustedKeys(),
        log_id="test-log",
        batch=7,  # several batches per round
    )


async def append_round(store: EventStore, n: int, start: int = 0) -> None:
    """n events to each stream, interleaved in the global order."""
    for i in range(start, start + n):
        for stream in STREAMS:
            await store.append(stream, await store.stream_version(stream), [contact_event(i)])


async def notarise(notary: Notary) -> SignedCheckpoint | None:
    """Extend the tree to the whole log, then checkpoint. An event is readable once no
    older transaction of the cluster is in progress (other databases' too): wait."""
    conn = await asyncpg.connect(notary.dsn)
    try:
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            await notary.extend(conn)
            if notary.tree.size >= await conn.fetchval("SELECT count(*) FROM events"):
                break
            assert asyncio.get_running_loop().time() < deadline, "the notary did not catch up"
            await asyncio.sleep(0.05)
        return await notary.checkpoint(conn)
    finally:
        await conn.close()


async def check(notary: Notary, database_url: str) -> TreeReport:
    conn = await asyncpg.connect(database_url)
    try:
        return await check_log_against_checkpoints(conn, list(notary.sink.all()), notary.keys)
    finally:
        await conn.close()


async def chains_ok(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return (await verify_chains(conn)).ok


async def log_leaves(pool: asyncpg.Pool) -> list[bytes]:
    rows = await pool.fetch(
        f"SELECT {LEAF_COLUMNS} FROM events ORDER BY transaction_id, global_position"
    )
    return [leaf_hash(row_leaf_bytes(r)) for r in rows]


async def as_superuser(pool: asyncpg.Pool, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Statements with the log's triggers off (what only the superuser can do)."""
    async with pool.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        await conn.execute("SET LOCAL session_replication_role = replica")
        for sql, args in statements:
            await conn.execute(sql, *args)


async def rechain(pool: asyncpg.Pool, stream_id: str) -> None:
    """Recompute a stream's chain as the trigger would have written it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        previous = None
        rows = await conn.fetch(
            "SELECT global_position FROM events WHERE stream_id = $1 ORDER BY stream_version",
            stream_id,
        )
        for r in rows:
            previous = await conn.fetchval(
                """UPDATE events SET previous_hash = $2,
                       hash = casework_event_hash($2, stream_id, stream_version, event_id,
                           event_type, schema_version, occurred_at, data, metadata)
                    WHERE global_position = $1 RETURNING hash""",
                r["global_position"],
                previous,
            )


# --- the tree ----------------------------------------------------------------------


async def test_the_tree_equals_a_rebuild_and_proves_inclusion_and_consistency(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 5)
    first = await notarise(notary)
    assert first is not None and first.sequence == 1 and first.tree_size == 15
    await append_round(store, 6, start=5)
    second = await notarise(notary)
    assert second is not None and second.sequence == 2 and second.tree_size == 33
    assert await notarise(notary) is None  # nothing new: no checkpoint

    leaves = await log_leaves(pool)
    assert second.root_hash == root_from_leaves(leaves)
    async with pool.acquire() as conn:
        assert await stored_root(conn, 15) == first.root_hash == root_from_leaves(leaves[:15])
        proof = await stored_consistency_proof(conn, 15, 33)
        positions = [r["global_position"] for r in await conn.fetch(
            "SELECT global_position FROM events WHERE stream_id = 'case-b'")]  # fmt: skip
        proofs = await inclusion_proofs(conn, positions, 33)
    assert verify_consistency(15, 33, first.root_hash, second.root_hash, proof)
    assert second.consistency == tuple(proof) and second.previous_size == 15
    assert len(proofs) == len(positions) == 11
    for p in proofs.values():
        assert p.leaf_hash == leaves[p.leaf_index]
        assert verify_inclusion(p.leaf_hash, p.leaf_index, 33, p.path, second.root_hash)

    report = await check(notary, database_url)
    assert report.ok and report.checkpoints == report.checkpoints_reproduced == 2
    assert report.events == report.notarised == 33


async def test_the_notary_role_reads_the_log_and_writes_only_the_tree(
    pool: asyncpg.Pool,
) -> None:
    grants = {
        (r["table_name"], r["privilege_type"])
        for r in await pool.fetch(
            """SELECT table_name, privilege_type FROM information_schema.role_table_grants
                WHERE grantee = 'casework_notary'"""
        )
    }
    assert grants == {
        ("events", "SELECT"),
        ("merkle_leaves", "SELECT"),
        ("merkle_leaves", "INSERT"),
        ("merkle_nodes", "SELECT"),
        ("merkle_nodes", "INSERT"),
    }
    engine = await pool.fetch(
        """SELECT table_name FROM information_schema.role_table_grants
            WHERE grantee = 'casework_engine' AND table_name LIKE 'merkle%'"""
    )
    assert engine == []


# --- attacks as the superuser --------------------------------------------------------


async def test_a_rewritten_event_with_recomputed_chain_hashes_is_named(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 4)
    signed = await notarise(notary)
    assert signed is not None
    await append_round(store, 2, start=4)  # not yet notarised: not a finding
    target = await pool.fetchrow(
        "SELECT global_position, event_id FROM events WHERE stream_id = 'case-b' "
        "AND stream_version = 2"
    )
    await as_superuser(
        pool,
        (
            """UPDATE events SET data = jsonb_set(data, '{notes}', '"nothing happened"')
                WHERE global_position = $1""",
            (target["global_position"],),
        ),
    )
    assert not await chains_ok(pool)  # the chain alone finds a careless edit
    await rechain(pool, "case-b")
    assert await chains_ok(pool)  # today's verify passes

    report = await check(notary, database_url)
    assert not report.ok
    [finding] = report.findings
    assert finding.checkpoint == 1
    assert finding.global_position == target["global_position"]
    assert finding.event_id == target["event_id"]
    assert (finding.stream_id, finding.stream_version) == ("case-b", 2)
    assert "altered" in finding.problem and "checkpoint #1" in finding.problem


async def test_the_newest_events_of_one_stream_deleted_are_found(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 4)
    await notarise(notary)
    deleted = [
        r["global_position"]
        for r in await pool.fetch(
            "SELECT global_position FROM events "
            "WHERE stream_id = 'case-a' AND stream_version >= 3 ORDER BY stream_version"
        )
    ]
    await as_superuser(
        pool, ("DELETE FROM events WHERE stream_id = 'case-a' AND stream_version >= 3", ())
    )
    assert await chains_ok(pool)
    report = await check(notary, database_url)
    [finding] = report.findings
    assert finding.checkpoint == 1
    # named: the stream and versions the checkpoint covered and the log lost, not the
    # untouched event of case-b that now stands at the first deleted event's leaf
    assert (finding.stream_id, finding.stream_version) == ("case-a", 3)
    assert finding.global_position == deleted[0]
    assert [(m.stream_id, m.stream_version, m.global_position) for m in finding.missing] == [
        ("case-a", 3, deleted[0]),
        ("case-a", 4, deleted[1]),
    ]
    assert "missing from the log" in finding.problem
    assert f"case-a v3, v4 (global position(s) {deleted[0]}, {deleted[1]})" in finding.problem
    assert "the log now ends case-a at v2" in finding.problem
    assert "case-b" not in finding.problem and "case-c" not in finding.problem

    # Later events do not change the answer: the checkpoint's root is then recomputed
    # over other events, and the same two are named.
    await append_round(store, 2, start=4)
    await until_events_readable(pool)
    [again] = (await check(notary, database_url)).findings
    assert again.missing == finding.missing


async def test_a_rollback_of_the_whole_log_is_found(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 3)
    await notarise(notary)
    await append_round(store, 3, start=3)
    await notarise(notary)
    cut = await pool.fetchval("SELECT max(global_position) - 4 FROM events")
    await as_superuser(pool, ("DELETE FROM events WHERE global_position > $1", (cut,)))
    assert await chains_ok(pool)
    report = await check(notary, database_url)
    [finding] = report.findings
    assert finding.checkpoint == 2 and finding.global_position == cut + 1
    assert "missing from the log" in finding.problem and "rolled back" in finding.problem

    # The notary itself refuses to carry on from a tree behind its latest checkpoint
    # (its tables restored with the log).
    await as_superuser(
        pool,
        ("DELETE FROM merkle_leaves WHERE global_position > $1", (cut,)),
        ("DELETE FROM merkle_nodes", ()),
    )
    with pytest.raises(CheckpointError):
        await notarise(notary)
    # and verify, with no trustworthy leaves left to name the event, names the range
    report = await check(notary, database_url)
    [finding] = report.findings
    assert finding.checkpoint == 2 and "removed (the log is shorter)" in finding.problem


async def test_an_event_inserted_into_the_middle_of_the_global_order_is_found(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 4)
    await notarise(notary)
    # Global positions are consecutive, so the forged event takes the transaction id
    # of an old event (the global order is transaction id, then position).
    middle = await pool.fetchrow(
        "SELECT global_position, transaction_id::text AS tx FROM events "
        "WHERE stream_id = 'case-c' AND stream_version = 2"
    )
    await as_superuser(
        pool,
        (
            """INSERT INTO events (global_position, transaction_id, stream_id, stream_version,
                   event_id, event_type, schema_version, data, metadata, occurred_at,
                   previous_hash, hash)
               OVERRIDING SYSTEM VALUE
               SELECT global_position * 10000 + 1, $2::xid8, 'case-forged', 1, $3,
                      event_type, schema_version, data, metadata, occurred_at, NULL,
                      casework_event_hash(NULL, 'case-forged', 1, $3, event_type,
                          schema_version, occurred_at, data, metadata)
                 FROM events WHERE global_position = $1""",
            (middle["global_position"], int(middle["tx"]), uuid.uuid4()),
        ),
    )
    assert await chains_ok(pool)
    report = await check(notary, database_url)
    [finding] = report.findings
    assert finding.checkpoint == 1 and finding.stream_id == "case-forged"
    assert "removed or inserted" in finding.problem


async def test_when_the_notary_tables_are_doctored_too_the_checkpoint_still_names_the_range(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await append_round(store, 3)
    await notarise(notary)
    await as_superuser(
        pool,
        (
            "UPDATE events SET metadata = metadata || '{\"x\": 1}' WHERE global_position = "
            "(SELECT min(global_position) FROM events)",
            (),
        ),
        ("DELETE FROM merkle_leaves", ()),
    )
    await rechain(pool, "case-a")
    report = await check(notary, database_url)
    [finding] = report.findings
    assert finding.checkpoint == 1 and finding.leaf_index == 0
    assert "does not reproduce checkpoint #1" in finding.problem


# --- checkpoints -------------------------------------------------------------------


def signed_by(key: NotaryKey, **fields: object) -> SignedCheckpoint:
    base: dict[str, object] = dict(
        log_id="test-log",
        sequence=1,
        tree_size=3,
        root_hash=bytes(32),
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        key_id=key.key_id,
    )
    checkpoint = Checkpoint(**{**base, **fields})  # type: ignore[arg-type]
    return SignedCheckpoint(checkpoint, key.private.sign(checkpoint.signed_bytes()))


async def test_forged_checkpoints_are_refused(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str, tmp_path: Path
) -> None:
    await append_round(store, 3)
    good = await notarise(notary)
    assert good is not None
    keys = notary.keys
    impostor = NotaryKey.generate()

    # a wrong key: unknown key id, or a trusted key id over another key's signature
    wrong = signed_by(impostor, sequence=2, tree_size=9)
    _, problems = check_chain([good, wrong], keys)
    assert problems == [f"checkpoint #2: key id {impostor.key_id} is not a trusted key"]
    stolen_id = SignedCheckpoint(
        signed_by(impostor, key_id=notary.key.key_id).checkpoint,
        impostor.private.sign(b"x"),
    )
    _, problems = check_chain([stolen_id], keys)
    assert "does not verify" in problems[0]

    # an altered root: the signature no longer matches
    data = good.to_json()
    data["root_hash"] = "00" * 32
    _, problems = check_chain([SignedCheckpoint.from_json(data)], keys)
    assert "does not verify" in problems[0]

    # a tree that shrinks, properly signed (a stolen key): refused all the same
    await append_round(store, 1, start=3)
    second = await notarise(notary)
    assert second is not None
    shrunk = signed_by(notary.key, sequence=3, tree_size=good.tree_size - 1)
    _, problems = check_chain([good, second, shrunk], keys)
    assert "shrinks" in problems[0]

    # published into the sink (by whoever can write there), verify reports them and the
    # notary will not build on them
    forged_file = tmp_path / "checkpoints" / "000000" / "000000000003.json"
    forged_file.write_text(json.dumps(wrong.to_json() | {"sequence": 3}))
    report = await check(notary, database_url)
    assert [f.problem for f in report.findings] == [
        f"checkpoint refused: checkpoint #3: key id {impostor.key_id} is not a trusted key"
    ]
    assert report.checkpoints_reproduced == 2
    await append_round(store, 1, start=4)
    with pytest.raises(CheckpointError, match="not a trusted key"):
        await notarise(notary)

    # and the sink never overwrites or skips
    sink = DirectorySink(tmp_path / "other")
    sink.publish(good)
    with pytest.raises(CheckpointExists):
        sink.publish(good)
    with pytest.raises(CheckpointExists):
        sink.publish(signed_by(notary.key, sequence=5))


async def test_checkpoints_signed_by_a_rotated_key_still_verify(
    store: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str, tmp_path: Path
) -> None:
    old_key = notary.key
    await append_round(store, 2)
    await notarise(notary)
    new_key = NotaryKey.generate()
    trusted_file = tmp_path / "trusted.pub"
    trusted_file.write_text(
        f"# retired\n{public_key_line(old_key.public)}\n{public_key_line(new_key.public)}\n"
    )
    rotated = Notary(
        dsn=database_url,
        key=new_key,
        sink=notary.sink,
        keys=TrustedKeys.load(trusted_file),
        log_id="test-log",
    )
    await append_round(store, 2, start=2)
    second = await notarise(rotated)
    assert second is not None and second.checkpoint.key_id == new_key.key_id
    checkpoints = list(notary.sink.all())
    assert [c.checkpoint.key_id for c in checkpoints] == [old_key.key_id, new_key.key_id]

    conn = await asyncpg.connect(database_url)
    try:
        report = await check_log_against_checkpoints(
            conn, checkpoints, TrustedKeys.load(trusted_file)
        )
        assert report.ok and report.checkpoints_reproduced == 2
        # without the retired key, its checkpoint is refused, and the new one cannot be
        # linked to an untrusted predecessor
        without_old = TrustedKeys()
        without_old.add(new_key.public)
        refused = await check_log_against_checkpoints(conn, checkpoints, without_old)
        assert len(refused.findings) == 2 and "not a trusted key" in refused.findings[0].problem
    finally:
        await conn.close()
    with pytest.raises(CheckpointError, match="line 2"):
        TrustedKeys.parse(f"{public_key_line(old_key.public)}\n{new_key.key_id} AAAA\n")


async def test_checkpoints_stay_valid_after_a_client_is_forgotten(
    sealed: EventStore, pool: asyncpg.Pool, notary: Notary, database_url: str
) -> None:
    await seed_staff(sealed)
    await open_case(sealed)
    await open_case(sealed, client_ref="client-other")
    signed = await notarise(notary)
    assert signed is not None
    await forget(sealed, await resolve_actor(sealed, "ada"), "client-rqa", "erasure request")
    after = await notarise(notary)
    assert after is not None and after.tree_size > signed.tree_size
    report = await check(notary, database_url)
    assert report.ok and report.checkpoints_reproduced == 2


# --- the notary killed mid-batch ---------------------------------------------------

NOTARY_SCRIPT = """
import asyncio, sys
from pathlib import Path
from application.notary import Notary
from events.checkpoints import DirectorySink, NotaryKey, TrustedKeys

async def main():
    dsn, key_file, sink_dir, rounds = sys.argv[1:5]  # rounds: the log size
    notary = Notary(dsn=dsn, key=NotaryKey.load(Path(key_file)),
                    sink=DirectorySink(Path(sink_dir)), keys=TrustedKeys(), log_id="test-log",
                    batch=50)
    import asyncpg
    conn = await asyncpg.connect(dsn)
    total = int(rounds)
    while notary.tree.size < total:
        # a checkpoint every 50 events: many checkpoints, many batches
        if not await notary.tree.extend(conn, 50):
            await asyncio.sleep(0.05)  # older transactions of the cluster still running
            continue
        await notary.checkpoint(conn)
        print("SIZE", notary.tree.size, flush=True)

asyncio.run(main())
"""


async def test_the_notary_killed_mid_batch_skips_and_duplicates_nothing(
    pool: asyncpg.Pool, database_url: str, key: NotaryKey, tmp_path: Path
) -> None:
    await pool.execute(
        """INSERT INTO events (stream_id, stream_version, event_id, event_type,
               schema_version, data, metadata, occurred_at)
           SELECT 'bulk-' || (i % 7), i / 7 + 1, gen_random_uuid(), 'Bulk', 1,
                  jsonb_build_object('i', i), '{}', '2026-01-01'::timestamptz
             FROM generate_series(0, 2099) AS i ORDER BY i"""
    )
    key_file = tmp_path / "notary.key"
    key_file.write_bytes(key.to_pem())
    key_file.chmod(0o600)
    sink_dir = tmp_path / "sink"
    command = [sys.executable, "-c", NOTARY_SCRIPT, database_url, str(key_file), str(sink_dir)]
    env = {**os.environ, "CASEWORK_LOG_LEVEL": "WARNING"}

    first = await asyncio.create_subprocess_exec(
        *command, "2100", stdout=asyncio.subprocess.PIPE, env=env
    )
    try:
        assert first.stdout is not None
        while True:
            line = await asyncio.wait_for(first.stdout.readline(), timeout=120)
            if not line or (line.startswith(b"SIZE ") and int(line.split()[1]) >= 500):
                break
    finally:
        first.send_signal(signal.SIGKILL)  # between or in the middle of a batch
        await asyncio.wait_for(first.wait(), timeout=30)
    killed_at = await pool.fetchval("SELECT count(*) FROM merkle_leaves")
    assert 0 < killed_at < 2100

    second = await asyncio.create_subprocess_exec(
        *command, "2100", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    _, stderr = await asyncio.wait_for(second.communicate(), timeout=300)
    assert second.returncode == 0, stderr.decode()[-2000:]

    checkpoints = list(DirectorySink(sink_dir).all())
    assert [c.sequence for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    assert checkpoints[-1].tree_size == 2100
    sizes = [c.tree_size for c in checkpoints]
    assert sizes == sorted(set(sizes))  # no checkpoint twice
    trusted = TrustedKeys()
    trusted.add(key.public)
    _, problems = check_chain(checkpoints, trusted)
    assert problems == []

    leaves = await log_leaves(pool)
    stored = [
        bytes(r["leaf_hash"])
        for r in await pool.fetch("SELECT leaf_hash FROM merkle_leaves ORDER BY leaf_index")
    ]
    assert stored == leaves
    async with pool.acquire() as conn:
        assert await stored_root(conn, 2100) == root_from_leaves(leaves)
        assert checkpoints[-1].root_hash == root_from_leaves(leaves)
        nodes = await conn.fetchval("SELECT count(*) FROM merkle_nodes")
        # one row per complete subtree of 16 leaves and more: 131 + 65 + 32 + 16 + 8 …
        assert nodes == sum(2100 >> level for level in range(4, 12))
        rebuilt = MerkleTree()
        await rebuilt.load(conn)
        assert rebuilt.size == 2100 and rebuilt.root() == root_from_leaves(leaves)


# --- casework verify ---------------------------------------------------------------


async def test_verify_checks_the_log_against_the_published_checkpoints(
    store: EventStore, pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        DATABASE_URL=database_url,
        CASEWORK_DATA_DIR=tmp_path / "data",
        CASEWORK_NOTARY_LOG_ID="verify-test",
    )
    await append_round(store, 3)
    await until_events_readable(pool)  # one checkpoint of all 9, however busy the server
    signed = await checkpoint_now(settings, database_url)
    assert signed is not None and signed.tree_size == 9
    # the development key was made once, 0600, its public key trusted
    key_file = tmp_path / "data" / "keys" / "notary.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "checkpoints" / "000000").is_dir()

    report = await check_consistency(
        database_url, store, None, read_models=False, settings=settings
    )
    assert report.ok and report.checkpoints is not None
    assert report.checkpoints.checkpoints_reproduced == 1

    target = await pool.fetchval(
        "SELECT global_position FROM events WHERE stream_id = 'case-c' AND stream_version = 3"
    )
    await as_superuser(
        pool,
        ("UPDATE events SET occurred_at = occurred_at - interval '1 day' "
         "WHERE global_position = $1", (target,)),
    )  # fmt: skip
    await rechain(pool, "case-c")
    report = await check_consistency(
        database_url, store, None, read_models=False, settings=settings
    )
    assert report.chains.ok  # the chain alone is fooled
    assert report.findings == [f"checkpoints: {report.checkpoints.findings[0]}"]  # type: ignore[union-attr]
    assert f"global position {target}" in report.findings[0]
    assert "checkpoint #1" in report.findings[0]


async def test_the_notary_service_publishes_at_its_interval_and_when_stopping(
    store: EventStore, database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        DATABASE_URL=database_url,
        CASEWORK_DATA_DIR=tmp_path / "data",
        CASEWORK_CHECKPOINT_INTERVAL="PT1S",
    )
    sink = DirectorySink(tmp_path / "data" / "checkpoints")
    shutdown = asyncio.Event()
    service = asyncio.create_task(
        run_notary(settings, dsn=database_url, shutdown=shutdown, poll=0.05)
    )
    try:
        await append_round(store, 2)
        deadline = asyncio.get_running_loop().time() + 120
        while (latest := sink.latest()) is None or latest.tree_size < 6:
            assert not service.done(), service
            assert asyncio.get_running_loop().time() < deadline, "no checkpoint of 6 events"
            await asyncio.sleep(0.05)
        await append_round(store, 1, start=2)
        # the last events are published when the service stops, interval or not
        await until_events_readable(store.pool)
    finally:
        shutdown.set()
        await asyncio.wait_for(service, 60)
    checkpoints = list(sink.all())
    assert checkpoints[-1].tree_size == 9
    assert [c.sequence for c in checkpoints] == list(range(1, len(checkpoints) + 1))
    assert trusted_keys(settings).keys.keys() == {checkpoints[0].checkpoint.key_id}
    _, problems = check_chain(checkpoints, trusted_keys(settings))
    assert problems == []


# --- the command line ----------------------------------------------------------------


async def casework(*args: str, env: dict[str, str]) -> tuple[int, dict[str, object]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from starter import main; main()",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, json.loads(stdout.decode().strip().splitlines()[-1])


async def test_casework_notary_keygen_and_checkpoint(
    store: EventStore, database_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "CASEWORK_LOG_LEVEL": "WARNING",
    }
    code, made = await casework("notary", "keygen", str(tmp_path / "new.key"), "--json", env=env)
    assert code == 0 and (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600
    key = NotaryKey.load(tmp_path / "new.key")
    assert made["key_id"] == key.key_id and made["public_key_line"] == public_key_line(key.public)
    code, refused = await casework("notary", "keygen", str(tmp_path / "new.key"), "--json", env=env)
    assert code != 0 and refused["ok"] is False  # never overwrites a key

    await append_round(store, 1)
    env["CASEWORK_NOTARY_KEY_FILE"] = str(tmp_path / "new.key")
    env["CASEWORK_NOTARY_PUBLIC_KEYS"] = str(tmp_path / "trusted.pub")
    (tmp_path / "trusted.pub").write_text(str(made["public_key_line"]) + "\n")
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        code, out = await casework("notary", "checkpoint", "--json", env=env)
        assert code == 0, out
        published = out["published"]
        if isinstance(published, dict) and published["tree_size"] == 3:
            break
        assert asyncio.get_running_loop().time() < deadline, out
        await asyncio.sleep(0.1)
    assert published["key_id"] == key.key_id
    code, again = await casework("notary", "checkpoint", "--json", env=env)
    assert (code, again) == (0, {"published": None})  # the log did not grow


async def test_casework_verify_names_the_stream_and_versions_a_superuser_deleted(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    """The staff directory's newest two events, covered by a signed checkpoint, deleted
    as the superuser: `casework verify` (run as an operator runs it) fails naming
    directory-staff and the two versions and positions the log lost, not the untouched
    account event that now stands at their leaves."""
    settings = Settings(
        DATABASE_URL=database_url,
        CASEWORK_DATA_DIR=tmp_path / "data",
        CASEWORK_NOTARY_LOG_ID="verify-cli-test",
    )
    async with open_casework(settings, dsn=database_url) as app:  # signs, as the engine
        await bootstrap_admin(app.store, "ada", "Ada Admin")
        await add_team(app.store, ADA, "north", "North team")
        await add_staff(app.store, ADA, "cal", "Cal", "caseworker", "north")
        await add_staff(app.store, ADA, "dee", "Dee", "supervisor", "north")
        # account-cal v1 (when it was made plays no part: a fixed time)
        await invite(app, ADA, "cal", now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        for n in range(2):
            await open_case(app.store, client_ref=f"client-{n}")
    staff = await pool.fetch(
        "SELECT stream_version, global_position FROM events "
        "WHERE stream_id = 'directory-staff' ORDER BY stream_version"
    )
    assert len(staff) >= 4
    *kept, (v1, p1), (v2, p2) = [(r["stream_version"], r["global_position"]) for r in staff]
    await until_events_readable(pool)
    signed = await checkpoint_now(settings, database_url)
    assert signed is not None
    assert signed.tree_size == await pool.fetchval("SELECT count(*) FROM events")

    env = {
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "CASEWORK_NOTARY_LOG_ID": "verify-cli-test",
        "CASEWORK_LOG_LEVEL": "WARNING",
    }
    code, out, err = await casework_cli("verify", "--chains-only", env=env)
    assert code == 0, (out, err)  # the log as the engine wrote it: nothing to report

    await as_superuser(
        pool,
        ("DELETE FROM events WHERE stream_id = 'directory-staff' AND stream_version >= $1",
         (v1,)),
    )  # fmt: skip
    assert await chains_ok(pool)  # deleting a stream's newest events breaks no chain

    code, out, err = await casework_cli("verify", "--chains-only", env=env)
    text = " ".join(out.split())  # as a person reads it, however the terminal wraps it
    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    assert "1 finding(s)" in text
    assert f"directory-staff v{v1}, v{v2} (global position(s) {p1}, {p2})" in text, text
    assert f"the log now ends directory-staff at v{kept[-1][0]}" in text, text
    assert "checkpoint #1" in text and "missing from the log" in text
    assert "account-" not in text and "case-" not in text  # no untouched event is blamed

    code, out, err = await casework_cli("verify", "--chains-only", "--json", env=env)
    assert code == 1, (out, err)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["chain_findings"] == [] and report["origins"]["findings"] == []
    [finding] = report["checkpoints"]["findings"]
    assert (finding["stream_id"], finding["stream_version"]) == ("directory-staff", v1)
    assert [(m["stream_id"], m["stream_version"], m["global_position"])
            for m in finding["missing"]] == [
        ("directory-staff", v1, p1),
        ("directory-staff", v2, p2),
    ]  # fmt: skip
    assert report["findings"] == [f"checkpoints: {finding['problem']}"]


CASEWORK = Path(sys.executable).with_name("casework")
"""The `casework` command this virtualenv installed (pyproject's [project.scripts])."""


async def casework_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`casework ARGS` as a person runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(CASEWORK),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
