"""`casework inspect CASE`: what one case's workflow waits on, and whether it agrees."""

from __future__ import annotations

from typing import Any

import typer
from rich.panel import Panel
from rich.table import Table

from application import request_context
from application.bootstrap import Casework
from application.inspect import inspect_allowed, operator_actor
from casework.cli.context import JsonOption, call, dump
from casework.cli.output import console, emit

app = typer.Typer()


def _render(d: dict[str, Any]) -> None:
    verdict = (
        "[green]workflow, log and read model agree[/]"
        if not d["findings"]
        else "[bold red]" + "; ".join(d["findings"]) + "[/]"
    )
    console.print(
        Panel(
            f"workflow: {d['workflow_status']} (run {d['run_id']}, {d['history_length']} "
            f"history events)\nstate v{d['workflow_version']} · log v{d['log_version']} · "
            f"read model v{(d['read_model'] or {}).get('stream_version')} "
            f"(projection lag {d['projection_lag_events']} events)\n{verdict}",
            title=f"case {d['case_id']}",
        )
    )
    waiting = Table("waiting on", "detail", title="Pending")
    for timer in d["timers"]:
        waiting.add_row("timer", f"fires {timer['fires_at']}")
    for act in d["activities"]:
        waiting.add_row(
            f"activity {act['activity']}",
            f"attempt {act['attempt']}"
            + (f", last failure: {act['last_failure']}" if act["last_failure"] else ""),
        )
    for update in d["updates"]:
        waiting.add_row(f"update {update['update']}", f"accepted {update['accepted_at']}")
    console.print(waiting)
    attrs = Table("search attribute", "value")
    for name, value in sorted(d["search_attributes"].items()):
        attrs.add_row(name, value)
    console.print(attrs)
    events = Table("v", "when", "event", "by", title="Last events in the log")
    for e in d["last_events"]:
        events.add_row(str(e["version"]), e["occurred_at"], e["type"], e["actor"])
    console.print(events)


@app.command("inspect")
def inspect_command(
    case_id: str,
    reason: str = typer.Option(..., "--reason", help="Why you look (access log)."),
    as_json: bool = JsonOption,
) -> None:
    """The case's workflow, what it waits on, its log and read model, and any disagreement.

    An operator command, straight to the servers: the read is recorded in the access log
    with your operating-system user and the reason."""

    async def action(app: Casework) -> dict[str, Any]:
        actor = operator_actor(request_context.current().os_user or "unknown")
        return await inspect_allowed(app, actor, case_id, reason=reason)

    emit(dump(call(action, as_json)), as_json, _render)
