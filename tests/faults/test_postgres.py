"""PostgreSQL restarted under load, then unreachable for 30 seconds.

The embedded PostgreSQL belongs to the test (tests/faults/procs.py); no other
server is touched. While cases are worked, the server is restarted with a fast
shutdown (every connection cut, transactions in flight rolled back), and later
stopped for 30 seconds and started again. The append activity keeps retrying: a
command sent meanwhile waits and completes after recovery, or ends with nothing
written. The projector and the notification outbox reconnect on their own.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devtools.provider_simulator import ProviderSimulator
from tests.cases import inputs
from tests.faults.conftest import FaultReport
from tests.faults.invariants import check_all
from tests.faults.load import (
    FAULT_POLICY,
    CaseDriver,
    Ledger,
    Outcome,
    run_load,
    seed_agency,
    under_faults,
)
from tests.faults.procs import FaultStack, fault_stack

# The outage and the load take about a minute; on a busy machine a command may wait out
# its patience (150 s) after recovery, so the limit leaves room for that twice over.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OUTAGE_SECONDS = 30.0


async def open_and_consent(driver: CaseDriver) -> None:
    opened = await driver.open(inputs.open_case())
    if opened.outcome is Outcome.ACCEPTED:
        await driver.send(opened.case_id, inputs.consent())


async def break_postgres(stack: FaultStack, driver: CaseDriver, outage: list[float]) -> None:
    """Restart it (fast), then stop it for 30 s while new cases are opened."""
    await asyncio.sleep(4.0)
    await stack.restart_postgres("fast")
    await asyncio.sleep(6.0)
    await stack.stop_postgres("fast")
    outage.append(time.monotonic())
    await asyncio.sleep(3.0)
    # Sent while the database is down: they wait, and complete after it is back.
    meanwhile = [asyncio.create_task(open_and_consent(driver)) for _ in range(3)]
    await asyncio.sleep(OUTAGE_SECONDS - 3.0)
    await stack.start_postgres()
    outage.append(time.monotonic())
    stack.faults[f"postgres unreachable {OUTAGE_SECONDS:.0f} s"] += 1
    await asyncio.gather(*meanwhile)
    await asyncio.sleep(3.0)  # some load after recovery too


async def test_postgres_restarted_and_unreachable(
    tmp_path: Path, fault_report: FaultReport
) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        ledger = Ledger()
        driver = CaseDriver(
            stack.client,
            stack.task_queue,
            FAULT_POLICY.model_copy(update={"version": 1}),
            ledger,
            patience=150.0,
            store=stack.store,
        )
        outage: list[float] = []
        faults = asyncio.create_task(break_postgres(stack, driver, outage))
        cases = await under_faults(
            faults,
            run_load(
                driver,
                [("shelter-1", simulator.provider_url("shelter-1"))],
                seed=23,
                concurrency=6,
                until=faults.done,
                min_cases=12,
            ),
        )
        await driver.resolve_unknown()
        verdict = await check_all(stack, ledger, simulator)

    down, up = outage
    in_flight = [s for s in ledger.sent if s.started_at <= up and s.started_at + s.seconds >= down]
    sent_meanwhile = [s for s in ledger.sent if down <= s.started_at <= up]
    verdict.figures["cases started"] = cases
    verdict.figures["in flight while down"] = len(in_flight)
    verdict.figures["sent while down"] = len(sent_meanwhile)
    verdict.figures["completed after recovery"] = sum(
        1 for s in in_flight if s.outcome is Outcome.ACCEPTED
    )
    fault_report.record(verdict.figures)

    assert not verdict.violations, "\n".join(verdict.violations[:30])
    assert len(sent_meanwhile) >= 3
    # Whatever was under way while the database was down completed after recovery, or
    # was refused by the case (an unknown fate is checked to have written nothing).
    assert all(s.outcome is not Outcome.UNKNOWN for s in in_flight)
    # An accepted command sent during the outage could only finish once the database was
    # back (`up` is taken when the restart returns, so allow a second of slack); a refused
    # one may be answered at once by the case's validator, which needs no database.
    assert all(
        s.started_at + s.seconds >= up - 1.0
        for s in sent_meanwhile
        if s.outcome is Outcome.ACCEPTED
    )
