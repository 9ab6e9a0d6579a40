"""Top-level commands that run things: `up`, `worker`, `demo` and `setup`.

`up` and `demo` start the embedded stack through casework.stack.running_stack;
`worker` runs one worker against a Temporal and PostgreSQL that already run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.panel import Panel
from rich.table import Table

from application.key_check import check_keys_match
from application.migrations import apply_migrations
from application.runtime import run_worker
from casework.api.service import run_api
from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import console, emit, err_console, fail, run
from casework.codec_server import CodecServer, serve
from casework.stack import (
    SERVICES,
    DataDirLock,
    Service,
    StackError,
    ensure_search_attributes,
    redact,
    running_stack,
)
from demo.advocacy import advocacy_line, feedback_line
from demo.notarised import checkpoint_lines
from demo.run import DemoReport, actions_line, reviews_line, run_demo
from infrastructure.codec import CodecError
from infrastructure.database import database_url
from infrastructure.environment import EnvironmentProblem, environment_problem_in
from infrastructure.keys import CODEC, MASTER, ORIGIN, allow_development_keys, require_keys
from infrastructure.logs import configure_logging, get_logger, log_file_for
from infrastructure.ports import port_taken
from infrastructure.settings import LogFormat, Settings
from infrastructure.temporal import connect

app = typer.Typer()

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """Ctrl-C / SIGTERM handling for long-running commands.

    The first signal sets `event` (a running command then stops cleanly); before the
    command has reached its steady state (`ready`), it also cancels the command's
    task so a slow start-up is abandoned, still cleanly.
    """

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.ready = False
        self.task = asyncio.current_task()
        self.interrupted = False

    def handle(self, signum: int) -> None:
        log = get_logger()
        if self.event.is_set():
            log.warning("already stopping; please wait", signal=signal.Signals(signum).name)
            return
        log.info("stopping", signal=signal.Signals(signum).name)
        self.event.set()
        if not self.ready and self.task is not None:
            self.interrupted = True
            self.task.cancel()

    def absorb_cancel(self) -> None:
        """Call on CancelledError: swallow it if our own signal caused it, else re-raise."""
        if not self.interrupted or self.task is None:
            raise asyncio.CancelledError
        self.task.uncancel()


@contextmanager
def signal_stop() -> Iterator[SignalStop]:
    loop = asyncio.get_running_loop()
    stopper = SignalStop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopper.handle, sig)
    try:
        yield stopper
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


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


def _api_port_free(settings: Settings) -> None:
    """Refuse, before starting anything, an HTTP API port another program holds."""
    if settings.http_port and port_taken(settings.http_port, settings.http_host):
        raise EnvironmentProblem(
            f"port {settings.http_port} (for the HTTP API on {settings.http_host}) is in use "
            "by another program",
            "CASEWORK_HTTP_PORT",
            "set CASEWORK_HTTP_PORT to a free port (0 leaves the API out of `casework up`)",
        )


async def _up(settings: Settings, as_json: bool) -> None:
    # A stack already on the data directory holds the API port too: say which first.
    DataDirLock(settings.data_dir.expanduser().resolve()).refuse_if_held()
    _api_port_free(settings)
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
    if to_terminal or settings.log_format is LogFormat.JSON:
        return
    path = log_file_for(settings)
    configure_logging(settings, force=True, to_file=path)
    err_console.print(f"logs: {path}", highlight=False, soft_wrap=True)


@app.command("up")
def up_command(as_json: bool = JsonOption, logs_to_terminal: bool = LogsOption) -> None:
    """Run the embedded stack in the foreground: PostgreSQL, Temporal, worker (Ctrl-C stops)."""
    settings = settings_from_context()
    allow_development_keys()  # the embedded stack: unset keys are made in the data directory
    _logs_to_file(settings, logs_to_terminal)
    try:
        run(_up(settings, as_json))
    except StackError as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(str(exc), as_json)


# --- casework serve ------------------------------------------------------------------


async def _serve(settings: Settings, dsn: str) -> None:
    with signal_stop() as stopper:
        stopper.ready = True
        await run_api(settings, dsn=dsn, shutdown=stopper.event)


@app.command("serve")
def serve_command(as_json: bool = JsonOption) -> None:
    """Serve the HTTP API alone (against TEMPORAL_ADDRESS and DATABASE_URL), on
    CASEWORK_HTTP_HOST:CASEWORK_HTTP_PORT; stateless, so several may run behind a proxy."""
    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework serve")
    _api_port_free(settings)
    run(_serve(settings, database_url(settings)))


# --- casework worker ------------------------------------------------------------------


async def _worker(settings: Settings, dsn: str) -> None:
    with signal_stop() as stopper:
        stopper.ready = True  # the worker drains on the event even while connecting
        await run_worker(settings, dsn=dsn, shutdown=stopper.event)


@app.command("worker")
def worker_command(as_json: bool = JsonOption) -> None:
    """Run one worker on the case task queue against TEMPORAL_ADDRESS and DATABASE_URL."""
    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework worker")
    dsn = database_url(settings)
    emit(
        {
            "status": "starting",
            "temporal_address": settings.temporal_address,
            "temporal_namespace": settings.temporal_namespace,
            "task_queue": settings.task_queue,
            "database": redact(dsn),
        },
        as_json,
        lambda d: console.print(
            f"worker for task queue [bold]{d['task_queue']}[/] on Temporal "
            f"{d['temporal_address']} and {d['database']} (Ctrl-C stops)"
        ),
    )
    try:
        run(_worker(settings, dsn))
    except (OSError, RuntimeError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(f"the worker could not run: {exc}", as_json)


# --- casework demo --------------------------------------------------------------------


def _render_demo(data: dict[str, Any]) -> None:
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


# --- casework setup -------------------------------------------------------------------


async def _setup(settings: Settings) -> dict[str, Any]:
    dsn = database_url(settings)
    applied = await apply_migrations(dsn)
    await check_keys_match(settings, dsn)
    client = await connect(settings)
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    return {"ok": True, "migrations_applied": applied, "search_attributes_added": added}


@app.command("setup")
def setup_command(as_json: bool = JsonOption) -> None:
    """Prepare existing servers: apply migrations, register the case search attributes.

    For deployments where PostgreSQL and Temporal run on their own (docker-compose.yml
    runs it once before the workers); `casework up` does this itself. Safe to rerun.
    The deployment's keys must be configured: setup checks them against the database.
    """
    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework setup")
    try:
        data = run(_setup(settings))
    except (OSError, RuntimeError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(f"setup failed: {exc}", as_json)
    emit(
        data,
        as_json,
        lambda d: console.print(
            f"migrations applied: {len(d['migrations_applied'])}; "
            f"search attributes added: {', '.join(d['search_attributes_added']) or 'none'}"
        ),
    )


# --- casework codec-server ------------------------------------------------------------


async def _codec_server(
    settings: Settings, host: str, port: int, origins: list[str], as_json: bool
) -> None:
    def ready(server: CodecServer) -> None:
        emit(
            {"status": "ready", "url": server.url, "namespace": settings.temporal_namespace},
            as_json,
            lambda d: console.print(
                f"codec server on [bold]{d['url']}[/] for namespace {d['namespace']} "
                f"(Ctrl-C stops). Temporal UI: Data Encoder → {d['url']}, pass access "
                f'token; CLI: --codec-endpoint {d["url"]} --codec-auth "Bearer <token>"'
            ),
        )

    with signal_stop() as stopper:
        stopper.ready = True
        await serve(
            settings,
            host=host,
            port=port,
            extra_origins=origins,
            stop=stopper.event,
            on_ready=ready,
        )


@app.command("codec-server")
def codec_server_command(
    port: int = typer.Option(8888, "--port", help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; anyone who reaches it can decrypt."
    ),
    allow_origin: list[str] = typer.Option(
        [],
        "--allow-origin",
        help="A Temporal UI origin allowed by CORS (repeatable), besides "
        "CASEWORK_CODEC_ALLOWED_ORIGINS; none by default.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Serve Temporal's codec protocol so operators can read encrypted payloads in the UI
    and CLI: each request needs an operator's or admin's token and is recorded in the
    access log."""
    if port and port_taken(port, host):
        raise EnvironmentProblem(
            f"port {port} (for the codec server on {host}) is in use by another program",
            "--port",
            "choose a free port with --port",
        )
    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework codec-server")
    try:
        run(_codec_server(settings, host, port, allow_origin, as_json))
    except (OSError, CodecError, ValueError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(f"the codec server could not run: {exc}", as_json)
