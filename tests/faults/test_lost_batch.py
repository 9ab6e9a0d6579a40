"""A worker lost after appending a command's whole batch, before its workflow task completes.

Since PATCH_ONE_APPEND (workflows/case/) a command's events and the reactions they set
off (cases/batch.py: here the review a reassessment moves) go to the log in ONE append.
This test breaks that path at its most delicate point, deterministically:

1. a case with an approved plan, on a worker that stalls right after committing a batch
   holding a `ReviewScheduled` (tests/faults/pausing_worker.py);
2. a reassessment is sent: `AssessmentRecorded` (by the worker) and the
   `ReviewScheduled` it causes (by the system) are committed in one transaction, and the
   activity never reports back;
3. while the worker stalls, a `LogContact` arrives; the worker is SIGKILLed and a normal
   worker takes over. Since PATCH_LOCAL_APPEND the append is a local activity inside the
   lost workflow task: the new worker runs the reassessment's update again, with event
   ids derived from its update id, and finds its first attempt in the log (the store
   writes nothing; the workflow folds what it had not seen).

What a healthy engine does: both commands are accepted; the workflow's state equals the
fold of its stream; nothing is duplicated (one reassessment, one review scheduled for it,
one contact) and every append the workflow decided committed exactly one transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

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
from tests.faults.conftest import FaultReport
from tests.faults.invariants import wait_until
from tests.faults.load import CaseDriver, Ledger, Outcome, seed_agency
from tests.faults.procs import ServiceProcess, fault_stack
from workflows.case import CaseWorkflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def test_a_worker_lost_after_a_batched_append_leaves_the_case_consistent(
    tmp_path: Path, fault_report: FaultReport
) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        ledger = Ledger()
        driver = CaseDriver(
            stack.client,
            stack.task_queue,
            DEFAULT_POLICY,
            ledger,
            patience=150.0,
            store=stack.store,
        )
        opened = await driver.open(inputs.open_case())
        case_id = opened.case_id
        stream = f"case-{case_id}"
        for cmd in inputs.to_approved_plan():
            assert (await driver.send(case_id, cmd)).outcome is Outcome.ACCEPTED
        version_before = await stack.store.stream_version(stream)

        # The worker that stalls after committing a batch holding a ReviewScheduled.
        await stack.worker.stop()
        pausing = ServiceProcess(
            "pausing-worker",
            ["tests.faults.pausing_worker", "ReviewScheduled"],
            stack.worker.env,
            stack.data_dir / "pausing-worker.log",
        )
        pausing.start()
        try:
            reassess = asyncio.create_task(driver.send(case_id, inputs.assessment(housing=1)))

            async def committed() -> bool:
                return await stack.store.stream_version(stream) > version_before

            assert await wait_until(committed, 60.0, interval=0.05), pausing.log_tail()
            batch = await stack.pool.fetch(
                "SELECT event_type, transaction_id::text AS tx, metadata->>'actor_id' AS actor "
                "FROM events WHERE stream_id = $1 AND stream_version > $2 "
                "ORDER BY stream_version",
                stream,
                version_before,
            )
            # The reassessment and the review it moved: one append, one transaction.
            assert [(r["event_type"], r["actor"]) for r in batch] == [
                ("AssessmentRecorded", "alice"),
                ("ReviewScheduled", "casework"),
            ]
            assert len({r["tx"] for r in batch}) == 1
            contact = asyncio.create_task(
                driver.send(
                    case_id,
                    c.LogContact(
                        actor=ALICE,
                        kind=ContactKind.PHONE,
                        contact_date=datetime.now(UTC).date(),
                    ),
                )
            )
            await asyncio.sleep(1.0)  # the contact is waiting behind the stalled append
            assert not reassess.done(), "the reassessment waits for its append's reply"
            pausing.kill()
        finally:
            await pausing.stop()
        stack.worker.start()
        reassessed, sent = await reassess, await contact

        log = await stack.store.read_stream(stream)
        handle = stack.client.get_workflow_handle(workflow_id_for(case_id))
        state = await handle.query(CaseWorkflow.case)
        history = await handle.fetch_history()
        transactions = await stack.pool.fetchval(
            "SELECT count(DISTINCT transaction_id) FROM events WHERE stream_id = $1", stream
        )
        rows = await stack.pool.fetch(
            "SELECT metadata->>'correlation_id' AS command, "
            "count(DISTINCT transaction_id) AS n FROM events WHERE stream_id = $1 "
            "GROUP BY 1",
            stream,
        )
        committed_by = {r["command"]: int(r["n"]) for r in rows}
        local_appends = 0
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                details = e.marker_recorded_event_attributes.details
                if "data" in details:
                    marker = json.loads(details["data"].payloads[0].data)
                    local_appends += marker.get("activity_type") == "append_command"

    assert reassessed.outcome is Outcome.ACCEPTED, reassessed.error
    assert sent.outcome is Outcome.ACCEPTED, sent.error
    assert state is not None and state == fold(log, stack.store.registry)
    types = Counter(e.event_type for e in log)
    assert types["AssessmentRecorded"] == 2
    assert types["ReviewScheduled"] == 3  # on opening, after each assessment
    assert types["ContactLogged"] == 1
    assert len({e.event_id for e in log}) == len(log)
    assert [e.stream_version for e in log] == list(range(1, len(log) + 1))
    assert reassessed.result is not None
    assert reassessed.result.events == ["AssessmentRecorded"]
    assert reassessed.result.stream_version == version_before + 2
    # Every command committed in exactly one transaction: the retried append wrote nothing.
    # (the commands sent as updates: the system's own appends carry the workflow's id)
    by_update = {k: n for k, n in committed_by.items() if k != workflow_id_for(case_id)}
    assert len(by_update) == 7 and all(n == 1 for n in by_update.values()), committed_by
    assert transactions >= len(by_update) + 1  # and the open
    # The new path (PATCH_LOCAL_APPEND): appends by the local `append_command`, whose
    # markers are in history; no regular append activity.
    assert local_appends >= len(by_update) + 1
    assert not any(
        e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "append_events"
        for e in history.events
    )
    fault_report.record(
        {
            "commands sent": len(ledger.sent),
            "accepted": ledger.count(Outcome.ACCEPTED),
            "events written": len(log),
            "appends": transactions,
            "faults injected": 1,
            "invariant violations": 0,
        }
    )
