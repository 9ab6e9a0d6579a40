"""What every command shares: the options declared once, and the two ways a command
reaches Casework.

* Staff commands (cases, queries, the directory, policy) are clients of the HTTP API
  as the signed-in staff member (`casework login`): `staff_call` sends one request and
  `staff_drive` prints its answer; the API decides what the caller may do.
* Operator commands (`up`, `migrate`, `verify`, `inspect`, `projections rebuild`, …)
  open Casework directly through the composition root: `call` runs one use case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import click
import typer
from pydantic import BaseModel, ValidationError

from casework.cli.api_client import api
from casework.cli.output import ExitCode, console, emit, fail, run
from casework.i18n import _
from infrastructure.environment import environment_problem_in
from infrastructure.settings import Settings, get_settings

if TYPE_CHECKING:
    from application.bootstrap import Casework

# The server side (application, asyncpg, the domain's errors) is imported by `call` and
# `_failure`, the operator commands' way in, when one runs: a staff command never loads it.

T = TypeVar("T")

JsonOption = typer.Option(False, "--json", help="Print the result as one JSON object.")
ReasonOption = typer.Option(None, "--reason", help="Why you read the case (access log).")
BreakGlassOption = typer.Option(
    None,
    "--break-glass",
    metavar="REASON",
    help="Emergency access to a case outside your scope: recorded with the reason, and "
    "the case's supervisors are notified.",
)


def settings_from_context() -> Settings:
    """The settings the `casework` callback put in Typer's context (or the environment's)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Settings) else get_settings()


def describe_validation(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in exc.errors()
    )


def _failure(exc: BaseException) -> tuple[str, str, int] | None:
    """How a refused or failed operator command ends (message, kind, exit code), or None
    for a bug, and for a problem of the environment (re-raised: starter.py `main` ends
    every command on one the same way)."""
    if environment_problem_in(exc) is not None:
        return None
    import asyncpg

    from application.case_client import CaseCommandRejected
    from directory import DirectoryError
    from events.keys import CryptoKeyError
    from events.registry import EventValidationError

    if isinstance(exc, CaseCommandRejected):
        return str(exc), "refused", ExitCode.REFUSED
    if isinstance(exc, ValidationError):
        return describe_validation(exc), "invalid", ExitCode.REFUSED
    if isinstance(
        exc,
        LookupError | PermissionError | DirectoryError | CryptoKeyError | EventValidationError,
    ):
        return str(exc), "refused", ExitCode.REFUSED
    if isinstance(exc, asyncpg.UndefinedTableError):
        return (
            _("the event log or read-model tables are missing: run `casework migrate` first"),
            "unavailable",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError | TimeoutError):
        return (
            _("database unavailable (is the stack running? casework up): %(error)s", error=exc),
            "unavailable",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, RuntimeError) and "connect" in str(exc).lower():
        return (
            _("Temporal unavailable (is the stack running? casework up): %(error)s", error=exc),
            "unavailable",
            ExitCode.UNAVAILABLE,
        )
    return None


def call(work: Callable[[Casework], Awaitable[T]], as_json: bool, *, pool_size: int = 4) -> T:
    """Open Casework, run `work` on it, close it; a refusal or an outage fails the command."""
    from application import request_context
    from application.bootstrap import open_casework

    async def main() -> T:
        # Run directly on the servers: the access log records the operating-system user.
        with request_context.bound(request_context.operator()):
            async with open_casework(settings_from_context(), pool_size=pool_size) as app:
                return await work(app)

    try:
        return run(main())
    except Exception as exc:
        failure = _failure(exc)
        if failure is None:
            raise
        message, kind, code = failure
        fail(message, as_json, code, kind=kind)


def dump(value: Any) -> Any:
    """A result as JSON-ready data (models dumped, lists and dicts walked)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def staff_call(
    method: str,
    path: str,
    *,
    as_json: bool,
    body: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One request to the API as the signed-in staff member: its JSON answer."""
    settings = settings_from_context()
    return api(
        settings, method, path, as_json=as_json, body=body, params=params, headers=headers
    ).data


def staff_drive(
    method: str,
    path: str,
    *,
    as_json: bool,
    body: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    render: Callable[[Any], None] | None = None,
) -> None:
    """`staff_call`, then print the answer (one line for people, or JSON)."""
    data = staff_call(method, path, as_json=as_json, body=body, params=params, headers=headers)
    emit(data, as_json, render or (lambda d: console.print(summary(d))))


def read_headers(reason: str | None, break_glass: str | None) -> dict[str, str]:
    """`--reason` and `--break-glass` as the API's headers (percent-encoded UTF-8)."""
    headers = {}
    if reason:
        headers["Casework-Reason"] = quote(reason, safe=" ")
    if break_glass:
        headers["Casework-Break-Glass"] = quote(break_glass, safe=" ")
    return headers


def summary(d: Any) -> str:
    """A command's result in one line for people."""
    import json

    if isinstance(d, dict) and "events" in d:
        events = ", ".join(d["events"]) or _("no new events")
        extra = "".join(f" {k}={v}" for k, v in d.get("detail", {}).items())
        return (
            _(
                "case %(case)s v%(version)s (%(status)s): %(events)s",
                case=d["case_id"],
                version=d["stream_version"],
                status=d["status"],
                events=events,
            )
            + extra
        )
    return json.dumps(d, indent=2, default=str)
