"""Top-level commands that run things: `up`, `worker`, `demo` and `setup`.

`up` and `demo` start the embedded stack through devtools.stack.running_stack;
`worker` runs one worker against a Temporal and PostgreSQL that already run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import console, emit, fail, run
from casework.i18n import _
from infrastructure.environment import EnvironmentProblem, environment_problem_in
from infrastructure.ports import port_taken
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from casework.codec_server import CodecServer

# What these commands run (the worker, the API, the codec server, migrations: the server
# side, temporalio and asyncpg) is imported by each command when it runs.

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
        from infrastructure.logs import get_logger

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


def api_port_free(settings: Settings) -> None:
    """Refuse, before starting anything, an HTTP API port another program holds."""
    if settings.http_port and port_taken(settings.http_port, settings.http_host):
        raise EnvironmentProblem(
            _(
                "port %(port)s (for the HTTP API on %(host)s) is in use by another program",
                port=settings.http_port,
                host=settings.http_host,
            ),
            "CASEWORK_HTTP_PORT",
            _("set CASEWORK_HTTP_PORT to a free port (0 leaves the API out of `casework up`)"),
        )


# --- casework serve ------------------------------------------------------------------


async def _serve(settings: Settings, dsn: str) -> None:
    from casework.api.service import run_api

    with signal_stop() as stopper:
        stopper.ready = True
        await run_api(settings, dsn=dsn, shutdown=stopper.event)


@app.command("serve")
def serve_command(as_json: bool = JsonOption) -> None:
    """Serve the HTTP API alone (against TEMPORAL_ADDRESS and DATABASE_URL), on
    CASEWORK_HTTP_HOST:CASEWORK_HTTP_PORT; stateless, so several may run behind a proxy."""
    from infrastructure.database import database_url
    from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys

    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework serve")
    api_port_free(settings)
    run(_serve(settings, database_url(settings)))


# --- casework worker ------------------------------------------------------------------


async def _worker(settings: Settings, dsn: str) -> None:
    from application.runtime import run_worker

    with signal_stop() as stopper:
        stopper.ready = True  # the worker drains on the event even while connecting
        await run_worker(settings, dsn=dsn, shutdown=stopper.event)


@app.command("worker")
def worker_command(as_json: bool = JsonOption) -> None:
    """Run one worker on the case task queue against TEMPORAL_ADDRESS and DATABASE_URL."""
    from infrastructure.database import database_url, redact
    from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys

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
            _(
                "worker for task queue %(queue)s on Temporal %(temporal)s and %(database)s "
                "(Ctrl-C stops)",
                queue=f"[bold]{d['task_queue']}[/]",
                temporal=d["temporal_address"],
                database=d["database"],
            )
        ),
    )
    try:
        run(_worker(settings, dsn))
    except (OSError, RuntimeError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(_("the worker could not run: %(error)s", error=exc), as_json)


# --- casework setup -------------------------------------------------------------------


async def _setup(settings: Settings) -> dict[str, Any]:
    from application.key_check import check_keys_match
    from application.migrations import apply_migrations
    from application.search_attributes import ensure_search_attributes
    from infrastructure.database import database_url
    from infrastructure.temporal import connect

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
    from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys

    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework setup")
    try:
        data = run(_setup(settings))
    except (OSError, RuntimeError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(_("setup failed: %(error)s", error=exc), as_json)
    emit(
        data,
        as_json,
        lambda d: console.print(
            _(
                "migrations applied: %(applied)s; search attributes added: %(added)s",
                applied=len(d["migrations_applied"]),
                added=", ".join(d["search_attributes_added"]) or _("none"),
            )
        ),
    )


# --- casework codec-server ------------------------------------------------------------


async def _codec_server(
    settings: Settings, host: str, port: int, origins: list[str], as_json: bool
) -> None:
    from casework.codec_server import serve

    def ready(server: CodecServer) -> None:
        emit(
            {"status": "ready", "url": server.url, "namespace": settings.temporal_namespace},
            as_json,
            lambda d: console.print(
                _(
                    "codec server on %(bold_url)s for namespace %(namespace)s (Ctrl-C stops). "
                    "Temporal UI: Data Encoder → %(url)s, pass access token; CLI: "
                    '--codec-endpoint %(url)s --codec-auth "Bearer <token>"',
                    bold_url=f"[bold]{d['url']}[/]",
                    url=d["url"],
                    namespace=d["namespace"],
                )
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
    from infrastructure.codec import CodecError
    from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys

    if port and port_taken(port, host):
        raise EnvironmentProblem(
            _(
                "port %(port)s (for the codec server on %(host)s) is in use by another program",
                port=port,
                host=host,
            ),
            "--port",
            _("choose a free port with --port"),
        )
    settings = settings_from_context()
    require_keys(settings, (CODEC, MASTER, ORIGIN), "casework codec-server")
    try:
        run(_codec_server(settings, host, port, allow_origin, as_json))
    except (OSError, CodecError, ValueError) as exc:
        if environment_problem_in(exc) is not None:
            raise  # starter.py: one line, exit code 3
        fail(_("the codec server could not run: %(error)s", error=exc), as_json)
