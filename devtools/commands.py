"""The development commands: `casework up` and `casework demo` run the embedded stack
(devtools/stack.py `running_stack`); `starter.py` registers them beside the product's."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import typer
from rich.panel import Panel
from rich.table import Table

from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import console, emit, err_console, fail, run
from casework.cli.service_commands import api_port_free, signal_stop
from infrastructure.environment import environment_problem_in
from infrastructure.settings import LogFormat, Settings

if TYPE_CHECKING:
    from devtools.demo.run import DemoReport

# The stack, the demo and the API are imported by `up` and `demo` when they run: every
# other command of `casework` is built without them.

app = typer.Typer()


# --- casework up ----------------------------------------------------------------------


def _render_ready(info: dict[str, Any]) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Temporal UI", f"[link={info['temporal_ui']}]{info['temporal_ui']}[/link]")
    table.add_row(
        "Temporal", f"{info['temporal_address']} (namespace {info['temporal_namespace']})"
    )
    table.add_row("Task queue", info["task_queue"])
    table.add_row("Database", info["database"])
    table.add_row("psql", info["psql"])
    table.add_row("Services", ", ".join(info["services"]))
    if info.get("api"):
        table.add_row("Staff console", f"{info['api']}/console")
        table.add_row("HTTP API", f"{info['api']} (docs at {info['api']}/docs)")
    table.add_row("Data", info["data_dir"])
    console.print(Panel(table, title="Casework is up", border_style="green", expand=False))
    console.print("Press Ctrl-C to stop; the data stays for the next run.")


async def _up(settings: Settings, as_json: bool) -> None:
    from casework.api.service import run_api
    from devtools.stack import SERVICES, DataDirLock, Service, running_stack
    from infrastructure.logs import get_logger

    # A stack already on the data directory holds the API port too: say which first.
    DataDirLock(settings.data_dir.expanduser().resolve()).refuse_if_held()
    api_port_free(settings)
    services = (*SERVICES, Service("api", run_api)) if settings.http_port else None
    with signal_stop() as stopper:
        try:
            async with running_stack(settings, services=services) as stack:
                stopper.ready = True
                emit({"status": "ready", **stack.info()}, as_json, _render_ready)
                await stack.wait(stopper.event)
        except asyncio.CancelledError:
            stopper.absorb_cancel()
            get_logger().info("start-up interrupted; everything started was stopped")
            return
    if not as_json:
        console.print("Casework stopped.")


LogsOption = typer.Option(
    False,
    "--logs-to-terminal",
    help="Write log lines to the terminal instead of <data dir>/casework.log.",
)


def _logs_to_file(settings: Settings, to_terminal: bool) -> None:
    """Development logs go to a file under the data directory, so that the terminal shows
    the progress and the summary; JSON logs (production) stay on standard error."""
    from infrastructure.logs import configure_logging, log_file_for

    if to_terminal or settings.log_format is LogFormat.JSON:
        return
    path = log_file_for(settings)
    configure_logging(settings, force=True, to_file=path)
    err_console.print(f"logs: {path}", highlight=False, soft_wrap=True)


@app.command("up")
def up_command(as_json: bool = JsonOption, logs_to_terminal: bool = LogsOption) -> None:
    """Run the embedded stack in the foreground: PostgreSQL, Temporal, worker (Ctrl-C stops)."""
    from devtools.stack import StackError
    from infrastructure.keys import allow_development_keys

    settings = settings_from_context()
    allow_development_keys()  # the embedded stack: unset keys are made in the data directory
    _logs_to_file(settings, logs_to_terminal)
    try:
        run(_up(settings, as_json))
    except StackError as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(str(exc), as_json)


# --- casework demo --------------------------------------------------------------------


def _render_demo(data: dict[str, Any]) -> None:
    from casework.cli.report_commands import figure_text
    from devtools.demo.advocacy import advocacy_line, feedback_line
    from devtools.demo.notarised import checkpoint_lines
    from devtools.demo.run import actions_line, reviews_line

    console.rule("[bold]Casework demo: summary")
    console.print(
        f"{data['cases']} cases (seed {data['seed']}) in {data['elapsed_seconds']} s; paths: "
        + ", ".join(f"{k} {v}" for k, v in sorted(data["paths"].items()))
    )
    load = Table("team", "worker", "open", "by risk", "overdue reviews", title="Caseload")
    for row in data["caseload"]:
        risks = ", ".join(f"{k} {v}" for k, v in sorted(row["by_risk"].items()) if v)
        load.add_row(
            row["team"],
            row["worker"] or "-",
            str(row["open_cases"]),
            risks,
            str(row["overdue_reviews"]),
        )
    console.print(load)
    console.print(reviews_line(data["reviews"], data["escalations_by_path"]), highlight=False)
    console.print(
        actions_line(
            data.get("actions_overdue_by_team", {}), data.get("action_escalations_by_level")
        ),
        highlight=False,
    )
    levels = data["escalations_by_level"]
    console.print(
        "Open escalations: "
        + (", ".join(f"level {k}: {v}" for k, v in levels.items()) or "none yet")
        + f"; notifications delivered: {data['notifications_delivered']}"
    )
    goals = Table("domain", "team", "met", "partly", "not met", title="Outcomes by domain")
    for g in data["outcomes"]["goals"]:
        goals.add_row(
            g["domain"], g["team"], str(g["met"]), str(g["partly_met"]), str(g["not_met"])
        )
    console.print(goals)
    closures = data["outcomes"]["closures"]
    console.print(
        "Closures by reason: " + (", ".join(f"{k} {v}" for k, v in closures.items()) or "none")
    )
    console.print(advocacy_line(data["outcomes"]), highlight=False)
    console.print(feedback_line(data["outcomes"]), highlight=False)
    kpis = data.get("kpis")
    if kpis:
        console.print(
            f"KPIs {kpis['first_month']} to {kpis['last_month']} (as of signed checkpoint "
            f"#{kpis['sequence']}; `casework report kpi`, the console's dashboard): "
            + "; ".join(
                f"{f['title'].lower()} {figure_text(f)} (n {f['count']})" for f in kpis["figures"]
            ),
            highlight=False,
        )
    if data.get("policy_in_force"):
        console.print(
            f"Policy version {data['policy_in_force']} is in force again (reviews every 7 to "
            f"90 days by risk); cases still escalated: {data['escalated_after']}",
            highlight=False,
        )
    if data["failures"]:
        console.print(
            f"[red]{len(data['failures'])} failure(s)[/] (the demo exits 1; details in the log):"
        )
        for failure in data["failures"][:5]:
            console.print(f"  {failure}", highlight=False)
    console.rule("Where to look next")
    console.print(f"Temporal UI: {data['ui_url']}  (run [bold]make up[/] to keep it running)")
    if data["api_url"]:
        console.print(f"Console:     {data['api_url']}/console  (sign in as below)")
        console.print(f"HTTP API:    {data['api_url']}  (docs at {data['api_url']}/docs)")
    for staff_id, password in data["sign_ins"].items():
        console.print(
            f"Sign in as {staff_id:<12} [bold]casework login {staff_id}[/]  password: {password}",
            highlight=False,
        )
    console.print("As m.okafor:       [bold]casework overdue[/]")
    if data["interesting_case"]:
        case = data["interesting_case"]
        console.print(f"An escalated case: [bold]casework case show {case}[/] (m.okafor)")
        console.print(f"Its audit trail:   [bold]casework timeline {case}[/] (a.lindqvist)")
    console.print(f"Database:          {data['psql']}")
    console.print(f"The sign-ins are kept in {data['data_dir']}/demo-accounts.json (mode 0600).")
    for line in checkpoint_lines(data.get("checkpoint")):
        console.print(line, highlight=False, markup=False)


async def _demo(settings: Settings, **options: Any) -> DemoReport | None:
    from devtools.demo.run import run_demo

    with signal_stop() as stopper:
        try:
            return await run_demo(settings, console, **options)
        except asyncio.CancelledError:
            stopper.absorb_cancel()
            return None


@app.command("demo")
def demo_command(
    cases: int = typer.Option(200, "--cases", min=1, max=5000, help="How many cases."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same caseload."),
    watch: float = typer.Option(
        100, "--watch-seconds", min=0, help="How long to watch reviews lapse and escalate."
    ),
    as_json: bool = JsonOption,
    logs_to_terminal: bool = LogsOption,
) -> None:
    """Run a realistic caseload through the engine and print what it looks like.

    Starts the embedded stack (or uses the one `casework up` runs), seeds an agency,
    opens the caseload, walks every case through its lifecycle concurrently, lets the
    neglected cases' reviews lapse and escalate, prints a summary and exits.
    """
    from devtools.stack import StackError
    from infrastructure.keys import allow_development_keys

    settings = settings_from_context()
    allow_development_keys()  # the embedded stack: unset keys are made in the data directory
    _logs_to_file(settings, logs_to_terminal)
    try:
        report = run(_demo(settings, cases=cases, seed=seed, watch_seconds=watch))
    except StackError as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(str(exc), as_json)
    if report is None:
        fail("interrupted", as_json, code=130)
    emit(
        {
            "ok": not report.failures,
            "data_dir": str(settings.data_dir),
            **dataclasses.asdict(report),
        },
        as_json,
        _render_demo,
    )
    if report.failures:
        raise typer.Exit(1)
