"""What backups and restores share (application/backup.py, application/restore.py): the
PostgreSQL client tools (`pg_dump`, `pg_restore` of a version that fits the server,
found on the machine or under --pg-bin) and how they are run, the connections to the
server, and the errors a backup or a restore reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from infrastructure.database import NOT_ANSWERING, database_not_answering
from infrastructure.environment import EnvironmentProblem, one_line
from infrastructure.logs import get_logger

PG_BIN_OPTION = "--pg-bin"
"""The option (and CASEWORK_PG_BIN, its environment variable) naming the directory of
the PostgreSQL client tools."""


def backup_log() -> Any:
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


async def run_tool(args: list[str], what: str) -> str:
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


def database_where(dsn: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}/{database_name(dsn)}"


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/")) or "postgres"


def maintenance_dsn(dsn: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/postgres"))


async def connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn)
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc


async def server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000
