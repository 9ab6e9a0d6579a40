"""structlog configured once: JSON lines in production, readable console in development."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from casework.settings import LogFormat, Settings

_configured = False


def configure_logging(settings: Settings, *, force: bool = False) -> None:
    """Configure structlog and the standard library's logging (idempotent)."""
    global _configured
    if _configured and not force:
        return
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if settings.log_format is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)
    _configured = True


def get_logger(**bindings: Any) -> Any:
    return structlog.get_logger("casework").bind(**bindings)
