"""The worker's Prometheus endpoint shows SDK metrics and Casework's own."""

from __future__ import annotations

import urllib.request
import uuid

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.case_client import CaseClient
from application.runtime import WORKFLOWS, activities_for
from cases import commands as c
from events.store import EventStore
from events.vocabulary import ContactKind
from infrastructure.embedded_postgres import free_port
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.workflows.scenarios import days_after_opening


async def test_metrics_endpoint(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> None:
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    client = await Client.connect(
        time_skipping_env.client.service_client.config.target_host,
        data_converter=TEST_DATA_CONVERTER,
        runtime=runtime,
    )
    queue = f"metrics-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client, task_queue=queue, workflows=list(WORKFLOWS), activities=activities_for(sealed_store)
    ):
        cases = CaseClient(client, queue, sealed_store)
        cmd = inputs.open_case()
        await cases.open(cmd)
        await cases.execute(
            cmd.case_id,
            c.LogContact(
                actor=ALICE,
                kind=ContactKind.PHONE,
                contact_date=await days_after_opening(cases, cmd.case_id, 1),
            ),
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:  # noqa: ASYNC210
            text = reply.read().decode()
        await cases.handle(cmd.case_id).terminate("test finished")
    assert "casework_events_appended" in text
    assert 'stream_kind="case"' in text
    assert "temporal_workflow_task" in text or "temporal_activity" in text
