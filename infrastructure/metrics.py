"""Metrics on a Prometheus endpoint: Temporal SDK metrics plus Casework's own.

The worker process serves `http://127.0.0.1:<CASEWORK_METRICS_PORT>/metrics`
(default 9464; 0 turns it off): the SDK's workflow and activity metrics, and

* `casework_events_appended` (counter, by stream kind) — in the append activity;
* `casework_escalations_raised` (counter, by level and subject) — in the workflow,
  replay-safe (the SDK drops metrics recorded while replaying);
* `casework_projection_lag_events` / `casework_projection_lag_seconds` (gauges, by
  projection) — from the projector when it runs in the same process.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from temporalio.common import MetricMeter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from infrastructure.logs import get_logger
from infrastructure.settings import Settings

CORE_LOGGER = "temporalio.core"
"""The Python logger that the SDK core's own log lines (a workflow task failing, a
nondeterminism error, a slow task) are forwarded to: the process's log, where an
operator looks, instead of the terminal."""


def _logging() -> LoggingConfig:
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )


@lru_cache(maxsize=4)
def _runtime(bind: str | None) -> Runtime:
    if bind is None:
        return Runtime(telemetry=TelemetryConfig(logging=_logging()))
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                logging=_logging(), metrics=PrometheusConfig(bind_address=bind)
            )
        )
    except Exception as exc:  # the port is taken: run on, without the endpoint
        get_logger(component="metrics").warning(
            "metrics endpoint unavailable", bind=bind, error=str(exc)
        )
        return Runtime(telemetry=TelemetryConfig(logging=_logging()))


def runtime_for(settings: Settings) -> Runtime:
    """The process's Temporal runtime, serving metrics when a port is configured; the
    core's log lines forwarded to the process's log (CORE_LOGGER)."""
    port = settings.metrics_port
    return _runtime(f"127.0.0.1:{port}" if port else None)


def logging_runtime() -> Runtime:
    """A runtime serving no metrics, its core's log lines forwarded (CORE_LOGGER)."""
    return _runtime(None)


def meter(settings: Settings) -> MetricMeter:
    return runtime_for(settings).metric_meter
