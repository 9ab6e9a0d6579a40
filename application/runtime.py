"""The case worker: the workflows and activities it runs, assembled in one place.

`worker.py` (the `casework worker` service), the embedded stack, the fault tests and
the workflow tests all build their workers from here.
"""

from __future__ import annotations

import asyncio
import compileall
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.assessment import score_assessment
from activities.directory import DirectoryActivities
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from activities.store import StoreActivities
from activities.webhook_secrets import ProviderSecrets, store_keyring
from application.bootstrap import open_casework
from events.store import EventStore
from infrastructure import tracing
from infrastructure.logs import get_logger
from infrastructure.settings import Settings
from workflows.case import CaseWorkflow

WORKFLOWS: Sequence[type[Any]] = (CaseWorkflow,)


def provider_secrets(store: EventStore) -> ProviderSecrets | None:
    """The providers' signing secrets, opened with the store's master keyring (None for
    a store without one: tests and tools, whose referrals then go unsigned)."""
    keyring = store_keyring(store)
    return None if keyring is None else ProviderSecrets(store.pool, keyring)


def activities_for(store: EventStore) -> list[Any]:
    store_activities = StoreActivities(store)
    referral_activities = ReferralActivities(secrets=provider_secrets(store))
    notification_activities = NotificationActivities(store)
    directory_activities = DirectoryActivities(store)
    return [
        store_activities.append_events,
        store_activities.append_command,
        score_assessment,
        referral_activities.dispatch_referral,
        referral_activities.tell_provider,
        directory_activities.provider_channel,
        notification_activities.deliver_escalation,
        notification_activities.deliver_action_reminder,
    ]


def cache_workflow_bytecode() -> bool:
    """Write the bytecode of the workflow modules, if Python will not.

    The sandbox runs `workflows/case/` afresh for every workflow run it starts or
    replays (an open, a timer firing on an evicted case). Python reads that module's
    bytecode from `__pycache__` when it is there; with PYTHONDONTWRITEBYTECODE set (this
    project's Dockerfile, many CI machines) it is never written for an editable install,
    so every run compiled the module from source: a quarter of the worker's CPU while
    100,000 cases opened (docs/performance.md). Compiled once here instead (into
    `sys.pycache_prefix` when one is set). False if it could not be written (a
    read-only tree): the worker runs, more slowly."""
    if not sys.dont_write_bytecode:
        return True  # the first import writes it
    import workflows

    return bool(compileall.compile_dir(Path(workflows.__file__).parent, quiet=2))


def build_worker(
    client: Client, task_queue: str, store: EventStore, *, cached_cases: int = 1_000
) -> Worker:
    """The case worker; `cached_cases`: the settings' `worker_cached_cases`."""
    if not cache_workflow_bytecode():
        get_logger(task_queue=task_queue).warning(
            "workflow bytecode not cached: every workflow run compiles its module"
        )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(store),
        max_cached_workflows=cached_cases,
        # opentelemetry passed through the sandbox, for the TracingInterceptor a traced
        # client brings (infrastructure/tracing.py); untraced, nothing changes.
        workflow_runner=tracing.workflow_runner(),
    )


async def run_worker(
    settings: Settings, *, dsn: str, shutdown: asyncio.Event | None = None
) -> None:
    """Run until `shutdown` is set (or forever), then drain and stop."""
    log = get_logger(task_queue=settings.task_queue)
    # The event store, notifications and directory reads leave no session state.
    async with open_casework(
        settings, dsn=dsn, pool_size=10, stateless_pool=True, serve_metrics=True, service=True
    ) as app:
        worker = build_worker(
            await app.temporal(),
            settings.task_queue,
            app.store,
            cached_cases=settings.worker_cached_cases,
        )
        log.info("worker started", cached_cases=settings.worker_cached_cases)
        async with worker:
            await (shutdown or asyncio.Event()).wait()
        log.info("worker stopped")
