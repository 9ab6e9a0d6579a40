from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from casework.case_client import CaseClient
from casework.temporal import DATA_CONVERTER
from events.store import EventStore
from tests.temporal_env import TEST_SERVER
from worker import WORKFLOWS, activities_for
from workflows import search_attributes as sa


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=DATA_CONVERTER
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: k.indexed_value_type for k in sa.ALL},
        )
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def case_worker(
    time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> AsyncIterator[tuple[CaseClient, EventStore]]:
    """A worker on a task queue of its own, over this test's own event store."""
    store = EventStore(pool)
    task_queue = f"cases-{uuid.uuid4().hex[:8]}"
    client = time_skipping_env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(store),
    ):
        yield CaseClient(client, task_queue, store), store

