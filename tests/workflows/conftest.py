from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.case_client import CaseClient
from application.runtime import WORKFLOWS, activities_for
from cases import commands as c
from cases.policy import Policy
from events.store import EventStore
from workflows.case import CommandResult


class TrackingCaseClient(CaseClient):
    """Remembers the cases it opened, so a test can end their workflows afterwards.

    The time-skipping server is shared by the session: a case left running after its
    worker has stopped would hold back every later time jump."""

    opened: list[str]

    async def open(self, cmd: c.OpenCase, *, policy: Policy | None = None) -> CommandResult:
        self.opened = [*getattr(self, "opened", []), str(cmd.case_id)]
        return await super().open(cmd, policy=policy)

    async def terminate_all(self) -> None:
        for case_id in getattr(self, "opened", []):
            with contextlib.suppress(RPCError):
                await self.handle(case_id).terminate("test finished")


@asynccontextmanager
async def case_harness(
    env: WorkflowEnvironment, store: EventStore
) -> AsyncIterator[TrackingCaseClient]:
    task_queue = f"cases-{uuid.uuid4().hex[:8]}"
    cases = TrackingCaseClient(env.client, task_queue, store)
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=list(WORKFLOWS),
            activities=activities_for(store),
        ):
            yield cases
    finally:
        await cases.terminate_all()


@pytest.fixture
async def case_worker(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[tuple[CaseClient, EventStore]]:
    """A worker on a task queue of its own, over this test's own event store."""
    store = sealed_store
    async with case_harness(time_skipping_env, store) as cases:
        yield cases, store
