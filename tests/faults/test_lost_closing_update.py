"""The command that closed a case, its Update lost with a Temporal server killed, sent again.

Found once by test_temporal.py in session 8 ("DecideApproval … was unknown (RPCError:
workflow execution already completed) but wrote ['ApprovalGranted', 'CaseClosed']").
This test makes it deterministic:

1. a case whose closure Alice requested;
2. the test locks the events table and Carol's approval of the closure is sent: the
   worker's local activity waits on the lock to append ApprovalGranted and CaseClosed;
3. the Temporal server is SIGKILLed, then the lock released: the events are committed,
   but the workflow task that accepted the Update never reaches the server, and the
   Update itself (held in the server's memory until accepted) is lost with it;
4. the server restarts; Alice logs a contact (another Update): the workflow finds the log
   ahead of it, folds it, refuses the contact (the case is closed) and completes the run;
5. Carol's client sends the approval again with the same Update id. The server refuses
   it ("workflow execution already completed"): the run completed without it.

What a healthy engine does: the retry is answered as the first execution would have been
(ApprovalGranted and CaseClosed, the case closed) from the log (application/
update_answers.py), and nothing is written twice. Before the fix, CaseClient answered
"no running case workflow" for an approval that had closed the case.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import asyncpg
import pytest

from application.case_client import COMMANDS, CaseClient, CaseCommandRejected
from cases import commands as c
from cases.policy import DEFAULT_POLICY
from cases.state import CaseStatus
from devtools.provider_simulator import ProviderSimulator
from events.vocabulary import (
    ApprovalKind,
    ClosureReason,
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL
from tests.faults.invariants import wait_until
from tests.faults.load import seed_agency
from tests.faults.procs import fault_stack
from tests.workflows.scenarios import CLOSURE_APPROVED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def append_waiting_on(pool: asyncpg.Pool, holder: int) -> bool:
    """An INSERT into the events table waits for the lock `holder` took."""
    return bool(
        await pool.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM pg_stat_activity
                    WHERE $1 = ANY (pg_blocking_pids(pid)) AND query ~ 'INSERT INTO events')""",
            holder,
        )
    )


async def test_the_closing_approval_lost_with_the_server_is_answered_on_its_retry(
    tmp_path: Path,
) -> None:
    async with (
        ProviderSimulator() as simulator,
        fault_stack(tmp_path, projector=False) as stack,
    ):
        await seed_agency(stack.store, simulator.notification_url)
        cases = CaseClient(stack.client, stack.task_queue, stack.store)
        opened = inputs.open_case()
        case_id = opened.case_id
        await cases.open(opened, policy=DEFAULT_POLICY)
        for cmd in [
            *inputs.to_approved_plan(),
            c.RecordProgress(actor=ALICE, goal_id="housing", status=GoalStatus.MET),
            c.Evaluate(
                actor=ALICE,
                evaluations=[
                    GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")
                ],
                next_step=NextStep.CLOSE,
            ),
            c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET),
        ]:
            await cases.execute(case_id, cmd)
        opened_on = (await cases.state(case_id)).opened_at.date()
        stream = f"case-{case_id}"
        before = len(await stack.store.read_stream(stream))

        closing = str(uuid.uuid4())
        handle = cases.handle(case_id)
        lock = await asyncpg.connect(stack.dsn)
        try:
            tx = lock.transaction()
            await tx.start()
            await lock.execute("LOCK TABLE events IN SHARE MODE")
            first = asyncio.create_task(
                handle.execute_update(COMMANDS[c.DecideApproval], CLOSURE_APPROVED, id=closing)
            )
            holder = await lock.fetchval("SELECT pg_backend_pid()")
            assert await wait_until(lambda: append_waiting_on(stack.pool, holder), 60, 0.1), (
                "the approval's append never reached the database"
            )
            await stack.kill_temporal()
            await tx.rollback()
        finally:
            await lock.close()
        with contextlib.suppress(Exception):  # its answer is lost with the server
            await first

        async def approval_logged() -> bool:
            logged = await stack.store.read_stream(stream)
            return any(e.metadata.correlation_id == closing for e in logged)

        assert await wait_until(approval_logged, 60), "the approval's append never committed"
        await stack.start_temporal()

        # Another Update makes the workflow catch up with its log and complete.
        contact = c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=opened_on)
        with pytest.raises(CaseCommandRejected, match="closed"):
            await cases.execute(case_id, contact)
        final = await asyncio.wait_for(handle.result(), 120)
        assert final.status is CaseStatus.CLOSED

        # The server no longer knows the approval; the client answers it from the log.
        again = await cases.execute(case_id, CLOSURE_APPROVED, update_id=closing)
        assert again.events == ["ApprovalGranted", "CaseClosed"]
        assert again.status is CaseStatus.CLOSED
        logged = await stack.store.read_stream(stream)
        assert again.stream_version == len(logged)
        assert [e.event_type for e in logged[before:]] == ["ApprovalGranted", "CaseClosed"]

        # A command the closed case never ran is still refused.
        with pytest.raises(LookupError, match="no running case workflow"):
            await cases.execute(
                case_id,
                c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True),
            )
