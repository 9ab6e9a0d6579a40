"""The embedded stack's PostgreSQL (devtools/stack.py): the server at `DATABASE_URL`
when set, else an embedded server in `<data_dir>/postgres` (started, with a database
`casework`, and stopped with a fast shutdown); why it did not start, as one line; and
how to open psql on it.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import asyncpg

from devtools.stack_host import StackEnvironmentProblem, in_thread, log_tail
from infrastructure.database import EMBEDDED_DATABASE, database_url, ensure_database, redact
from infrastructure.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError, port_answers
from infrastructure.environment import one_line
from infrastructure.logs import get_logger
from infrastructure.ports import port_taken
from infrastructure.settings import Settings


def psql_command(dsn: str) -> str:
    """How to open psql on `dsn` (the bundled psql when none is on PATH)."""
    psql = "psql"
    if shutil.which("psql") is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns on import without XDG dirs
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / "psql"
        if bundled.exists():
            psql = str(bundled)
    return f'{psql} "{redact(dsn)}"'


async def start_postgres(settings: Settings, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN of the case database, and the embedded server if we started one."""
    log = get_logger(component="postgres")
    if settings.database_url:
        log.info("using the PostgreSQL at DATABASE_URL", database=redact(settings.database_url))
        return settings.database_url, None
    server = EmbeddedPostgres(data_dir / "postgres", settings.embedded_pg_port)
    running = server.pgdata.exists() and await in_thread(server.is_running)
    if not running and port_taken(settings.embedded_pg_port):
        raise _pg_port_taken(settings.embedded_pg_port)
    log.info("starting embedded PostgreSQL", port=server.port, data=str(server.pgdata))
    try:
        try:
            await in_thread(server.start)
        except (EmbeddedPostgresError, subprocess.CalledProcessError, OSError) as exc:
            raise _pg_did_not_start(server, exc) from exc
        try:
            await ensure_database(server.dsn, EMBEDDED_DATABASE)
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            raise StackEnvironmentProblem(
                f"the embedded PostgreSQL on port {server.port} started but does not answer "
                f"({exc}); see {server.log_file}",
                "DATABASE_URL",
                "set DATABASE_URL to use a PostgreSQL of your own, or CASEWORK_DATA_DIR "
                "for a fresh data directory",
            ) from exc
    except BaseException:
        # Also when cancelled mid-start: in_thread lets the start finish first.
        await in_thread(server.stop)
        raise
    return database_url(settings), server


def _pg_port_taken(port: int) -> StackEnvironmentProblem:
    return StackEnvironmentProblem(
        f"port {port} (for the embedded PostgreSQL) is in use by another program",
        "CASEWORK_EMBEDDED_PG_PORT",
        "set CASEWORK_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use a PostgreSQL "
        "of your own",
    )


def _pg_did_not_start(server: EmbeddedPostgres, exc: BaseException) -> StackEnvironmentProblem:
    """Why the embedded server did not start, as one line: its port taken (found by
    then), or the first error its log (or initdb) gave."""
    if port_taken(server.port) and not port_answers("127.0.0.1", server.port, timeout=0.2):
        return _pg_port_taken(server.port)
    logged = log_tail(server.log_file)
    if isinstance(exc, subprocess.CalledProcessError):  # initdb
        output = exc.stderr or b""
        logged = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if "already in use" in logged.lower():
        return _pg_port_taken(server.port)
    errors = [
        line.split("FATAL:", 1)[-1].split("ERROR:", 1)[-1].strip()
        for line in logged.splitlines()
        if "FATAL:" in line or "ERROR:" in line or "error" in line.lower()
    ]
    reason = errors[-1] if errors else one_line(str(exc))[:300]
    return StackEnvironmentProblem(
        f"the embedded PostgreSQL in {server.pgdata} did not start on port {server.port} "
        f"({reason}); see {server.log_file}",
        "DATABASE_URL",
        "set DATABASE_URL to use a PostgreSQL of your own, CASEWORK_EMBEDDED_PG_PORT for "
        "another port, or CASEWORK_DATA_DIR for a fresh data directory",
    )


async def stop_postgres(server: EmbeddedPostgres) -> None:
    get_logger(component="postgres").info("stopping embedded PostgreSQL")
    await in_thread(lambda: server.stop("fast"))
