"""`casework inspect` and `casework verify` give true answers, also after a deliberate
inconsistency is introduced by hand (on the real dev server, which lists workflows)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.case_client import CaseClient
from application.consistency import check_consistency
from application.inspect import inspect_case
from application.runtime import WORKFLOWS, activities_for
from cases import commands as c
from events.store import EventStore
from events.vocabulary import ContactKind
from projections.catalog import all_projections
from projections.runner import run_projections
from tests.cases import inputs
from tests.cases.people import ALICE, MAX


async def catch_up(database_url: str) -> None:
    """Run the projector until it has applied everything, then stop it."""
    shutdown = asyncio.Event()
    task = asyncio.create_task(run_projections(database_url, all_projections(), shutdown))
    await asyncio.sleep(2.0)
    shutdown.set()
    await task


@pytest.mark.slow
async def test_inspect_and_verify_find_what_was_broken(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    client = dev_server.client
    queue = f"operator-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client, task_queue=queue, workflows=list(WORKFLOWS), activities=activities_for(sealed_store)
    ):
        cases = CaseClient(client, queue, sealed_store)
        opened = [inputs.open_case() for _ in range(3)]
        for cmd in opened:
            await cases.open(cmd)
            await cases.execute(
                cmd.case_id,
                c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=date(2027, 1, 4)),
            )
        await catch_up(database_url)
        # List visibility is eventually consistent on the dev server: wait for all three.
        for _ in range(50):
            report = await check_consistency(database_url, sealed_store, client)
            if report.running_workflows >= 3:
                break
            await asyncio.sleep(0.2)
        assert report.ok, report.findings
        assert report.open_cases == 3

        first, second, third = (cmd.case_id for cmd in opened)
        seen = await inspect_case(client, sealed_store, pool, MAX, str(first))
        assert seen.findings == []
        assert seen.workflow_status == "RUNNING"
        assert seen.workflow_version == seen.log_version == 3
        assert any("fires_at" in t for t in seen.timers)  # the review timer
        assert seen.search_attributes["CaseStatus"] == "open"
        assert seen.read_model is not None

        # Break things by hand: a read-model row, a running workflow, and the log.
        await pool.execute(
            "UPDATE case_summary SET worker = 'nobody' WHERE case_id = $1", str(first)
        )
        await cases.handle(second).terminate("deliberately broken")
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            await conn.execute(
                "UPDATE events SET data = jsonb_set(data, '{duration_minutes}', '99') "
                "WHERE stream_id = $1 AND event_type = 'ContactLogged'",
                f"case-{third}",
            )
            await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")

        for _ in range(50):
            report = await check_consistency(database_url, sealed_store, client)
            if report.running_workflows <= 2:
                break
            await asyncio.sleep(0.2)
        text = "\n".join(report.findings)
        assert not report.ok
        assert f"case-{second} is open in the log but has no running workflow" in text
        assert f"hash chain: case-{third} v3" in text
        assert "read model case_summary (case_summary) differs from a rebuild" in text

        broken = await inspect_case(client, sealed_store, pool, MAX, str(second))
        assert broken.workflow_status == "TERMINATED"
        assert any("open but its workflow is TERMINATED" in f for f in broken.findings)
