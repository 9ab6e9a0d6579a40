"""The projector service (`casework projector`, and a part of `casework up`): a runner
per read model, the NOTIFY listener, and the projection lag reported as metrics."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from infrastructure.database import TRANSIENT_ERRORS
from infrastructure.logs import get_logger
from infrastructure.settings import Settings
from projections.catalog import all_projections
from projections.runner import run_projections
from projections.status import projection_status


async def run_projector(
    settings: Settings, dsn: str, shutdown: asyncio.Event, *, lag_every: float = 5.0
) -> None:
    """The `casework projector` service (also started by `casework up`)."""
    lag = asyncio.create_task(_report_lag(settings, dsn, shutdown, lag_every))
    try:
        await run_projections(dsn, all_projections(), shutdown)
    finally:
        lag.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lag  # it never raises: see _report_lag


async def _report_lag(
    settings: Settings, dsn: str, shutdown: asyncio.Event, every: float = 5.0
) -> None:
    """Projection lag as Prometheus gauges (infrastructure/metrics.py), every few seconds."""
    from infrastructure.metrics import meter

    if not settings.metrics_port:
        return
    log = get_logger(component="projection-lag")
    events = meter(settings).create_gauge(
        "casework_projection_lag_events", "Events after the projection's checkpoint"
    )
    seconds = meter(settings).create_gauge_float(
        "casework_projection_lag_seconds", "Age of the oldest event not yet projected"
    )
    # A lost connection (PostgreSQL restarted or unreachable) is not the end of the
    # reporting: reconnect on the next round, like the runners do.
    conn: asyncpg.Connection | None = None
    try:
        while not shutdown.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(dsn)
                for status in await projection_status(conn, all_projections()):
                    events.set(status.lag_events, {"projection": status.name})
                    seconds.set(status.lag_seconds, {"projection": status.name})
            except Exception as exc:
                # Whatever a round met, the next one starts on a new connection: a
                # reporter that ended would leave the gauges stale, and raise at the stop.
                if not isinstance(exc, (asyncpg.PostgresError, *TRANSIENT_ERRORS)):
                    log.warning("projection lag not read", error=repr(exc), exc_info=True)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), timeout=every)
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
