"""The `casework` command line: opens cases and drives them, and runs the stack.

Each area lives in a module of casework/cli/; this module assembles them.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
from typing import Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from casework import i18n
from casework.cli import (
    access_commands,
    action_commands,
    advocacy_commands,
    backup_commands,
    case_commands,
    case_file_commands,
    circle_commands,
    client_commands,
    client_record_commands,
    directory_commands,
    document_commands,
    hsds_commands,
    key_commands,
    notary_commands,
    operator_commands,
    policy_commands,
    portal_commands,
    projection_commands,
    report_commands,
    service_commands,
    session_commands,
    store_commands,
    webhook_secret_commands,
)
from casework.cli.output import environment_failure
from devtools import commands as development_commands
from infrastructure.environment import EnvironmentProblem, environment_problem_in
from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings


class JsonUsageErrors(TyperGroup):
    """With `--json`, even a mistyped command line answers one JSON object on stdout
    (`{"ok": false, "error": {"code": "usage", "message", "field"}}`) and exits 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        argv = list(kwargs.get("args") or (args[0] if args else None) or sys.argv[1:])
        if "--json" not in argv or kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except typer.Abort:
            sys.exit(130)
        except typer.TyperException as exc:  # unknown option, missing argument, bad value
            param = getattr(exc, "param", None)
            opts = getattr(param, "opts", None)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            error = {"code": "usage", "message": message, "field": opts[0] if opts else None}
            sys.stdout.write(json.dumps({"ok": False, "error": error}) + "\n")
            sys.stderr.write(f"error: {message}\n")
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=JsonUsageErrors,
    name="casework",
    help="Casework: event-sourced case management for human-services agencies.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
for _module_app in (
    session_commands.app,
    service_commands.app,
    development_commands.app,
    store_commands.app,
    projection_commands.app,
    operator_commands.app,
    access_commands.app,
    case_file_commands.app,
    backup_commands.app,
):
    app.registered_commands.extend(_module_app.registered_commands)
case_commands.case_app.add_typer(circle_commands.circle_app, name="circle")
case_commands.case_app.add_typer(circle_commands.conference_app, name="conference")
case_commands.case_app.add_typer(action_commands.case_action_app, name="action")
case_commands.case_app.add_typer(advocacy_commands.advocacy_app, name="advocacy")
case_commands.case_app.add_typer(document_commands.document_app, name="document")
app.add_typer(case_commands.case_app, name="case")
app.add_typer(action_commands.actions_app, name="actions")
app.add_typer(directory_commands.staff_app, name="staff")
directory_commands.provider_app.add_typer(
    webhook_secret_commands.webhook_secret_app, name="webhook-secret"
)
app.add_typer(directory_commands.provider_app, name="provider")
app.add_typer(hsds_commands.directory_app, name="directory")
app.add_typer(portal_commands.portal_app, name="portal")
app.add_typer(projection_commands.projections_app, name="projections")
app.add_typer(policy_commands.policy_app, name="policy")
client_commands.client_app.registered_commands.extend(
    client_record_commands.client_app.registered_commands
)
app.add_typer(client_commands.client_app, name="client")
app.add_typer(session_commands.token_app, name="token")
app.add_typer(notary_commands.notary_app, name="notary")
app.add_typer(key_commands.keys_app, name="keys")
app.add_typer(report_commands.report_app, name="report")


@app.callback()
def _setup(ctx: typer.Context) -> None:
    """Settings are read once here and handed to every command through the context.
    The command speaks the language of its environment (`CASEWORK_LANGUAGE`, else the
    POSIX locale variables), until the command ends."""
    ctx.with_resource(i18n.speaking(i18n.from_environment()))
    try:
        settings = get_settings()
    except ValidationError as exc:  # a setting of the environment (or .env) is malformed
        first = exc.errors()[0]
        setting = ".".join(str(part) for part in first["loc"]) or "the settings"
        raise EnvironmentProblem(
            # never its value: it may be a key
            i18n._("%(setting)s is not valid: %(reason)s", setting=setting, reason=first["msg"]),
            setting,
            i18n._("correct %(setting)s (see the README's Configuration)", setting=setting),
        ) from None
    configure_logging(settings)
    ctx.obj = settings


def main() -> None:
    """The `casework` command. A problem of the environment, whichever command met it,
    ends it with one line naming the cause and the setting to change, and exit code 3
    (casework/cli/output.py `environment_failure`). A command that ends (done, refused,
    or on such a problem) leaves through `_leave`."""
    i18n.use(i18n.from_environment())  # also for a problem met outside a command
    try:
        app()
    except SystemExit as done:
        _leave(done.code)
    except Exception as exc:
        problem = environment_problem_in(exc) or _unanswered_database(exc)
        if problem is None:
            raise
        try:
            environment_failure(problem, "--json" in sys.argv[1:])
        except SystemExit as done:
            _leave(done.code)


def _leave(code: object) -> None:
    """Exit with `code` once the exit handlers have run and the output is flushed, without
    the interpreter's finalisation: the Temporal SDK's runtime threads (a client's
    connection, its log forwarding) can call into Python while the interpreter finalises
    and abort a process whose work was done ("PyGILState_Release: thread state must be
    current", or a panic of a connection given up on: SIGABRT after `casework setup`
    printed its answer, and after an environment problem's line, both seen under load).
    Everything the command started is stopped by then."""
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        status = 1
    else:
        status = int(code) if isinstance(code, int) else 0
    atexit._run_exitfuncs()  # what finalisation would run (e.g. spans still to export)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


def _unanswered_database(exc: BaseException) -> EnvironmentProblem | None:
    """A connection refused that no code named: the database's (see `unanswered_database`)."""
    from infrastructure.database import database_url, unanswered_database

    try:
        dsn = database_url(get_settings())
    except ValidationError:
        return None
    return unanswered_database(exc, dsn)


if __name__ == "__main__":
    main()
