"""Backups and restores that keep the proofs (`casework backup`, `casework restore`;
docs/backup.md).

A backup is PostgreSQL's own dump of the whole Casework database (`pg_dump -Fc`): the
event log, the notary's Merkle tree, identity, the outbox, the read models. It is taken
in one snapshot, exported from a connection of ours, so the figures reported (events,
tree size) are exactly those of the file.

A restore (`pg_restore`, in one transaction) goes only into a new, empty database: one
that does not exist yet (it is created) or holds no table. Then, before anything else
writes to it:

* the global order is kept readable: events are walked in (transaction_id,
  global_position) order and read only below the oldest running transaction, so
  restored transaction ids at or beyond the server's own (a fresh server, another
  cluster) would hide the restored log from the notary and the projector and put new
  events *before* it. They are renumbered, order kept, below the server's (the
  transaction id is in no hash, leaf or proof: events/merkle.py);
* the restored log is checked against every checkpoint published outside the
  database (CASEWORK_CHECKPOINT_DIR): a log shorter than the latest checkpoint is a
  ROLLBACK (an older backup), reported with how many events are missing.

This module takes backups; restoring is in application/restore.py (and keeping the
restored global order readable in application/restore_order.py), what both share (the
client tools, connections, errors) in application/backup_tools.py. Their public names
are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from application.backup_tools import (
    PG_BIN_OPTION,
    BackupFailed,
    BackupInputError,
    PgTool,
    backup_log,
    connect,
    database_name,
    database_where,
    find_tool,
    run_tool,
    server_major,
)
from application.notary import checkpoint_sink
from application.restore import (
    ARCHIVE_MAGIC,
    CASEWORK_ROLES,
    Archive,
    RestoreResult,
    Rollback,
    read_archive,
    restore,
)
from application.restore_order import FIRST_NORMAL_XID
from events.checkpoints import CheckpointError
from infrastructure.database import database_url
from infrastructure.settings import Settings


@dataclass
class BackupResult:
    file: Path
    bytes: int
    events: int
    streams: int
    last_global_position: int
    tree_size: int
    """Events in the notary's Merkle tree at the backup."""
    latest_checkpoint: dict[str, object] | None
    """The latest checkpoint published (outside the database) when the backup was taken."""
    database: str
    pg_dump: str
    server_version: str
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "file": str(self.file),
            "bytes": self.bytes,
            "events": self.events,
            "streams": self.streams,
            "last_global_position": self.last_global_position,
            "tree_size": self.tree_size,
            "latest_checkpoint": self.latest_checkpoint,
            "database": self.database,
            "pg_dump": self.pg_dump,
            "server_version": self.server_version,
            "seconds": self.seconds,
        }


def _check_backup_file(file: Path) -> Path:
    file = file.expanduser()
    if file.exists() or file.is_symlink():
        raise BackupInputError(
            f"FILE: {file} exists; a backup never overwrites a file (name a new one)", "file"
        )
    if not file.parent.is_dir():
        raise BackupInputError(f"FILE: directory {file.parent} does not exist", "file")
    if not os.access(file.parent, os.W_OK):
        raise BackupInputError(f"FILE: directory {file.parent} is not writable", "file")
    return file


def _latest_checkpoint(settings: Settings) -> dict[str, object] | None:
    try:
        latest = checkpoint_sink(settings).latest()
    except CheckpointError:
        return None
    if latest is None:
        return None
    return {
        "sequence": latest.sequence,
        "tree_size": latest.tree_size,
        "timestamp": latest.checkpoint.timestamp.isoformat(),
    }


async def backup(settings: Settings, file: Path, *, pg_bin: Path | None = None) -> BackupResult:
    """`casework backup FILE`: the whole database (DATABASE_URL) as a pg_dump custom-format
    archive, written beside FILE and renamed into place only once complete."""
    started = time.monotonic()
    file = _check_backup_file(file)
    dsn = database_url(settings)
    conn = await connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('events')") is None:
            raise BackupInputError(
                f"the database at {database_where(dsn)} has no event log: it is not a Casework "
                "database (set DATABASE_URL to Casework's)",
                "DATABASE_URL",
            )
        server_version = str(await conn.fetchval("SHOW server_version"))
        tool = find_tool("pg_dump", await server_major(conn), database_where(dsn), pg_bin)
        partial = file.with_name(f".{file.name}.partial-{os.getpid()}")
        # One snapshot for pg_dump and our figures: exported, held open while it runs.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            row = await conn.fetchrow(
                """SELECT count(*) AS events, count(DISTINCT stream_id) AS streams,
                          coalesce(max(global_position), 0) AS last FROM events"""
            )
            tree = await conn.fetchval(
                "SELECT CASE WHEN to_regclass('merkle_leaves') IS NULL THEN 0 ELSE "
                "(SELECT count(*) FROM merkle_leaves) END"
            )
            try:
                await run_tool(
                    [
                        str(tool.path),
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        f"--file={partial}",
                        f"--dbname={dsn}",
                    ],
                    f"pg_dump {tool.version}",
                )
                os.replace(partial, file)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
    finally:
        await conn.close()
    result = BackupResult(
        file=file,
        bytes=file.stat().st_size,
        events=int(row["events"]),
        streams=int(row["streams"]),
        last_global_position=int(row["last"]),
        tree_size=int(tree or 0),
        latest_checkpoint=_latest_checkpoint(settings),
        database=database_where(dsn),
        pg_dump=tool.version,
        server_version=server_version,
        seconds=round(time.monotonic() - started, 3),
    )
    backup_log().info(
        "backup written",
        file=str(file),
        events=result.events,
        bytes=result.bytes,
        seconds=result.seconds,
    )
    return result


__all__ = [
    "ARCHIVE_MAGIC",
    "CASEWORK_ROLES",
    "FIRST_NORMAL_XID",
    "PG_BIN_OPTION",
    "Archive",
    "BackupFailed",
    "BackupInputError",
    "BackupResult",
    "PgTool",
    "RestoreResult",
    "Rollback",
    "backup",
    "database_name",
    "find_tool",
    "read_archive",
    "restore",
]
