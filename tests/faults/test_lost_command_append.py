"""A worker lost between a command's LOCAL append and its workflow task's completion.

Since PATCH_LOCAL_APPEND (workflows/case/) a command's events are appended by a local
activity inside the workflow task that decided them: the events are committed in
PostgreSQL before Temporal records anything of the command. These tests kill the
worker in exactly that window (tests/faults/pausing_worker.py stalls right after the
commit; the test SIGKILLs it) and let a normal worker take over:

* a `LogContact` update: the client keeps waiting with the same update id; the new
  worker runs the update again, derives the same event ids from the update id, finds
  its first attempt in the log and answers with it. Exactly one `ContactLogged`;
* an open (update-with-start): the first workflow task is lost after `CaseOpened` was
  committed; the new worker finds the case in the log and folds it. Exactly one
  `CaseOpened`.

In both the workflow's state equals the fold of its stream, the stream's versions are
1..n with no gap, and the case takes the next command (it is not stuck behind its log).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from cases import commands as c
from cases.evolve import fold
from cases.policy import DEFAULT_POLICY
from cases.state import workflow_id_for
from devtools.provider_simulator import ProviderSimulator
from events.vocabulary import ContactKind
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.faults.invariants import wait_until
from tests.faults.load import CaseDriver, Ledger, Outcome, seed_agency
from tests.faults.procs import ServiceProcess, fault_stack
from workflows.case import CaseWorkflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _contact() -> c.LogContact:
    return c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=datetime.now(UTC).date())


async def _count(stack: Any, case_id: str, event_type: str) -> int:
    return int(
        await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = $2",
            f"case-{case_id}",
            event_type,
        )
    )


async def _local_appends(stack: Any, case_id: str) -> int:
    """Local `append_command` runs recorded in the case's history (the new path)."""
    history = await stack.client.get_workflow_handle(workflow_id_for(case_id)).fetch_history()
    n = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = e.marker_recorded_event_attributes.details
            if "data" in details:
                marker = json.loads(details["data"].payloads[0].data)
                n += marker.get("activity_type") == "append_command"
    return n


async def _assert_consistent(stack: Any, case_id: str) -> None:
    log = await stack.store.read_stream(f"case-{case_id}")
    assert [e.stream_version for e in log] == list(range(1, len(log) + 1))
    state = await stack.client.get_workflow_handle(workflow_id_for(case_id)).query(
        CaseWorkflow.case
    )
    assert state is not None and state == fold(log, stack.store.registry)


def _pausing_worker(stack: Any, event_type: str) -> ServiceProcess:
    return ServiceProcess(
        "pausing-worker",
        ["tests.faults.pausing_worker", event_type],
        stack.worker.env,
        stack.data_dir / f"pausing-worker-{event_type}.log",
    )


async def test_a_worker_lost_after_a_commands_local_append_writes_it_once(
    tmp_path: Path,
) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        driver = CaseDriver(
            stack.client, stack.task_queue, DEFAULT_POLICY, Ledger(), patience=90, store=stack.store
        )
        opened = await driver.open(inputs.open_case())
        assert opened.outcome is Outcome.ACCEPTED, opened.error
        case_id = opened.case_id
        assert (await driver.send(case_id, inputs.consent())).outcome is Outcome.ACCEPTED

        await stack.worker.stop()
        pausing = _pausing_worker(stack, "ContactLogged")
        pausing.start()
        try:
            contact = asyncio.create_task(driver.send(case_id, _contact()))

            async def committed() -> bool:
                return await _count(stack, case_id, "ContactLogged") == 1

            # The events are in the log; the workflow task that appended them is open.
            assert await wait_until(committed, 60.0, interval=0.05)
            assert not contact.done()
            pausing.kill()
        finally:
            await pausing.stop()
        stack.worker.start()
        sent = await contact
        assert sent.outcome is Outcome.ACCEPTED, sent.error
        assert sent.result is not None and sent.result.events == ["ContactLogged"]
        assert await _count(stack, case_id, "ContactLogged") == 1
        await _assert_consistent(stack, case_id)

        # Not stuck: the next command is appended after the recovered one.
        again = await driver.send(case_id, _contact())
        assert again.outcome is Outcome.ACCEPTED, again.error
        assert again.result is not None
        assert again.result.stream_version == sent.result.stream_version + 1
        assert await _count(stack, case_id, "ContactLogged") == 2
        await _assert_consistent(stack, case_id)
        assert await _local_appends(stack, case_id) >= 3  # the new path, not the activity


async def test_a_worker_lost_after_an_opens_local_append_opens_it_once(tmp_path: Path) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        driver = CaseDriver(
            stack.client, stack.task_queue, DEFAULT_POLICY, Ledger(), patience=90, store=stack.store
        )
        await stack.worker.stop()
        pausing = _pausing_worker(stack, "CaseOpened")
        pausing.start()
        cmd = inputs.open_case()
        case_id = str(cmd.case_id)
        try:
            opening = asyncio.create_task(driver.open(cmd))

            async def committed() -> bool:
                return await _count(stack, case_id, "CaseOpened") == 1

            assert await wait_until(committed, 60.0, interval=0.05)
            assert not opening.done()
            pausing.kill()
        finally:
            await pausing.stop()
        stack.worker.start()
        opened = await opening
        assert opened.outcome is Outcome.ACCEPTED, opened.error
        assert await _count(stack, case_id, "CaseOpened") == 1
        await _assert_consistent(stack, case_id)

        consent = await driver.send(case_id, inputs.consent())
        assert consent.outcome is Outcome.ACCEPTED, consent.error
        assert await _count(stack, case_id, "CaseOpened") == 1
        await _assert_consistent(stack, case_id)
