"""Connecting to PostgreSQL: the database URL, pools, creating a database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from infrastructure.environment import EnvironmentProblem, ServerNotAnswering, causes, one_line
from infrastructure.logs import get_logger
from infrastructure.settings import Settings

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
    asyncpg.exceptions.QueryCanceledError,  # statement or lock timeout
    asyncpg.exceptions.LockNotAvailableError,
    # The client's protocol state left mid-operation: what asyncpg raises when a query is
    # sent on a connection the server cut while it answered (a restart). A new
    # connection is the remedy.
    asyncpg.exceptions.InternalClientError,
)
"""Errors that pass: the server is down, starting, shutting down or restarting, or a
transaction lost a race. Retrying later (on a new connection) is right; nothing about
the request was wrong."""

NOT_ANSWERING: tuple[type[BaseException], ...] = (OSError, asyncpg.CannotConnectNowError)
"""What connecting raises when no server answers (refused, unreachable, timed out) or
the server is still starting: see `database_not_answering`."""


def database_not_answering(dsn: str, exc: BaseException) -> EnvironmentProblem:
    """`exc`, raised connecting to `dsn` (one of NOT_ANSWERING), as the environment
    problem it is: which server does not answer, and the setting that chooses it."""
    if isinstance(exc, EnvironmentProblem):
        return exc
    parts = urlsplit(dsn)
    where = f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else dsn.split("@")[-1]
    return ServerNotAnswering(
        f"no PostgreSQL answers at {where} ({one_line(str(exc)) or type(exc).__name__})",
        "DATABASE_URL",
        "start it (`casework up` runs the embedded one, on CASEWORK_EMBEDDED_PG_PORT), or "
        "set DATABASE_URL to a PostgreSQL that runs",
    )


def unanswered_database(exc: BaseException, dsn: str) -> EnvironmentProblem | None:
    """The environment problem of a connection that failed behind `exc` and was not
    named where it was made (a command's own `asyncpg.connect`), as the database's at
    `dsn`: the other servers' are named where they are met (Temporal's by
    infrastructure/temporal.py `connect`, the API's by the command line's client)."""
    for cause in causes(exc):
        if isinstance(cause, ConnectionError | asyncpg.CannotConnectNowError):
            return database_not_answering(dsn, cause)
    return None


CONNECT_RETRY_PAUSE: float = 1.0
"""Seconds between attempts while a service waits for its database at start-up."""


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool `reset` that sends nothing (asyncpg still rolls back an open transaction)."""


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    stateless: bool = False,
    wait: float = 0.0,
) -> asyncpg.Pool:
    """A pool; `stateless` for users that never leave session state (locks, LISTEN,
    SET) on a connection: releasing one then costs no reset round trip.

    `wait`: seconds to keep trying while the server is down, starting up or shutting
    down (a service started beside its database, or while it restarts), logging each
    miss; the last error is raised once they have passed. 0 fails at the first miss
    (a command run by hand should say so at once)."""
    deadline = time.monotonic() + wait
    attempt = 0
    while True:
        attempt += 1
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                reset=_keep_session if stateless else None,
            )
            assert pool is not None
            return pool
        except TRANSIENT_ERRORS as exc:
            left = deadline - time.monotonic()
            if left <= 0 or isinstance(exc, asyncpg.ClientConfigurationError):
                raise  # waited long enough, or the DSN itself is wrong: waiting won't help
            get_logger(component="database").warning(
                "database not available yet; retrying",
                attempt=attempt,
                error=str(exc) or type(exc).__name__,
                gives_up_in_s=round(left, 1),
            )
            await asyncio.sleep(min(CONNECT_RETRY_PAUSE, left))


POOL_CLOSE_SECONDS = 10.0
"""How long a stopping service waits for its pool to close gracefully."""


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close the pool of a service that is stopping. A connection the server cut, or one
    a lost server left mid-operation, is terminated instead: it must not turn a clean
    stop into a failed one (the service's exit code)."""
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
    except Exception as exc:  # TimeoutError included
        get_logger(component="database").warning(
            "connections closed abruptly at stop", error=f"{type(exc).__name__}: {exc}"
        )
        pool.terminate()


EMBEDDED_DATABASE = "casework"


def database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the embedded server that `casework up` runs."""
    if settings.database_url:
        return settings.database_url
    return f"postgresql://postgres@127.0.0.1:{settings.embedded_pg_port}/{EMBEDDED_DATABASE}"


async def ensure_database(server_dsn: str, name: str) -> None:
    """Create database `name` on the server if it does not exist."""
    conn = await asyncpg.connect(server_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def redact(dsn: str) -> str:
    """The DSN with its password (if any) masked."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
