"""Benchmark of `casework backup` / `casework restore` and `casework verify` after it.

    .venv/bin/python bench/backup.py                  # 100,000 events (the issue's size)
    .venv/bin/python bench/backup.py --quick --json   # 20,000 events
    .venv/bin/python bench/backup.py --smoke --json   # 2,000 events, seconds (the tests)
    .venv/bin/python -m bench.backup …                # the same, as a module

In a database of its own on the server at DATABASE_URL (else 127.0.0.1:5432), with a
deployment's keys (tests/keys.py) and a checkpoint directory of its own:

* seeds a log of N events through the EventStore (every event with its origin proof),
  spread over 1,000 streams, 100 events an append, and publishes a checkpoint of it;
* runs `casework backup FILE`, `casework restore FILE` into a new database, and
  `casework verify --chains-only` on the restored one (hash chains, origin proofs, the
  log against the published checkpoint), each as a person runs it: the command in a
  subprocess, timed from start to exit (`wall_seconds`, Python's start-up included)
  and by the command itself (`command_seconds`, from its JSON).

No target: the figures are for the operator's planning (docs/backup.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import asyncpg

from application.notary import checkpoint_now
from bench.common import (
    ROOT,
    BenchError,
    add_size_arguments,
    run_bench,
    scratch_database,
    server_dsn,
    size_of,
    until_signalled,
    with_database,
)
from events.store import EventStore
from infrastructure.database import create_pool
from infrastructure.keys import origin_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from tests.events.factories import contact_event
from tests.keys import deployment_keys
from tests.pg import until_events_readable

SIZES: dict[str, dict[str, int]] = {
    "smoke": {"events": 2_000, "streams": 20, "per_append": 100},
    "quick": {"events": 20_000, "streams": 200, "per_append": 100},
    "full": {"events": 100_000, "streams": 1_000, "per_append": 100},
}
CASEWORK = Path(sys.executable).with_name("casework")
WRITERS = 4


async def seed(dsn: str, settings: Settings, events: int, streams: int, per_append: int) -> float:
    """`events` signed events over `streams` streams, `per_append` an append."""
    started = time.perf_counter()
    pool = await create_pool(dsn, max_size=WRITERS)
    try:
        store = EventStore(pool, origin=origin_keyring(settings))
        appends = [(f"stream-{a % streams}", a // streams) for a in range(events // per_append)]

        async def writer(mine: list[tuple[str, int]]) -> None:
            for stream, round_ in mine:
                batch = [contact_event(round_ * per_append + i) for i in range(per_append)]
                await store.append(stream, round_ * per_append, batch)

        # the first append alone (the store records its origin cutover once, before it),
        # then each writer its own streams (one stream's appends stay in order)
        first, *rest = appends
        await writer([first])
        appends = rest
        await asyncio.gather(
            *(
                writer([a for a in appends if int(a[0].split("-")[1]) % WRITERS == w])
                for w in range(WRITERS)
            )
        )
        await until_events_readable(pool)
    finally:
        await pool.close()
    return time.perf_counter() - started


async def casework(*args: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """`casework ARGS --json`: wall seconds and its JSON; BenchError if it fails."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(CASEWORK),
        *args,
        "--json",
        cwd=str(ROOT),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise BenchError(
            f"casework {' '.join(args)} exited {process.returncode}: "
            f"{stderr.decode(errors='replace').strip()[-2000:]}"
        )
    data = json.loads(stdout.decode().strip().splitlines()[-1])
    assert isinstance(data, dict)
    return wall, data


async def drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = dict(SIZES[size])
    if args.events:
        sizes["events"] = args.events
    started = time.perf_counter()
    server = server_dsn()
    with tempfile.TemporaryDirectory(prefix="casework-backup-bench-") as scratch:
        work = Path(scratch)
        async with scratch_database(server) as dsn:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")},
                **deployment_keys(work / "keys"),
                "DATABASE_URL": dsn,
                "CASEWORK_DATA_DIR": str(work / "data"),
                "CASEWORK_CHECKPOINT_DIR": str(work / "checkpoints"),
                "CASEWORK_LOG_LEVEL": "WARNING",
            }
            settings = Settings(**env)  # type: ignore[arg-type]
            seed_s = await seed(
                dsn, settings, sizes["events"], sizes["streams"], sizes["per_append"]
            )
            checkpoint_started = time.perf_counter()
            signed = await checkpoint_now(settings, dsn)
            checkpoint_s = time.perf_counter() - checkpoint_started
            if signed is None or signed.tree_size != sizes["events"]:
                raise BenchError(f"the checkpoint does not cover the log: {signed}")

            file = work / "casework.dump"
            backup_wall, made = await casework("backup", str(file), env=env)
            if made["events"] != sizes["events"]:
                raise BenchError(f"the backup has {made['events']} events")

            name = f"casework_bench_restore_{uuid.uuid4().hex[:12]}"
            restored = {**env, "DATABASE_URL": with_database(server, name)}
            try:
                restore_wall, result = await casework("restore", str(file), env=restored)
                if not result["ok"] or result["events"] != sizes["events"]:
                    raise BenchError(f"the restore is not whole: {result}")
                verify_wall, report = await casework("verify", "--chains-only", env=restored)
                if not report["ok"] or report["checkpoints"]["reproduced"] != 1:
                    raise BenchError(f"verify after the restore failed: {report['findings']}")
                bare_wall, _ = await casework("notary", "keygen", str(work / "k.key"), env=env)
            finally:
                await drop(server, name)
    return {
        "benchmark": "backup",
        "size": size,
        "sizes": sizes,
        "seed_seconds": round(seed_s, 2),
        "checkpoint_seconds": round(checkpoint_s, 2),
        "backup": {
            "wall_seconds": round(backup_wall, 2),
            "command_seconds": made["seconds"],
            "bytes": made["bytes"],
            "bytes_per_event": round(made["bytes"] / sizes["events"], 1),
        },
        "restore": {
            "wall_seconds": round(restore_wall, 2),
            "command_seconds": result["seconds"],
            "phases": result["phases"],
            "renumbered_transactions": result["renumbered_transactions"],
            "checkpoints_reproduced": result["checkpoints"]["reproduced"],
        },
        "verify": {
            "wall_seconds": round(verify_wall, 2),
            "events": report["events"],
            "origins_signed": report["origins"]["signed"],
            "checkpoints_reproduced": report["checkpoints"]["reproduced"],
        },
        "cli_start_seconds": round(bare_wall, 2),
        "events_per_s": {
            "backup": round(sizes["events"] / max(made["seconds"], 1e-6)),
            "restore": round(sizes["events"] / max(result["seconds"], 1e-6)),
            "verify": round(sizes["events"] / max(verify_wall - bare_wall, 1e-6)),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_size_arguments(
        parser,
        quick="a log of 20,000 events, under a minute",
        smoke="a log of 2,000 events, seconds (the tests)",
    )
    parser.add_argument("--events", type=int, default=0, help="override the log's size")
    args = parser.parse_args()
    configure_logging(Settings(CASEWORK_LOG_LEVEL="WARNING"))
    return run_bench("backup", lambda: until_signalled(main_async(args)), args.json)


if __name__ == "__main__":
    sys.exit(main())
