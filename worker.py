"""Runs a Temporal worker for the case task queue.

`casework worker` runs it on its own; `casework up` runs it beside the embedded stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.assessment import score_assessment
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from activities.store import StoreActivities
from casework.db import create_pool
from casework.logs import get_logger
from casework.settings import Settings
from casework.temporal import connect
from events.crypto import FieldCipher
from events.store import EventStore
from workflows.case import CaseWorkflow

WORKFLOWS: Sequence[type[Any]] = (CaseWorkflow,)


def activities_for(store: EventStore) -> list[Any]:
    store_activities = StoreActivities(store)
    referral_activities = ReferralActivities()
    notification_activities = NotificationActivities(store)
    return [
        store_activities.append_events,
        score_assessment,
        referral_activities.dispatch_referral,
        notification_activities.deliver_escalation,
    ]


def build_worker(client: Client, settings: Settings, store: EventStore) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(store),
    )


async def run_worker(
    settings: Settings, *, dsn: str, shutdown: asyncio.Event | None = None
) -> None:
    """Run until `shutdown` is set (or forever), then drain and stop."""
    log = get_logger(task_queue=settings.task_queue)
    client = await connect(settings, serve_metrics=True)
    # The event store, notifications and directory reads leave no session state.
    pool = await create_pool(dsn, max_size=10, stateless=True)
    try:
        store = EventStore(pool, cipher=FieldCipher(settings.master_keyring()))
        worker = build_worker(client, settings, store)
        log.info("worker started")
        async with worker:
            await (shutdown or asyncio.Event()).wait()
        log.info("worker stopped")
    finally:
        await pool.close()
