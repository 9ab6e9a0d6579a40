"""The embedded stack's background services (devtools/stack.py): the worker, the
projector and the notary (`SERVICES`), each an asyncio task sharing one shutdown event
and drained on exit, and the simulated providers and notification recipients on the
data directory's own port (`simulator_url`, `simulated_providers`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from application.notary import run_notary
from application.runtime import run_worker
from cases import commands as c
from cases.actors import SYSTEM_ACTOR
from devtools.provider_simulator import (
    PlannedReply,
    ProviderSimulator,
    ReceivedReferral,
    deliver_planned_replies,
)
from infrastructure.logs import get_logger
from infrastructure.ports import free_stable_port
from infrastructure.settings import Settings
from infrastructure.temporal import connect
from projections.service import run_projector
from workflows.case import CaseWorkflow

SERVICE_STOP_TIMEOUT = 30.0


class ServiceFn(Protocol):
    """A long-running service: runs until `shutdown` is set, then drains and returns."""

    def __call__(
        self, settings: Settings, *, dsn: str, shutdown: asyncio.Event
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Service:
    name: str
    run: ServiceFn


SERVICES: tuple[Service, ...] = (
    Service("worker", run_worker),
    Service("projector", run_projector),
    Service("notary", run_notary),
)
"""What the stack runs beside PostgreSQL and Temporal, in start order."""


SIMULATOR_FILE = "simulator.json"
"""In the data directory: the port of its provider simulator, chosen once, kept."""


def simulator_url(data_dir: Path) -> str:
    """The base URL of the data directory's provider simulator (`simulated_providers`).

    Its port is chosen (free, and outside the ephemeral range: infrastructure/ports.py)
    the first time and recorded in `<data_dir>/simulator.json`, so webhooks pointing at
    it stay valid from one run of the stack to the next."""
    path = data_dir.expanduser().resolve() / SIMULATOR_FILE
    try:
        port = json.loads(path.read_text())["port"]
    except (OSError, ValueError, KeyError, TypeError):
        port = None
    if not isinstance(port, int) or not 0 < port < 65536:
        port = free_stable_port()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"port": port}))
    return f"http://127.0.0.1:{port}"


async def simulated_providers(settings: Settings, *, dsn: str, shutdown: asyncio.Event) -> None:
    """Serve the simulated providers and notification recipients until `shutdown`.

    A referral posted to a simulated provider is acknowledged, then answered as the
    simulator's reply policy plans (accepted after a few seconds, later completed),
    each reply a `provider_replied` signal to the case workflow; notifications are
    acknowledged. Only webhooks pointing at `simulator_url` reach it (the demo's)."""
    log = get_logger(component="provider-simulator")
    client = await connect(settings)

    async def send(received: ReceivedReferral, reply: PlannedReply) -> None:
        command = c.ReferralReply(
            actor=SYSTEM_ACTOR,
            referral_id=received.referral_id or "",
            outcome=reply.outcome.value,
            reason=reply.reason,
        )
        handle = client.get_workflow_handle(f"case-{received.case_id}")
        try:
            await handle.signal(CaseWorkflow.provider_replied, command)
        except Exception as exc:  # the case may be gone; a simulated reply is best effort
            log.warning("simulated reply not delivered", case_id=received.case_id, error=str(exc))

    async def on_referral(received: ReceivedReferral) -> None:
        if received.case_id and received.referral_id:
            await deliver_planned_replies(received, send)

    port = int(simulator_url(settings.data_dir).rsplit(":", 1)[1])
    simulator = ProviderSimulator(port=port, on_referral=on_referral)
    try:
        await simulator.start()
    except OSError as exc:  # the stack runs on; only the simulated webhooks go unanswered
        log.warning(
            "simulated providers not served: their port is taken",
            port=port,
            error=str(exc),
            hint=f"free port {port}, or delete {SIMULATOR_FILE} in the data directory "
            "and run `casework demo` again",
        )
        await shutdown.wait()
        return
    try:
        log.info("simulated providers ready", url=simulator.base_url)
        await shutdown.wait()
    finally:
        await simulator.stop()


SIMULATED_PROVIDERS = Service("simulated-providers", simulated_providers)


async def run_service(
    service: Service, settings: Settings, dsn: str, shutdown: asyncio.Event
) -> None:
    log = get_logger(component="stack", service=service.name)
    log.info("service starting")
    try:
        await service.run(settings, dsn=dsn, shutdown=shutdown)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("service failed", error=repr(exc))
        raise
    log.info("service stopped")


async def stop_services(
    tasks: dict[str, asyncio.Task[None]],
    shutdown: asyncio.Event,
    grace: float = SERVICE_STOP_TIMEOUT,
) -> None:
    """Set `shutdown`, give every service `grace` seconds to drain, then cancel it."""
    shutdown.set()
    if not tasks:
        return
    log = get_logger(component="stack")
    _, pending = await asyncio.wait(tasks.values(), timeout=grace)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for name, task in tasks.items():
        if task in pending:
            log.warning("service did not drain in time; cancelled", service=name)
        elif not task.cancelled():
            task.exception()  # already logged by run_service; mark it retrieved
