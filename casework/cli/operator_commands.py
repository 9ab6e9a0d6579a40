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

if TYPE_CHECKING:
    from application.bootstrap import Casework

# Operator commands: each imports the server side when it runs.

app = typer.Typer()


def _render(d: dict[str, Any]) -> None:
    verdict = (
        "[green]workflow, log and read model agree[/]"
        if not d["findings"]
        else "[bold red]" + escape("; ".join(d["findings"])) + "[/]"
    )
    lines = [
        f"workflow: {d['workflow_status']} (run {d['run_id']}, {d['history_length']} "
        f"history events, task queue {d['task_queue']})",
        f"state v{d['workflow_version']} · log v{d['log_version']} · "
        f"read model v{(d['read_model'] or {}).get('stream_version')} "
        f"(projection lag {d['projection_lag_events']} events)",
        "next wakeup: "
        + (
            d["next_wakeup"]
            or (
                "none scheduled: it waits for a command or a signal"
                if d["workflow_status"] == "RUNNING"
                else "none: the workflow is not running"
            )
        ),
    ]
    failure = d["workflow_task_failure"]
    if failure is not None:
        lines.append(
            f"last workflow task failure: {failure['at']} {failure['cause']}"
            + (f": {failure['message']}" if failure["message"] else "")
            + (" (resolved since)" if failure["resolved"] else " (not resolved)")
        )
    if not d["case_data"]:
        lines.append("operator's view: the workflow's operational state, no case data")
    console.print(
        Panel(
            escape("\n".join(lines)) + "\n" + verdict,
            title=f"case {d['case_id']}",
        )
    )
    waiting = Table("waiting on", "detail", title="Pending")
    task = d["workflow_task"]
    if task is not None:
        waiting.add_row(
            "workflow task",
            f"{task['state']}, attempt {task['attempt']}, scheduled {task['scheduled_at']}",
        )
    for timer in d["timers"]:
        waiting.add_row("timer", f"fires {timer['fires_at']}")
    for act in d["activities"]:
        waiting.add_row(
            escape(f"activity {act['activity']}"),
            escape(
                f"{act['state']}, attempt {act['attempt']}"
                + (f", next attempt {act['next_attempt']}" if act["next_attempt"] else "")
                + (f", last failure: {act['last_failure']}" if act["last_failure"] else "")
            ),
        )
    for update in d["updates"]:
        waiting.add_row(f"update {update['update']}", f"accepted {update['accepted_at']}")
    console.print(waiting)
    attrs = Table("search attribute", "value")
    for name, value in sorted(d["search_attributes"].items()):
        attrs.add_row(name, value)
    console.print(attrs)
    if d["case_data"]:
        events = Table("v", "when", "event", "by", title="Last events in the log")
        for e in d["last_events"]:
            events.add_row(str(e["version"]), e["occurred_at"], e["type"], e["actor"])
        console.print(events)


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
            "--reason must say why you look at this case's workflow (it is recorded in the "
            "access log)",
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
            ("ready: " if d["ready"] else "not ready: ")
            + ", ".join(f"{k} {v}" for k, v in d["checks"].items()),
            highlight=False,
            soft_wrap=True,
        ),
    )
    if not ready:
        raise typer.Exit(ExitCode.REFUSED)
