"""The processes a fault test owns, and how it breaks them.

`fault_stack(tmp_path)` starts, for one test:

* an embedded PostgreSQL in ``<tmp>/data/postgres`` on a free port (never the shared
  server at 127.0.0.1:5432), with the database `casework` migrated;
* a Temporal dev server (devtools.stack's `start_temporal` / `wait_for_temporal`) with
  its database file in ``<tmp>/data/temporal.db``;
* the worker (``python -m starter worker``) and the projector (``python -m starter
  projector``) as separate OS processes, so they can be SIGKILLed and restarted.

Every process gets the same environment (`stack_env`): DATABASE_URL,
TEMPORAL_ADDRESS, CASEWORK_TASK_QUEUE, CASEWORK_DATA_DIR and fixed
CASEWORK_MASTER_KEYS / CASEWORK_CODEC_KEYS, so the test, the worker and the
projector share one keyring. Each process logs (JSON lines) to ``<data>/<name>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from temporalio.client import Client

from application.migrations import apply_migrations
from devtools.stack import start_temporal, stop_temporal, wait_for_temporal
from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.origin import OriginKeyring
from events.store import EventStore
from infrastructure.database import EMBEDDED_DATABASE, create_pool, ensure_database
from infrastructure.embedded_postgres import EmbeddedPostgres, free_port, port_answers
from infrastructure.keys import master_keyring
from infrastructure.settings import Settings
from infrastructure.temporal import worker_polls
from tests.codec_keys import TEST_CODEC_KEYS
from tests.conftest import ROOT
from tests.replay_everything import replay_case_histories

FAULT_MASTER_KEYS = MasterKeyring.generate("fault-master").to_spec()
"""One master keyring for the test session: the worker seals, the test opens."""
FAULT_ORIGIN_KEYS = OriginKeyring.generate("fault-origin").to_spec()
"""The origin key every process of the stack signs with (none makes its own)."""

_ENV_OWNED = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "CASEWORK_TASK_QUEUE",
    "CASEWORK_DATA_DIR",
    "CASEWORK_MASTER_KEYS",
    "CASEWORK_CODEC_KEYS",
    "CASEWORK_ORIGIN_KEYS",
    "CASEWORK_ENGINE_DATABASE_URL",
    "CASEWORK_PROJECTOR_DATABASE_URL",
    "CASEWORK_EMBEDDED_PG_PORT",
    "CASEWORK_TEMPORAL_UI_PORT",
    "CASEWORK_LOG_FORMAT",
    "CASEWORK_LOG_LEVEL",
    "CASEWORK_METRICS_PORT",
)


def fault_settings(data_dir: Path) -> Settings:
    """Settings on free ports and a data directory of the test's own (no DATABASE_URL yet)."""
    return Settings.model_validate(
        {
            "CASEWORK_DATA_DIR": data_dir,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "CASEWORK_TEMPORAL_UI_PORT": free_port(),
            "CASEWORK_EMBEDDED_PG_PORT": free_port(),
            "CASEWORK_TASK_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
            "CASEWORK_CODEC_KEYS": SecretStr(TEST_CODEC_KEYS),
            "CASEWORK_MASTER_KEYS": SecretStr(FAULT_MASTER_KEYS),
            "CASEWORK_ORIGIN_KEYS": SecretStr(FAULT_ORIGIN_KEYS),
        }
    )


def stack_env(settings: Settings, dsn: str) -> dict[str, str]:
    """The environment every process of the stack runs with."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_OWNED}
    assert settings.codec_keys is not None and settings.master_keys is not None
    env.update(
        {
            "DATABASE_URL": dsn,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "CASEWORK_TASK_QUEUE": settings.task_queue,
            "CASEWORK_DATA_DIR": str(settings.data_dir),
            "CASEWORK_CODEC_KEYS": settings.codec_keys.get_secret_value(),
            "CASEWORK_MASTER_KEYS": settings.master_keys.get_secret_value(),
            "CASEWORK_ORIGIN_KEYS": FAULT_ORIGIN_KEYS,
            "CASEWORK_LOG_FORMAT": "json",
            "CASEWORK_LOG_LEVEL": "INFO",
        }
    )
    return env


class ServiceProcess:
    """One `python -m <command>` process (``starter worker``, …) a test can kill and restart."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.unexpected_exits: list[tuple[int, str]] = []
        """(exit code, the end of the log when the exit was noticed): the traceback."""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.check()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.command],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def check(self) -> None:
        """Note an exit nobody asked for (the test reports it)."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            if code != -signal.SIGKILL and code != 0:
                self.unexpected_exits.append((code, self.log_tail(4000)))
            self.process = None

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, exactly like a machine losing the process."""
        assert self.process is not None and self.running(), f"{self.name} is not running"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.kills += 1

    async def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (drain), then SIGKILL after `grace` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + grace
            while process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            if process.poll() is None:
                process.kill()
                process.wait()
        self.check()
        self.process = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class FaultStack:
    """Everything a fault test started, with the means to break each part."""

    settings: Settings
    data_dir: Path
    postgres: EmbeddedPostgres
    dsn: str
    temporal: subprocess.Popen[bytes]
    client: Client
    pool: asyncpg.Pool
    store: EventStore
    worker: ServiceProcess
    projector: ServiceProcess
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    @property
    def temporal_log(self) -> Path:
        return self.data_dir / "temporal.log"

    # --- faults ---------------------------------------------------------------------------

    def kill_worker(self, *, restart: bool = True) -> None:
        self.worker.kill()
        self.faults["worker SIGKILL"] += 1
        if restart:
            self.worker.start()

    def kill_projector(self, *, restart: bool = True) -> None:
        self.projector.kill()
        self.faults["projector SIGKILL"] += 1
        if restart:
            self.projector.start()

    async def restart_postgres(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.postgres.restart, mode)
        self.faults[f"postgres restart ({mode})"] += 1

    async def stop_postgres(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.postgres.stop, mode)
        assert not port_answers("127.0.0.1", self.postgres.port)

    async def start_postgres(self) -> None:
        await asyncio.to_thread(self.postgres.start)

    async def kill_temporal(self) -> None:
        """SIGKILL the dev server (its database file stays)."""
        self.temporal.kill()
        await asyncio.to_thread(self.temporal.wait)
        self.faults["temporal SIGKILL"] += 1

    async def start_temporal(self) -> None:
        """Start the dev server again on the same database file and port."""
        deadline = time.monotonic() + 30
        while port_answers("127.0.0.1", self.settings.temporal_port):
            if time.monotonic() > deadline:
                raise RuntimeError("the killed dev server's port never came free")
            await asyncio.sleep(0.2)
        self.temporal = start_temporal(self.settings, self.data_dir)
        await wait_for_temporal(self.settings, self.temporal, self.temporal_log)

    def check_processes(self) -> None:
        """Restart a worker or projector that exited by itself (and count it)."""
        for service in (self.worker, self.projector):
            if service.process is not None and not service.running():
                service.check()
                service.start()


@contextlib.asynccontextmanager
async def fault_stack(
    tmp_path: Path, *, worker: bool = True, projector: bool = True
) -> AsyncIterator[FaultStack]:
    """Start everything (see the module docstring); stop everything on exit."""
    data_dir = (tmp_path / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = fault_settings(data_dir)
    postgres = EmbeddedPostgres(data_dir / "postgres", settings.embedded_pg_port)
    async with contextlib.AsyncExitStack() as exits:
        await asyncio.to_thread(postgres.start)
        exits.push_async_callback(asyncio.to_thread, postgres.stop, "immediate")
        await ensure_database(postgres.dsn, EMBEDDED_DATABASE)
        dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/{EMBEDDED_DATABASE}"
        await apply_migrations(dsn)
        settings = settings.model_copy(update={"database_url": dsn})

        temporal = start_temporal(settings, data_dir)
        stack_holder: list[FaultStack] = []

        async def stop_dev_server() -> None:
            process = stack_holder[0].temporal if stack_holder else temporal
            await stop_temporal(process, grace=5)

        exits.push_async_callback(stop_dev_server)
        client = await wait_for_temporal(settings, temporal, data_dir / "temporal.log")
        pool = await create_pool(dsn, min_size=1, max_size=8)
        exits.push_async_callback(pool.close)
        store = EventStore(pool, cipher=FieldCipher(master_keyring(settings)))

        env = stack_env(settings, dsn)
        # Each process serves its metrics on a port of its own (the projector's lag
        # reporter runs only with a port).
        worker_process = ServiceProcess(
            "worker",
            ["starter", "worker"],
            {**env, "CASEWORK_METRICS_PORT": str(free_port())},
            data_dir / "worker.log",
        )
        projector_process = ServiceProcess(
            "projector",
            ["starter", "projector"],
            {**env, "CASEWORK_METRICS_PORT": str(free_port())},
            data_dir / "projector.log",
        )
        exits.push_async_callback(worker_process.stop)
        exits.push_async_callback(projector_process.stop)
        if worker:
            worker_process.start()
        if projector:
            projector_process.start()
        if worker:  # faults begin once the worker is up (a busy machine starts it slowly)
            deadline = time.monotonic() + 120
            while not await worker_polls(client, settings.task_queue):
                worker_process.check()
                assert worker_process.running(), f"the worker exited: see {worker_process.log}"
                assert time.monotonic() < deadline, "the worker did not poll within 120 s"
                await asyncio.sleep(0.2)
        stack = FaultStack(
            settings=settings,
            data_dir=data_dir,
            postgres=postgres,
            dsn=dsn,
            temporal=temporal,
            client=client,
            pool=pool,
            store=store,
            worker=worker_process,
            projector=projector_process,
        )
        stack_holder.append(stack)
        yield stack
        if stack.temporal.poll() is None:
            # Everything the faults made, replayed from a cold cache (the workers that
            # made it were killed, restarted and lost their caches along the way).
            await replay_case_histories(stack.client)
