"""The end of the demo's summary: the latest signed checkpoint of the log, and the two
commands an auditor runs to check one of the demo's cases offline.

The notary runs in the stack and checkpoints every `CASEWORK_CHECKPOINT_INTERVAL`; the
demo does not wait for the next one: it asks for one now (as `casework notary
checkpoint` does, which serialises with the running notary on its advisory locks) until
the published checkpoint covers every event of the case it names.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Iterable
from typing import Any

import asyncpg

from application.notary import checkpoint_now, checkpoint_sink, public_keys_path
from events.checkpoints import CheckpointError, DirectorySink, SignedCheckpoint
from infrastructure.database import database_url
from infrastructure.logs import get_logger
from infrastructure.settings import Settings

EXPORTER = "a.lindqvist"
"""The demo account the summary has export the case: the auditor (Query.CASE_EXPORT
allows auditors and managers any case, supervisors their team's)."""

CHECKPOINT_WITHIN_S = 120.0
"""How long the demo waits for a checkpoint covering the case (normally well under 1 s)."""

EXPORT_FILE = "case.json"


async def closed_case(pool: asyncpg.Pool, case_ids: Iterable[str]) -> str | None:
    """One of `case_ids` whose case is closed (its stream no longer grows), else any."""
    ids = list(case_ids)
    if not ids:
        return None
    found = await pool.fetchval(
        """SELECT substr(stream_id, 6) FROM events
            WHERE stream_id = ANY($1::text[]) AND event_type = 'CaseClosed'
            ORDER BY global_position LIMIT 1""",
        [f"case-{i}" for i in ids],
    )
    return str(found) if found is not None else ids[0]


async def _covered_size(conn: asyncpg.Connection, case_id: str) -> int | None:
    """The tree size a checkpoint needs to cover every event of the case so far (its
    last event's leaf + 1); None while the notary has not yet notarised them all."""
    row = await conn.fetchrow(
        """SELECT count(*) AS events, count(l.leaf_index) AS notarised,
                  max(l.leaf_index) AS last_leaf
             FROM events e LEFT JOIN merkle_leaves l USING (global_position)
            WHERE e.stream_id = $1""",
        f"case-{case_id}",
    )
    if row is None or row["events"] == 0 or row["notarised"] < row["events"]:
        return None
    return int(row["last_leaf"]) + 1


async def checkpoint_covering(
    settings: Settings, case_id: str, *, limit: float = CHECKPOINT_WITHIN_S
) -> SignedCheckpoint | None:
    """Ask for a checkpoint now until the sink's latest covers every event of the case;
    the latest checkpoint then (or, past `limit`, whatever is latest: maybe None)."""
    log = get_logger(component="demo")
    sink = checkpoint_sink(settings)
    dsn = settings.notary_database_url or database_url(settings)
    deadline = time.monotonic() + limit
    conn = await asyncpg.connect(dsn)  # the notary's login: it may read merkle_leaves
    try:
        while True:
            try:
                await checkpoint_now(settings, dsn)
            except (CheckpointError, asyncpg.PostgresError, OSError) as exc:
                log.warning("demo checkpoint not published", error=str(exc))
            latest = sink.latest()
            needed = await _covered_size(conn, case_id)
            if latest is not None and needed is not None and latest.tree_size >= needed:
                return latest
            if time.monotonic() >= deadline:
                log.warning(
                    "no checkpoint covers the demo's case yet", case_id=case_id, limit_s=limit
                )
                return latest
            await asyncio.sleep(0.5)  # events in flight: the notary reads committed ones
    finally:
        await conn.close()


def checkpoint_summary(
    settings: Settings, signed: SignedCheckpoint | None, case_id: str | None
) -> dict[str, Any] | None:
    """The summary's checkpoint entry: what it signs, where it and the key are, and the
    auditor's commands (None when no checkpoint was published)."""
    if signed is None:
        return None
    sink = checkpoint_sink(settings)
    path = sink.path_of(signed.sequence) if isinstance(sink, DirectorySink) else None
    public_key = public_keys_path(settings).expanduser().resolve()
    cp = signed.checkpoint
    return {
        "sequence": signed.sequence,
        "tree_size": signed.tree_size,
        "root_hash": signed.root_hash.hex(),
        "timestamp": cp.timestamp.isoformat(),
        "key_id": cp.key_id,
        "file": None if path is None else str(path.expanduser().resolve()),
        "public_key": str(public_key),
        "case_id": case_id,
        "export_as": EXPORTER,
        "export_command": None
        if case_id is None
        else f"casework case export {case_id} --out {EXPORT_FILE}",
        "verify_command": (
            f"casework verify-export {EXPORT_FILE} --public-key {shlex.quote(str(public_key))}"
        ),
    }


def checkpoint_lines(checkpoint: dict[str, Any] | None) -> list[str]:
    """The summary's last lines (plain text)."""
    if checkpoint is None:
        return ["Signed checkpoint: none published yet (see `casework notary checkpoint`)"]
    lines = [
        f"Signed checkpoint #{checkpoint['sequence']}: {checkpoint['tree_size']} events, "
        f"root {checkpoint['root_hash'][:16]}…, {checkpoint['timestamp']}, "
        f"key {checkpoint['key_id']}",
        f"  checkpoint file: {checkpoint['file'] or 'in the configured sink'}",
        f"  public key:      {checkpoint['public_key']}",
    ]
    if checkpoint["export_command"]:
        lines += [
            f"Verify a case offline (signed in as {checkpoint['export_as']}, the auditor):",
            f"  {checkpoint['export_command']}",
            f"  {checkpoint['verify_command']}",
        ]
    return lines
