"""`casework inspect CASE`: what one case's workflow waits on, and whether it agrees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from casework.cli.choices import Dependency
from casework.cli.context import JsonOption, call, dump, settings_from_context
from casework.cli.output import ExitCode, console, emit, fail, run
from casework.i18n import _

if TYPE_CHECKING:
    from application.bootstrap import Casework

# Operator commands: each imports the server side when it runs.

app = typer.Typer()


def _render(d: dict[str, Any]) -> None:
    verdict = (
        "[green]" + escape(_("workflow, log and read model agree")) + "[/]"
        if not d["findings"]
        else "[bold red]" + escape("; ".join(d["findings"])) + "[/]"
    )
    lines = [
        _(
            "workflow: %(status)s (run %(run)s, %(history)s history events, task queue %(queue)s)",
            status=d["workflow_status"],
            run=d["run_id"],
            history=d["history_length"],
            queue=d["task_queue"],
        ),
        _(
            "state v%(state)s · log v%(log)s · read model v%(read_model)s (projection lag "
            "%(lag)s events)",
            state=d["workflow_version"],
            log=d["log_version"],
            read_model=(d["read_model"] or {}).get("stream_version"),
            lag=d["projection_lag_events"],
        ),
        _next_wakeup(d),
    ]
    failure = d["workflow_task_failure"]
    if failure is not None:
        lines.append(_task_failure(failure))
    if not d["case_data"]:
        lines.append(_("operator's view: the workflow's operational state, no case data"))
    console.print(
        Panel(
            escape("\n".join(lines)) + "\n" + verdict,
            title=_("case %(case)s", case=d["case_id"]),
        )
    )
    waiting = Table(_("waiting on"), _("detail"), title=_("Pending"))
    task = d["workflow_task"]
    if task is not None:
        waiting.add_row(
            _("workflow task"),
            ", ".join(
                (
                    task["state"],
                    _("attempt %(attempt)s", attempt=task["attempt"]),
                    _("scheduled %(when)s", when=task["scheduled_at"]),
                )
            ),
        )
    for timer in d["timers"]:
        waiting.add_row(_("timer"), _("fires %(when)s", when=timer["fires_at"]))
    for act in d["activities"]:
        detail = [act["state"], _("attempt %(attempt)s", attempt=act["attempt"])]
        if act["next_attempt"]:
            detail.append(_("next attempt %(when)s", when=act["next_attempt"]))
        if act["last_failure"]:
            detail.append(_("last failure: %(failure)s", failure=act["last_failure"]))
        waiting.add_row(
            escape(_("activity %(activity)s", activity=act["activity"])),
            escape(", ".join(detail)),
        )
    for update in d["updates"]:
        waiting.add_row(
            _("update %(update)s", update=update["update"]),
            _("accepted %(when)s", when=update["accepted_at"]),
        )
    console.print(waiting)
    attrs = Table(_("search attribute"), _("value"))
    for name, value in sorted(d["search_attributes"].items()):
        attrs.add_row(name, value)
    console.print(attrs)
    if d["case_data"]:
        events = Table(_("v"), _("when"), _("event"), _("by"), title=_("Last events in the log"))
        for e in d["last_events"]:
            events.add_row(str(e["version"]), e["occurred_at"], e["type"], e["actor"])
        console.print(events)


def _next_wakeup(d: dict[str, Any]) -> str:
    if d["next_wakeup"]:
        return _("next wakeup: %(when)s", when=d["next_wakeup"])
    if d["workflow_status"] == "RUNNING":
        return _("next wakeup: none scheduled: it waits for a command or a signal")
    return _("next wakeup: none: the workflow is not running")


def _task_failure(failure: dict[str, Any]) -> str:
    """The workflow's last task failure: when, why, and whether it has been resolved."""
    facts = {"at": failure["at"], "cause": failure["cause"], "message": failure["message"]}
    if failure["message"]:
        if failure["resolved"]:
            return _(
                "last workflow task failure: %(at)s %(cause)s: %(message)s (resolved since)",
                **facts,
            )
        return _(
            "last workflow task failure: %(at)s %(cause)s: %(message)s (not resolved)", **facts
        )
    if failure["resolved"]:
        return _("last workflow task failure: %(at)s %(cause)s (resolved since)", **facts)
    return _("last workflow task failure: %(at)s %(cause)s (not resolved)", **facts)


@app.command("inspect")
def inspect_command(
    case_id: str,
    reason: str = typer.Option(..., "--reason", help="Why you look (access log); required."),
    as_json: bool = JsonOption,
) -> None:
    """The case's workflow, what it waits on, its log and read model, and any disagreement.

    An operator command, straight to the servers: the read is recorded in the access log
    with your operating-system user and the reason. Operators see the workflow's
    operational state (status, pending timers, activities, updates and workflow task,
    its last task failure, next wakeup, search attributes), no case data."""
    if not reason.strip():
        fail(
            _(
                "--reason must say why you look at this case's workflow (it is recorded in the "
                "access log)"
            ),
            as_json,
            ExitCode.USAGE,
            kind="usage",
            field="--reason",
        )

    from application import request_context
    from application.inspect import inspect_allowed, operator_actor

    async def action(app: Casework) -> dict[str, Any]:
        actor = operator_actor(request_context.current().os_user or "unknown")
        return await inspect_allowed(app, actor, case_id, reason=reason)

    emit(dump(call(action, as_json)), as_json, _render)


@app.command("ready")
def ready_command(
    needs: list[Dependency] = typer.Option(
        [Dependency.POSTGRESQL, Dependency.TEMPORAL],
        "--needs",
        help="The servers this service depends on (repeatable); default both.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """A service's readiness (a container's health check): whether PostgreSQL at
    DATABASE_URL and Temporal at TEMPORAL_ADDRESS answer now. Exit 0 ready, 1 not
    (Docker's unhealthy), naming what is down."""
    from application import readiness as servers

    wanted = [servers.Dependency(need.value) for need in dict.fromkeys(needs)]
    checks = run(servers.readiness(settings_from_context(), wanted))
    ready = all(answer == "ok" for answer in checks.values())
    emit(
        {"ready": ready, "checks": checks},
        as_json,
        lambda d: console.print(
            _readiness(d["ready"], ", ".join(f"{k} {v}" for k, v in d["checks"].items())),
            highlight=False,
            soft_wrap=True,
        ),
    )
    if not ready:
        raise typer.Exit(ExitCode.REFUSED)


def _readiness(ready: bool, checks: str) -> str:
    if ready:
        return _("ready: %(checks)s", checks=checks)
    return _("not ready: %(checks)s", checks=checks)
