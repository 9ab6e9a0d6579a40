"""What every command shares: the options declared once, and `drive`, the one way a
command opens Casework (the composition root, handed over through Typer's context),
runs one use case and prints its result or a clear error.

A command parses its input, calls `drive(...)` with the use case, and renders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

import asyncpg
import click
import typer
from pydantic import BaseModel, ValidationError

from application.bootstrap import Casework, open_casework
from application.case_client import CaseCommandRejected
from cases.actors import Actor
from casework.cli.output import console, emit, fail, run
from directory import DirectoryError
from events.keys import CryptoKeyError
from events.registry import EventValidationError
from infrastructure.settings import Settings, get_settings

T = TypeVar("T")

AsOption = typer.Option(
    ..., "--as", help="Your staff id: what you may do and see follows from your role."
)
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


def _failure(exc: BaseException) -> str | None:
    """The message a refused or failed command prints, or None for a bug (re-raised)."""
    if isinstance(exc, CaseCommandRejected):
        return str(exc)
    if isinstance(exc, ValidationError):
        return describe_validation(exc)
    if isinstance(
        exc,
        LookupError | PermissionError | DirectoryError | CryptoKeyError | EventValidationError,
    ):
        return str(exc)
    if isinstance(exc, asyncpg.UndefinedTableError):
        return "the event log or read-model tables are missing: run `casework migrate` first"
    if isinstance(exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError):
        return f"database unavailable: {exc}"
    if isinstance(exc, RuntimeError) and "connect" in str(exc).lower():
        return f"Temporal unavailable (start the stack with `casework up`): {exc}"
    return None


def call(work: Callable[[Casework], Awaitable[T]], as_json: bool, *, pool_size: int = 4) -> T:
    """Open Casework, run `work` on it, close it; a refusal or an outage fails the command."""

    async def main() -> T:
        async with open_casework(settings_from_context(), pool_size=pool_size) as app:
            return await work(app)

    try:
        return run(main())
    except Exception as exc:
        message = _failure(exc)
        if message is None:
            raise
        fail(message, as_json)


def call_as(staff_id: str, work: Callable[[Casework, Actor], Awaitable[T]], as_json: bool) -> T:
    """`call`, with the acting staff member resolved from `--as` first."""

    async def with_actor(app: Casework) -> T:
        return await work(app, await app.actor(staff_id))

    return call(with_actor, as_json)


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


def drive(
    as_json: bool,
    staff_id: str,
    action: Callable[[Casework, Actor], Awaitable[Any]],
    render: Callable[[Any], None] | None = None,
) -> None:
    """Resolve the actor, run the use case, print the result, or fail with the reason."""
    result = call_as(staff_id, action, as_json)
    emit(dump(result), as_json, render or (lambda d: console.print(summary(d))))


def summary(d: Any) -> str:
    """A command's result in one line for people."""
    import json

    if isinstance(d, dict) and "events" in d:
        events = ", ".join(d["events"]) or "no new events"
        extra = "".join(f" {k}={v}" for k, v in d.get("detail", {}).items())
        return f"case {d['case_id']} v{d['stream_version']} ({d['status']}): {events}{extra}"
    return json.dumps(d, indent=2, default=str)
