"""A worker lost between appending a case's events and recording that it did.

The case workflow used to append through a *local* activity: the events are committed in
PostgreSQL first, and the workflow task that ran the append is recorded by Temporal
only when it completes. Kill the worker in between and the new worker replays a
history that never ran the append; if its activation differs from the lost one (a
command arrived meanwhile, a timer fired, an activity finished) it hands the same
deterministic event ids to other events, in another order. Found by
test_process_kills.py (about one run in two); this test makes it deterministic:

1. a case with an approved plan, on a worker that stalls right after committing a
   `ReferralDispatched` (tests/faults/pausing_worker.py);
2. a referral is made; its dispatch succeeds; `ReferralDispatched` is committed at
   the next version, with the next id of the workflow's uuid4 sequence;
3. while the worker stalls, a `LogContact` arrives; the worker is SIGKILLed and a
   normal worker takes over.

What a healthy engine does: the contact is accepted and the workflow's state equals
the fold of its stream. What happened before the fix: the new worker ran the
`LogContact` first, drew the id already used by the committed `ReferralDispatched`,
and the append failed with IdempotencyError; the case was stuck one version behind
its log. Fixed by appending through a regular activity (workflows/case/commit.py,
PATCH_APPEND_ACTIVITY): nothing is written before the decision is in history.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

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

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_a_worker_lost_after_an_append_leaves_the_case_consistent(tmp_path: Path) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        ledger = Ledger()
        driver = CaseDriver(
            stack.client, stack.task_queue, DEFAULT_POLICY, ledger, patience=60.0, store=stack.store
        )
        opened = await driver.open(inputs.open_case())
        case_id = opened.case_id
        for cmd in inputs.to_approved_plan():
            assert (await driver.send(case_id, cmd)).outcome is Outcome.ACCEPTED

        # The worker that stalls after committing a ReferralDispatched.
        await stack.worker.stop()
        pausing = ServiceProcess(
            "pausing-worker",
            ["tests.faults.pausing_worker", "ReferralDispatched"],
            stack.worker.env,
            stack.data_dir / "pausing-worker.log",
        )
        pausing.start()
        try:
            refer = await driver.send(
                case_id, inputs.refer(url=simulator.provider_url("shelter-1"))
            )
            assert refer.outcome is Outcome.ACCEPTED

            async def dispatched() -> bool:
                return bool(
                    await stack.pool.fetchval(
                        "SELECT count(*) FROM events WHERE stream_id = $1 "
                        "AND event_type = 'ReferralDispatched'",
                        f"case-{case_id}",
                    )
                )

            assert await wait_until(dispatched, 30.0, interval=0.05)
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
            await asyncio.sleep(1.0)  # the contact is waiting for the stalled workflow task
            pausing.kill()
        finally:
            await pausing.stop()
        stack.worker.start()
        sent = await contact

        log = await stack.store.read_stream(f"case-{case_id}")
        state = await stack.client.get_workflow_handle(workflow_id_for(case_id)).query(
            CaseWorkflow.case
        )
    assert sent.outcome is Outcome.ACCEPTED, sent.error
    assert state is not None and state == fold(log, stack.store.registry)
