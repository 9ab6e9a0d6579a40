"""structlog configured once: JSON lines in production, readable console in development."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog
from pydantic import BaseModel

from infrastructure.settings import LogFormat, Settings

_configured = False

REDACTED = "[redacted]"

PERSONAL_KEYS: frozenset[str] = frozenset(
    {
        # who the client is
        "name", "client_name", "full_name", "first_name", "last_name", "given_name",
        "family_name", "preferred_name", "date_of_birth", "dob", "birth_date",
        "identifiers", "identifier_values", "ssn", "national_id", "nhs_number",
        # how to reach them
        "phone", "phone_number", "mobile", "email", "address", "postcode", "contact",
        "contact_details",
        # whole records that carry the above
        "client", "client_details", "details", "person",
        # free text written about or by the client
        "notes", "note", "crisis_plan", "client_words", "client_comment", "preferences",
        "report", "narrative", "comment",
        # advocacy and the client's feedback (issue 16)
        "words", "next_step", "consent_name",
        # a plan's actions (issue 16): what is to be done (owners' names are `name`)
        "description",
        # the circle of support and case conferences (issue 16)
        "relationship", "organisation", "decisions",
        # whole messages and documents (webhook bodies, Temporal payloads, event data)
        "body", "payload", "payloads", "document", "event_data", "request_body",
        "response_body",
    }
)  # fmt: skip
"""Keys whose values never reach a log line, at any depth (compared case-insensitively)."""


def _redact_value(value: Any, depth: int) -> Any:
    if depth > 20:
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and k.lower() in PERSONAL_KEYS
            else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def redact_personal_data(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace the values of `PERSONAL_KEYS` with "[redacted]".

    At any nesting depth: in dicts, lists, stdlib `extra` dicts, pydantic models and
    dataclasses (those are rendered as redacted dicts). Free text such as the event
    message itself is not parsed: never format personal data into a message.
    """
    for key in list(event_dict):
        if key == "event":
            continue
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key], 0)
    return event_dict


class _RedactingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler configure_logging installs (found again on reconfiguration)."""


LOG_FILE_NAME = "casework.log"


def log_file_for(settings: Settings) -> Path:
    """Where `casework up` and `casework demo` write their logs: `<data dir>/casework.log`."""
    return settings.data_dir.expanduser().resolve() / LOG_FILE_NAME


def configure_logging(
    settings: Settings, *, force: bool = False, to_file: Path | None = None
) -> None:
    """Configure structlog and the standard library's logging (idempotent).

    Lines go to standard error, or appended to `to_file` (so that a program that draws
    progress bars on the terminal keeps it readable)."""
    global _configured
    if _configured and not force:
        return
    stream: TextIO = sys.stderr
    if to_file is not None:
        to_file.parent.mkdir(parents=True, exist_ok=True)
        stream = to_file.open("a", encoding="utf-8", buffering=1)
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
        # Tracebacks without local variables: locals can hold personal data.
        renderer = structlog.dev.ConsoleRenderer(
            colors=stream.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
    structlog.configure(
        processors=[*shared, redact_personal_data, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Standard-library records (temporalio's workflow and activity loggers, asyncio,
    # aiohttp) go through the same chain: `extra` fields become keys, then redaction.
    handler = _RedactingHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                redact_personal_data,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_personal_data,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RedactingHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    _configured = True


def get_logger(**bindings: Any) -> Any:
    """A logger with `bindings`, resolved against the logging configuration in force at
    each call (a lazy proxy): a module-level logger made at import, before
    `configure_logging` runs, still writes where the operator configured and through the
    personal-data redaction (binding it at once kept structlog's defaults: stdout, no
    redaction)."""
    return structlog.get_logger("casework", **bindings)
