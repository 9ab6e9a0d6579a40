"""Logs never carry personal data: the redaction processor, and real log lines."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from infrastructure.logs import REDACTED, configure_logging, get_logger, redact_personal_data
from infrastructure.settings import LogFormat
from tests.cases import inputs
from tests.codec_keys import settings_for_tests

NAME = "Rosalind Quennell-Ashby"


def test_personal_keys_are_redacted_at_any_depth() -> None:
    event = redact_personal_data(
        None,
        "info",
        {
            "event": "case opened",
            "case_id": "c-1",
            "client_name": NAME,
            "Email": "r@example.org",
            "command": {
                "actor": "alice",
                "client": {"name": NAME, "date_of_birth": "1984-03-09"},
                "goals": [{"goal_id": "g1", "client_words": "a home of my own"}],
            },
            "extra": {"temporal_activity": {"activity_id": "1"}, "notes": "sofa surfing"},
            "count": 3,
        },
    )
    assert event == {
        "event": "case opened",
        "case_id": "c-1",
        "client_name": REDACTED,
        "Email": REDACTED,
        "command": {
            "actor": "alice",
            "client": REDACTED,
            "goals": [{"goal_id": "g1", "client_words": REDACTED}],
        },
        "extra": {"temporal_activity": {"activity_id": "1"}, "notes": REDACTED},
        "count": 3,
    }


def test_models_are_redacted_field_by_field() -> None:
    cmd = inputs.open_case()
    event = redact_personal_data(None, "info", {"event": "x", "command": cmd})
    text = json.dumps(event, default=str)
    assert NAME not in text
    assert "555-0142" not in text
    assert event["command"]["client"] == REDACTED
    assert event["command"]["client_ref"] == "CL-1042"


def test_the_configured_chain_redacts(logging_restored: None) -> None:
    configure_logging(settings_for_tests(), force=True)
    with capture_logs(processors=[redact_personal_data]) as captured:
        get_logger(case_id="c-1").info("opened", client={"name": NAME}, phone="555-0142")
    assert captured == [
        {"event": "opened", "case_id": "c-1", "client": REDACTED, "phone": REDACTED,
         "log_level": "info"}
    ]  # fmt: skip
    assert redact_personal_data in structlog.get_config()["processors"]


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_real_log_lines_from_structlog_and_temporalio_are_redacted(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(
        settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.JSON, CASEWORK_LOG_LEVEL="INFO"),
        force=True,
    )
    cmd = inputs.open_case()
    get_logger(component="test").info(
        "case opened",
        case_id=str(cmd.case_id),
        client=cmd.client,
        details={"dob": date(1984, 3, 9), "address": "12 Elm Row"},
    )
    # Temporal's workflow and activity loggers are standard-library loggers with an
    # `extra` dict; records from them pass through the same redaction.
    logging.getLogger("temporalio.activity").warning(
        "dispatch failed",
        extra={
            "temporal_activity": {"activity_type": "dispatch_referral", "attempt": 2},
            "payload": {"client": {"name": NAME}},
            "email": "rosalind@example.org",
        },
    )
    logging.getLogger("temporalio.workflow").warning(
        "referral returned", extra={"extra": {"notes": NAME, "referral_id": "r-1"}}
    )
    err = capsys.readouterr().err
    assert NAME not in err
    assert "Quennell" not in err
    assert "12 Elm Row" not in err
    assert "rosalind@example.org" not in err
    lines = _json_lines(err)
    assert [line["event"] for line in lines] == [
        "case opened",
        "dispatch failed",
        "referral returned",
    ]
    opened, failed, returned = lines
    assert opened["client"] == REDACTED
    assert opened["case_id"] == str(cmd.case_id)
    assert failed["logger"] == "temporalio.activity"
    assert failed["payload"] == REDACTED
    assert failed["email"] == REDACTED
    assert failed["temporal_activity"] == {"activity_type": "dispatch_referral", "attempt": 2}
    assert returned["extra"] == {"notes": REDACTED, "referral_id": "r-1"}


MADE_AT_IMPORT = get_logger(component="made at import")
"""A module's logger made before logging is configured, as every module makes its own."""


def test_a_logger_made_at_import_follows_the_configuration_in_force(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A module-level logger (made when its module was imported, before
    `configure_logging` ran) writes where and how logging is configured now, through the
    redaction: it once kept structlog's defaults (stdout, nothing redacted)."""
    configure_logging(
        settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.JSON, CASEWORK_LOG_LEVEL="INFO"),
        force=True,
    )
    MADE_AT_IMPORT.info("client found", client={"name": NAME}, case_id="c-7")
    captured = capsys.readouterr()
    assert NAME not in captured.out + captured.err
    [line] = [entry for entry in _json_lines(captured.err) if entry["event"] == "client found"]
    assert line["client"] == REDACTED and line["component"] == "made at import"


def test_console_tracebacks_do_not_show_local_variables(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.CONSOLE), force=True)
    client_name = NAME
    try:
        raise ValueError("referral could not be sent")
    except ValueError:
        get_logger().exception("dispatch failed", case_id="c-1")
        logging.getLogger("temporalio.activity").exception("activity failed")
    err = capsys.readouterr().err
    assert "referral could not be sent" in err
    assert client_name not in err
