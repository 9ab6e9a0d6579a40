"""`casework backup` / `casework restore` (docs/backup.md), run as an operator runs them:
the `casework` command in a subprocess, with a deployment's keys.

* a backup restored into a new database passes `casework verify` against the checkpoints
  published outside the database;
* an older backup restored after a later checkpoint is a ROLLBACK, which `casework
  restore` and `casework verify` both report, naming how many events are missing;
* a restore never goes into a database that holds anything; bad input is named and
  writes nothing;
* restored transaction ids at or beyond the server's are renumbered, order kept: the
  log reproduces its checkpoints, and new events follow it (the notary checkpoints them).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from application.bootstrap import open_casework
from application.notary import checkpoint_now
from infrastructure.settings import Settings
from tests.events.test_personal_data import append as append_events
from tests.events.test_personal_data import contact, opened
from tests.keys import deployment_keys
from tests.pg import create_database, drop_database, until_events_readable, with_database
from tests.test_environment import clean_environment

CASEWORK = Path(sys.executable).with_name("casework")
CASES = [uuid.UUID(int=n) for n in (1, 2, 3)]


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """One deployment: its keys, its checkpoint directory (outside the database)."""
    return {
        **clean_environment(),
        **deployment_keys(tmp_path / "keys"),
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "CASEWORK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "CASEWORK_NOTARY_LOG_ID": "backup-test",
        "CASEWORK_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
async def new_databases(pg_server: str) -> AsyncIterator[list[str]]:
    """Names of databases that do not exist yet (restore creates them); dropped after."""
    names: list[str] = []
    yield names
    for name in names:
        await drop_database(pg_server, name)


def new_database(pg_server: str, names: list[str]) -> str:
    name = f"casework_restore_{uuid.uuid4().hex[:12]}"
    names.append(name)
    return with_database(pg_server, name)


async def casework(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`casework ARGS` as a person runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(CASEWORK),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def last_json(out: str) -> dict[str, Any]:
    data = json.loads(out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


async def append(env: dict[str, str], rounds: int, start: int = 0) -> None:
    """`rounds` events to each of three cases (opened in round 0), signed and sealed with
    the deployment's keys."""
    settings = Settings(**env)  # type: ignore[arg-type]
    async with open_casework(settings, dsn=env["DATABASE_URL"]) as app:
        for i in range(start, start + rounds):
            for n, case_id in enumerate(CASES):
                event = opened(case_id, f"client-{n}") if i == 0 else contact(i)
                await append_events(app.store, f"case-{case_id}", event)
        await until_events_readable(app.pool)


async def checkpoint(env: dict[str, str], size: int) -> None:
    """What `casework notary checkpoint` does (tests/events/test_notary.py runs it), here
    in-process with the deployment's settings: one subprocess less."""
    signed = await checkpoint_now(Settings(**env), env["DATABASE_URL"])  # type: ignore[arg-type]
    assert signed is not None and signed.tree_size == size, signed


async def count_events(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def test_a_restore_keeps_the_proofs_and_an_older_backup_is_a_rollback(
    env: dict[str, str], pg_server: str, new_databases: list[str], tmp_path: Path
) -> None:
    await append(env, 3)
    await checkpoint(env, 9)
    older = tmp_path / "older.dump"
    code, out, err = await casework("backup", str(older), "--json", env=env)
    assert code == 0, (out, err)
    made = last_json(out)
    assert (made["events"], made["streams"], made["tree_size"]) == (9, 3, 9)
    assert made["latest_checkpoint"]["sequence"] == 1
    await append(env, 1, start=3)  # written after the older backup …
    await checkpoint(env, 12)  # … and proven by a checkpoint outside the database
    newer = tmp_path / "newer.dump"
    code, out, err = await casework("backup", str(newer), env=env)
    assert code == 0, (out, err)
    assert "backup written" in out and "12 events" in " ".join(out.split())

    # the newer backup into a new database: the proofs hold, `casework verify` passes
    restored = {**env, "DATABASE_URL": new_database(pg_server, new_databases)}
    code, out, err = await casework("restore", str(newer), "--json", env=restored)
    assert code == 0, (out, err)
    result = last_json(out)
    assert result["ok"] and result["created_database"] and result["rollback"] is None
    assert (result["events"], result["tree_size"]) == (12, 12)
    assert result["checkpoints"] == {
        "checkpoints": 2, "reproduced": 2, "notarised": 12, "not_yet_notarised": 0
    }  # fmt: skip
    code, out, err = await casework("verify", "--chains-only", "--json", env=restored)
    assert code == 0, (out, err)
    report = last_json(out)
    assert report["ok"] and report["events"] == 12
    assert report["origins"]["signed"] == 12 and report["checkpoints"]["reproduced"] == 2

    # the older backup: a ROLLBACK, from restore and from verify, naming what is missing
    rolled = {**env, "DATABASE_URL": new_database(pg_server, new_databases)}
    code, out, err = await casework("restore", str(older), "--json", env=rolled)
    assert code == 1, (out, err)
    result = last_json(out)
    rollback = result["rollback"]
    assert not result["ok"] and result["events"] == 9
    assert (rollback["log_events"], rollback["checkpoint"], rollback["missing_events"]) == (
        9, 2, 3
    )  # fmt: skip
    assert rollback["missing_leaves"] == [9, 11] and rollback["reproduced_checkpoint"] == 1
    line = " ".join(err.split())
    assert (
        "ROLLBACK: the restored log has 9 events" in line
        and "3 event(s) written after this backup are missing" in line
    )
    assert "Traceback" not in out + err
    code, out, err = await casework("verify", "--chains-only", env=rolled)
    text = " ".join(out.split())
    assert code == 1, (out, err)
    assert "the log has 9 events, checkpoint #2 signed 12" in text, text
    assert "missing" in text and "Traceback" not in out + err

    # never into a database that holds events: refused, naming the setting; nothing written
    code, out, err = await casework("restore", str(newer), "--json", env=env)
    assert code == 1, (out, err)
    error = last_json(out)["error"]
    assert error["field"] == "DATABASE_URL" and "already holds 12 events" in error["message"]
    assert await count_events(env["DATABASE_URL"]) == 12


async def test_bad_input_is_named_and_nothing_is_written(
    env: dict[str, str],
    pg_server: str,
    migrated_template: str,
    new_databases: list[str],
    tmp_path: Path,
) -> None:
    async def refused(*args: str, field: str, says: str, code: int = 1) -> None:
        got, out, err = await casework(*args, "--json", env=env)
        assert got == code, (out, err)
        error = last_json(out)["error"]
        assert error["field"] == field and says in error["message"], error
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err

    existing = tmp_path / "existing.dump"
    existing.write_text("keep me")
    await refused("backup", str(existing), field="file", says="never overwrites")
    assert existing.read_text() == "keep me"
    await refused("backup", str(tmp_path / "nowhere" / "b.dump"), field="file",
                  says="does not exist")  # fmt: skip
    assert not (tmp_path / "nowhere").exists()

    target = new_database(pg_server, new_databases)
    env["DATABASE_URL"] = target
    await refused("restore", str(tmp_path / "missing.dump"), field="file", says="does not exist")
    await refused("restore", str(existing), field="file", says="not a backup")
    await refused("restore", str(existing), "--pg-bin", str(tmp_path / "no-such-dir"),
                  field="--pg-bin", says="--pg-bin", code=3)  # fmt: skip
    conn = await asyncpg.connect(pg_server)
    try:  # a refused restore did not even create the database it named
        name = target.rsplit("/", 1)[-1]
        assert not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()

    # a database with no event yet, but `casework migrate` ran there: refused all the same
    name = await create_database(pg_server, template=migrated_template)
    new_databases.append(name)
    env["DATABASE_URL"] = with_database(pg_server, name)
    await refused("restore", str(existing), field="DATABASE_URL",
                  says="an event log (with no events)")  # fmt: skip


async def test_transaction_ids_beyond_the_servers_are_renumbered_in_order(
    env: dict[str, str], pg_server: str, new_databases: list[str], tmp_path: Path
) -> None:
    """A backup from a server ahead in transaction ids (another cluster, a fresh server to
    restore into): the restored global order, whose transaction ids here run opposite to
    the global positions (as concurrent writers commit out of order), is kept below the
    server's, so the log still reproduces its checkpoint and new events follow it."""
    await append(env, 3)
    source = env["DATABASE_URL"]
    conn = await asyncpg.connect(source)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(  # every event its own transaction, newest first in the order
            "UPDATE events SET transaction_id = (1000 - global_position)::text::xid8"
        )
    finally:
        await conn.close()
    await checkpoint(env, 9)
    conn = await asyncpg.connect(source)
    try:  # then the whole log moves far beyond this server's transaction ids, order kept
        await conn.execute("SET session_replication_role = replica")
        shift = 1 << 40
        await conn.execute(
            f"UPDATE events SET transaction_id = "
            f"(transaction_id::text::bigint + {shift})::text::xid8"
        )
        await conn.execute(f"UPDATE merkle_leaves SET transaction_id = transaction_id + {shift}")
    finally:
        await conn.close()
    dump = tmp_path / "ahead.dump"
    code, out, err = await casework("backup", str(dump), env=env)
    assert code == 0, (out, err)

    restored = {**env, "DATABASE_URL": new_database(pg_server, new_databases)}
    code, out, err = await casework("restore", str(dump), "--json", env=restored)
    assert code == 0, (out, err)
    result = last_json(out)
    assert result["ok"] and result["renumbered_transactions"] == 9
    assert result["checkpoints"]["reproduced"] == 1
    await append(restored, 1, start=3)  # new events: readable, after the restored ones
    await checkpoint(restored, 12)
    code, out, err = await casework("verify", "--chains-only", "--json", env=restored)
    assert code == 0, (out, err)
    assert last_json(out)["checkpoints"]["reproduced"] == 2


def test_restore_and_backup_are_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "backup.md").read_text()
    for needed in ("casework backup", "casework restore", "ROLLBACK", "Temporal", "verify"):
        assert needed in doc, needed
    assert os.path.exists(CASEWORK)
