"""The embedded stack starts, answers, stops cleanly and keeps its data.

Ports are free ones and the data directory is temporary; PostgreSQL is a fresh test
database on the test server (DATABASE_URL path) or an embedded server of the
test's own (the newcomer's default path). Neither ever touches the shared server
beyond creating and dropping a database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import WorkflowExecutionStatus

from casework.stack import StackAlreadyRunning, running_stack
from demo.run import reviews_line
from events.store import EventStore
from infrastructure.embedded_postgres import free_port, port_answers
from infrastructure.settings import Settings
from tests.conftest import ROOT
from tests.events.factories import contact_event
from workflows import search_attributes

pytestmark = pytest.mark.timeout(120)


def stack_settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        CASEWORK_DATA_DIR=data_dir,
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        CASEWORK_TEMPORAL_UI_PORT=free_port(),
        CASEWORK_EMBEDDED_PG_PORT=free_port(),
        CASEWORK_TASK_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
    )


async def test_stack_runs_stops_and_keeps_temporal_data(database_url: str, tmp_path: Path) -> None:
    settings = stack_settings(tmp_path / "data", database_url)
    workflow_id = f"persistence-check-{uuid.uuid4()}"

    async with running_stack(settings) as stack:
        assert port_answers("127.0.0.1", settings.temporal_ui_port)
        assert set(stack.tasks) >= {"worker"}
        reply = await stack.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=settings.temporal_namespace)
        )
        for key in search_attributes.ALL:
            assert key.name in reply.custom_attributes

        store = EventStore(stack.pool)
        appended = await store.append("case-stack-test", 0, [contact_event(1)])
        [event] = await store.read_stream("case-stack-test")
        assert event.global_position == appended.global_positions[0]

        # A workflow no worker polls for: it must still be there after a restart.
        await stack.client.start_workflow(
            "NoSuchWorkflow", id=workflow_id, task_queue="nobody-polls-this"
        )

        # A second stack on the same data directory is refused, clearly.
        with pytest.raises(StackAlreadyRunning, match="already running"):
            async with running_stack(settings):
                pass
        process = stack.temporal

    assert process.returncode is not None
    assert not port_answers("127.0.0.1", settings.temporal_port)
    assert all(task.done() for task in stack.tasks.values())
    db_file = settings.data_dir / "temporal.db"
    assert db_file.stat().st_size > 0

    async with running_stack(settings, services=()) as again:
        assert again.temporal.pid != process.pid
        handle = again.client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")
        assert await EventStore(again.pool).stream_version("case-stack-test") == 1
    assert again.temporal.returncode is not None


async def test_embedded_postgres_path(tmp_path: Path) -> None:
    """No DATABASE_URL: the stack runs, migrates and stops an embedded PostgreSQL."""
    settings = stack_settings(tmp_path / "data", None)
    async with running_stack(settings, services=()) as stack:
        server = stack.embedded_postgres
        assert server is not None
        assert server.pgdata.is_relative_to(settings.data_dir.resolve())
        assert stack.dsn.endswith(f":{settings.embedded_pg_port}/casework")
        conn = await asyncpg.connect(stack.dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM events") == 0
        finally:
            await conn.close()
    assert not server.is_running()
    assert not port_answers("127.0.0.1", settings.embedded_pg_port)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_command(database_url: str, tmp_path: Path) -> None:
    """End to end on the real dev server with second-scale policy durations: the demo
    walks a small caseload; the workers do their reviews on time, so only the neglected
    cases' reviews go due, lapse and escalate (once each, up to the manager);
    notifications reach the simulator, and the command exits 0 after the summary."""
    settings = stack_settings(tmp_path / "data", database_url)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(settings.data_dir),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "CASEWORK_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),
        "CASEWORK_TASK_QUEUE": settings.task_queue,
        "CASEWORK_LOG_FORMAT": "console",
    }
    args = ["demo", "--cases", "12", "--seed", "3", "--watch-seconds", "120", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "starter", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["ok"] is True and data["failures"] == []
    assert data["cases"] == 12
    neglected = data["paths"].get("neglected", 0)
    assert neglected >= 1
    # Every neglected case reached the ladder's top (the manager) while we watched, and
    # the open escalations are theirs only: one each, not one per open case.
    assert data["escalations_by_level"] == {"2": neglected}
    assert data["escalations_by_path"] == {"neglected": neglected}
    assert data["notifications_delivered"] >= 2 * neglected
    # The workers did the other cases' reviews on time: no review of a case that is
    # not neglected lapsed or is overdue, and at least one was done while we watched.
    reviews = data["reviews"]
    assert reviews["lapsed_by_path"] == {"neglected": neglected}, reviews
    assert set(data["overdue_by_path"]) == {"neglected"}, data["overdue_by_path"]
    assert reviews["on_time"] >= 1 and reviews["late"] == 0, reviews
    assert data["interesting_case"] is not None
    summary = reviews_line(reviews, data["escalations_by_path"])
    assert f"lapsed: {neglected} (neglected {neglected}); open escalations" in summary
    assert sum(data["outcomes"]["closures"].values()) >= 1
    assert not port_answers("127.0.0.1", settings.temporal_port)
    # The log lines went to the data directory's log file, not to the terminal; server
    # addresses are not personal data and stay readable there.
    log_file = settings.data_dir / "casework.log"
    assert f"logs: {log_file}" in result.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "stack ready" in logged and "stack ready" not in result.stderr
    assert f"temporal_address={settings.temporal_address}" in logged
