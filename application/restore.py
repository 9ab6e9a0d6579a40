"""Restores that keep the proofs (`casework restore`; docs/backup.md).

A restore (`pg_restore`, in one transaction) goes only into a new, empty database: one
that does not exist yet (it is created) or holds no table. Then, before anything else
writes to it:

* the global order is kept readable (application/restore_order.py): restored
  transaction ids at or beyond the server's own are renumbered, order kept, below it;
* the restored log is checked against every checkpoint published outside the
  database (CASEWORK_CHECKPOINT_DIR): a log shorter than the latest checkpoint is a
  ROLLBACK (an older backup), reported with how many events are missing.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

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
    maintenance_dsn,
    run_tool,
    server_major,
)
from application.notary import check_checkpoints, checkpoint_sink
from application.restore_order import keep_global_order_readable
from events.checkpoints import CheckpointError
from events.notary import TreeReport
from infrastructure.database import NOT_ANSWERING, database_not_answering, database_url
from infrastructure.environment import EnvironmentProblem
from infrastructure.settings import Settings

ARCHIVE_MAGIC = b"PGDMP"
"""The first bytes of a pg_dump custom-format archive."""


CASEWORK_ROLES = ("casework_engine", "casework_projector", "casework_reader", "casework_notary")
"""The group roles the dump's GRANTs name (cluster-wide: pg_dump does not dump them)."""


@dataclass(frozen=True)
class Archive:
    """What `pg_restore --list` says of a backup file."""

    dumped_from: str | None
    dumped_by: str | None
    created: str | None


_HEADER = re.compile(r"^;\s*(Archive created at|Dumped from database version|Dumped by pg_dump "
                     r"version):\s*(.+)$", re.MULTILINE)  # fmt: skip


_EVENTS_DATA = re.compile(r"^\d+;\s.*\bTABLE DATA \S+ events\b", re.MULTILINE)


def _check_archive_file(file: Path) -> None:
    if not file.exists():
        raise BackupInputError(f"FILE: {file} does not exist", "file")
    if not file.is_file():
        raise BackupInputError(f"FILE: {file} is not a file", "file")
    try:
        with file.open("rb") as handle:
            magic = handle.read(len(ARCHIVE_MAGIC))
    except OSError as exc:
        raise BackupInputError(f"FILE: cannot read {file} ({exc.strerror})", "file") from exc
    if magic != ARCHIVE_MAGIC:
        raise BackupInputError(
            f"FILE: {file} is not a backup made by `casework backup` (not a pg_dump "
            "custom-format archive)",
            "file",
        )


async def read_archive(file: Path, tool: PgTool) -> Archive:
    """Check FILE is a Casework backup this pg_restore reads (BackupInputError naming FILE
    if not; nothing is written)."""
    _check_archive_file(file)
    try:
        listing = await run_tool([str(tool.path), "--list", str(file)], "pg_restore --list")
    except BackupFailed as exc:
        if "unsupported version" in str(exc):
            raise EnvironmentProblem(
                f"pg_restore {tool.version} cannot read {file}, made by a newer pg_dump",
                PG_BIN_OPTION,
                f"point {PG_BIN_OPTION} (CASEWORK_PG_BIN) at newer PostgreSQL client tools",
            ) from exc
        raise BackupInputError(f"FILE: {file} is damaged or truncated ({exc})", "file") from exc
    if not _EVENTS_DATA.search(listing):
        raise BackupInputError(
            f"FILE: {file} holds no event log: it is not a backup of a Casework database",
            "file",
        )
    header = {m.group(1): m.group(2).strip() for m in _HEADER.finditer(listing)}
    return Archive(
        dumped_from=header.get("Dumped from database version"),
        dumped_by=header.get("Dumped by pg_dump version"),
        created=header.get("Archive created at"),
    )


@dataclass
class Rollback:
    """The restored log is shorter than the latest checkpoint published outside the
    database: the backup is older than it, and these events are missing."""

    log_events: int
    checkpoint: int
    checkpoint_events: int
    checkpoint_timestamp: str | None
    reproduced_checkpoint: int | None
    """The latest checkpoint the restored log still reproduces (the backup is newer)."""
    findings: list[dict[str, object]]

    @property
    def missing(self) -> int:
        return self.checkpoint_events - self.log_events

    def line(self) -> str:
        after = (
            f"; it reproduces checkpoint #{self.reproduced_checkpoint}"
            if self.reproduced_checkpoint
            else ""
        )
        return (
            f"ROLLBACK: the restored log has {self.log_events} events, shorter than the last "
            f"checkpoint published outside the database (#{self.checkpoint}, "
            f"{self.checkpoint_events} events"
            + (f", {self.checkpoint_timestamp}" if self.checkpoint_timestamp else "")
            + f"): {self.missing} event(s) written after this backup are missing (leaves "
            f"{self.log_events}…{self.checkpoint_events - 1} of checkpoint #{self.checkpoint})"
            + after
            + "; "
            + "; ".join(str(f["problem"]) for f in self.findings)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "log_events": self.log_events,
            "checkpoint": self.checkpoint,
            "checkpoint_events": self.checkpoint_events,
            "checkpoint_timestamp": self.checkpoint_timestamp,
            "missing_events": self.missing,
            "missing_leaves": [self.log_events, self.checkpoint_events - 1],
            "reproduced_checkpoint": self.reproduced_checkpoint,
            "findings": self.findings,
            "message": self.line(),
        }


@dataclass
class RestoreResult:
    file: Path
    database: str
    created_database: bool
    events: int
    streams: int
    tree_size: int
    renumbered_transactions: int
    """Distinct transaction ids the restored global order now uses (0: kept as dumped)."""
    checkpoints: int
    checkpoints_reproduced: int
    notarised: int
    archive: Archive
    pg_restore: str
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds of pg_restore, of keeping the order readable (and ANALYZE), of the check
    against the checkpoints."""
    rollback: Rollback | None = None
    problems: list[str] = field(default_factory=list)
    """Checkpoint findings that are not a rollback (a log that does not reproduce one)."""

    @property
    def ok(self) -> bool:
        return self.rollback is None and not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "file": str(self.file),
            "database": self.database,
            "created_database": self.created_database,
            "events": self.events,
            "streams": self.streams,
            "tree_size": self.tree_size,
            "renumbered_transactions": self.renumbered_transactions,
            "checkpoints": {
                "checkpoints": self.checkpoints,
                "reproduced": self.checkpoints_reproduced,
                "notarised": self.notarised,
                "not_yet_notarised": max(0, self.events - self.notarised),
            },
            "archive": {
                "created": self.archive.created,
                "dumped_from": self.archive.dumped_from,
                "dumped_by": self.archive.dumped_by,
            },
            "pg_restore": self.pg_restore,
            "seconds": self.seconds,
            "phases": self.phases,
            "rollback": None if self.rollback is None else self.rollback.to_json(),
            "problems": self.problems,
        }


async def _target(dsn: str) -> tuple[asyncpg.Connection | None, int]:
    """A connection to the target database (None if it does not exist) and the server's
    major version."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        server = await connect(maintenance_dsn(dsn))
        try:
            return None, await server_major(server)
        finally:
            await server.close()
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc
    return conn, await server_major(conn)


async def _refuse_unless_empty(conn: asyncpg.Connection, dsn: str) -> None:
    remedy = (
        "restore only into a new, empty database: set DATABASE_URL to a database that does "
        "not exist yet (restore creates it), and never run `casework migrate` or `casework "
        "up` on it first"
    )
    if await conn.fetchval("SELECT to_regclass('events')") is not None:
        events = await conn.fetchval("SELECT count(*) FROM events")
        raise BackupInputError(
            f"DATABASE_URL: the database {database_where(dsn)} already holds "
            + (f"{events} events" if events else "an event log (with no events)")
            + f"; {remedy}",
            "DATABASE_URL",
        )
    tables = await conn.fetch(
        """SELECT n.nspname || '.' || c.relname AS name FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
            ORDER BY 1 LIMIT 4"""
    )
    if tables:
        names = ", ".join(r["name"] for r in tables[:3]) + (", …" if len(tables) > 3 else "")
        raise BackupInputError(
            f"DATABASE_URL: the database {database_where(dsn)} is not empty (it has {names}); "
            f"{remedy}",
            "DATABASE_URL",
        )


async def _ensure_roles(conn: asyncpg.Connection) -> None:
    """The group roles the dump's GRANTs name (roles are per cluster, not in the dump)."""
    for role in CASEWORK_ROLES:
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            continue
        try:
            await conn.execute(f"CREATE ROLE {role} NOLOGIN")
        except asyncpg.DuplicateObjectError:
            pass
        except asyncpg.InsufficientPrivilegeError as exc:
            raise EnvironmentProblem(
                f"role {role} does not exist and the restoring user may not create it",
                "DATABASE_URL",
                f"have a DBA run CREATE ROLE {role} NOLOGIN, or restore as a user with "
                "CREATEROLE (DATABASE_URL)",
            ) from exc


def _rollback(report: TreeReport, settings: Settings) -> Rollback | None:
    if report.notarised <= report.events:
        return None
    timestamp = None
    sequence = 0
    with contextlib.suppress(CheckpointError):
        latest = checkpoint_sink(settings).latest()
        if latest is not None:
            sequence = latest.sequence
            timestamp = latest.checkpoint.timestamp.isoformat()
    reproduced = None
    if report.checkpoints_reproduced:
        with contextlib.suppress(CheckpointError):
            trusted = [c for c in checkpoint_sink(settings).all() if c.tree_size <= report.events]
            reproduced = trusted[-1].sequence if trusted else None
    return Rollback(
        log_events=report.events,
        checkpoint=sequence,
        checkpoint_events=report.notarised,
        checkpoint_timestamp=timestamp,
        reproduced_checkpoint=reproduced,
        findings=[f.to_json() for f in report.findings],
    )


async def restore(settings: Settings, file: Path, *, pg_bin: Path | None = None) -> RestoreResult:
    """`casework restore FILE`: into DATABASE_URL, a new, empty database; then the global
    order kept readable and the log checked against the published checkpoints."""
    started = time.monotonic()
    dsn = database_url(settings)
    where = database_where(dsn)
    conn, major = await _target(dsn)
    created = conn is None
    try:
        if conn is not None:
            await _refuse_unless_empty(conn, dsn)
    finally:
        if conn is not None:
            await conn.close()
    tool = find_tool("pg_restore", major, where, pg_bin)
    archive = await read_archive(file, tool)  # all input checked: from here on, writes

    server = await connect(maintenance_dsn(dsn))
    try:
        await _ensure_roles(server)
        if created:
            name = database_name(dsn).replace('"', '""')
            await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    phases: dict[str, float] = {}
    mark = time.monotonic()
    try:
        await run_tool(
            [
                str(tool.path),
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                f"--dbname={dsn}",
                str(file),
            ],
            f"pg_restore {tool.version}",
        )
    except BaseException:
        if created:  # nothing of a failed restore is left behind
            await _drop(dsn)
        raise
    phases["pg_restore"], mark = round(time.monotonic() - mark, 3), time.monotonic()
    conn = await connect(dsn)
    try:
        renumbered = await keep_global_order_readable(conn)
        await conn.execute("ANALYZE")
        phases["order_and_analyze"], mark = round(time.monotonic() - mark, 3), time.monotonic()
        row = await conn.fetchrow(
            "SELECT count(*) AS events, count(DISTINCT stream_id) AS streams FROM events"
        )
        tree = await conn.fetchval(
            "SELECT CASE WHEN to_regclass('merkle_leaves') IS NULL THEN 0 ELSE "
            "(SELECT count(*) FROM merkle_leaves) END"
        )
        report = await check_checkpoints(settings, conn)
        phases["checkpoint_check"] = round(time.monotonic() - mark, 3)
    finally:
        await conn.close()
    rollback = _rollback(report, settings)
    result = RestoreResult(
        file=file,
        database=where,
        created_database=created,
        events=int(row["events"]),
        streams=int(row["streams"]),
        tree_size=int(tree or 0),
        renumbered_transactions=renumbered,
        checkpoints=report.checkpoints,
        checkpoints_reproduced=report.checkpoints_reproduced,
        notarised=report.notarised,
        archive=archive,
        pg_restore=tool.version,
        seconds=round(time.monotonic() - started, 3),
        phases=phases,
        rollback=rollback,
        problems=[] if rollback is not None else [str(f) for f in report.findings],
    )
    if rollback is not None:
        backup_log().error(
            "restored log rolled back",
            missing_events=rollback.missing,
            checkpoint=rollback.checkpoint,
            log_events=rollback.log_events,
        )
    else:
        backup_log().info(
            "restore done", database=where, events=result.events, seconds=result.seconds
        )
    return result


async def _drop(dsn: str) -> None:
    with contextlib.suppress(Exception):
        server = await connect(maintenance_dsn(dsn))
        try:
            name = database_name(dsn).replace('"', '""')
            await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await server.close()
