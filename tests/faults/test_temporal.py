"""The Temporal dev server SIGKILLed under load and started again on its database file.

Workflows, timers, updates in flight and activity tasks live in the dev server's
SQLite file; the server is killed without warning (twice), then started again on
the same file and port. The worker and the test's client reconnect by themselves;
commands that were under way are sent again with the same update id. Afterwards
every invariant of tests/faults/invariants.py holds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devtools.provider_simulator import ProviderSimulator
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

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KILLS = 2


async def kill_temporal_repeatedly(stack: FaultStack) -> None:
    for _ in range(KILLS):
        await asyncio.sleep(6.0)
        await stack.kill_temporal()
        await asyncio.sleep(3.0)  # down: nothing answers on its port
        await stack.start_temporal()
    await asyncio.sleep(4.0)  # and some load after the last restart


async def test_temporal_dev_server_killed_and_restarted(
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
            store=stack.store,
        )
        faults = asyncio.create_task(kill_temporal_repeatedly(stack))
        cases = await under_faults(
            faults,
            run_load(
                driver,
                [("shelter-1", simulator.provider_url("shelter-1"))],
                seed=31,
                concurrency=6,
                until=faults.done,
                min_cases=12,
            ),
        )
        await driver.resolve_unknown()
        verdict = await check_all(stack, ledger, simulator)
        verdict.figures["cases started"] = cases
        fault_report.record(verdict.figures)

    assert not verdict.violations, "\n".join(verdict.violations[:30])
    assert stack.faults["temporal SIGKILL"] == KILLS
    assert ledger.count(Outcome.ACCEPTED) > 50
