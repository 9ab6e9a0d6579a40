"""The worker and the projector SIGKILLed again and again while cases are worked.

One stack, one load: cases opened, assessed, planned, approved, referred (to
providers that answer 500s, garbage, too slowly or refuse), contacts logged, some
closed, some left to lapse and escalate. Meanwhile the worker process is SIGKILLed
and restarted at least 5 times, and the projector is SIGKILLed while it works
through a backlog (mid-batch) again and again. Afterwards every invariant of
tests/faults/invariants.py holds.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import asyncpg
import pytest

from devtools.provider_simulator import Behaviour, Fault, ProviderSimulator
from projections.catalog import all_projections
from projections.runner import read_checkpoint
from tests.faults.conftest import FaultReport
from tests.faults.invariants import check_all, dispatch_outcomes
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

# Twelve projector restarts, six worker restarts and the invariant checks: about 150 s
# alone, 170 s beside two CPU burners; two suites at once made it take twice as long.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WORKER_KILLS = 6
PROJECTOR_KILLS = 12
MID_BATCH_KILLS = 3
"""Kills that must catch a batch transaction open. Every third kill (4 of 12) holds one
runner's batch open (its checkpoint row locked by the test) until the kill lands; the
others land wherever they fall, which on a loaded machine is rarely inside a batch
(the report counts those too)."""

HELD_BATCH_WAIT = 60.0
"""How long a held kill waits for a backlog and then for its runner to open a batch."""

PROVIDERS = {
    "shelter-1": Behaviour(),
    "flaky": Behaviour.failing_first(3),
    "garbled": Behaviour.garbage_first(2),
    "sluggish": Behaviour.slow_first(1, delay=12.0),
    "refuser": Behaviour.always(Fault.REJECT),
}
"""Webhooks that answer 500s, non-JSON, too late (past the 10 s client timeout), or
refuse (400: not retryable, so `ReferralDispatchFailed` at once)."""


async def kill_worker_repeatedly(stack: FaultStack, kills: int, rng: random.Random) -> None:
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(4.0, 7.0))
        stack.kill_worker()


async def batch_open(pool: asyncpg.Pool, tables: list[str]) -> bool:
    """A projector batch transaction is open right now (not its lag reporter's status query)."""
    return bool(
        await pool.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM pg_stat_activity
                    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                      AND xact_start IS NOT NULL
                      AND state IN ('active', 'idle in transaction')
                      AND query ~ $1 AND query !~ 'pg_locks')""",
            "|".join(tables),
        )
    )


async def batch_waiting_on(pool: asyncpg.Pool, holder: int) -> bool:
    """A runner's batch transaction is open, waiting for the checkpoint row `holder` locked."""
    return bool(
        await pool.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM pg_stat_activity
                    WHERE $1 = ANY (pg_blocking_pids(pid)) AND xact_start IS NOT NULL
                      AND query ~ 'FROM projection_checkpoints' AND query ~ 'FOR UPDATE')""",
            holder,
        )
    )


async def has_backlog(stack: FaultStack, projection: str) -> bool:
    """Events committed past `projection`'s checkpoint, readable now."""
    async with stack.pool.acquire() as conn:
        cursor = await read_checkpoint(conn, projection)
    return bool(await stack.store.read_all(cursor, 1))


async def kill_inside_held_batch(stack: FaultStack, projection: str) -> bool:
    """With the projector down: wait for `projection` to have events to read, hold its
    checkpoint row and start the projector, so that runner's batch (its events read)
    waits inside its transaction; SIGKILL the projector there, then let go.

    The backlog comes first because the hold's transaction keeps events committed after
    it out of every read (`read_all` returns only what no older transaction can precede).
    Returns whether a batch was caught open; the projector is down afterwards."""
    deadline = time.monotonic() + HELD_BATCH_WAIT
    while not await has_backlog(stack, projection):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    async with stack.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", projection
        )
        holder = await conn.fetchval("SELECT pg_backend_pid()")
        stack.projector.start()
        while time.monotonic() < deadline:
            if await batch_waiting_on(stack.pool, holder):
                stack.kill_projector(restart=False)
                return True
            await asyncio.sleep(0.05)
        stack.kill_projector(restart=False)
        return False


async def kill_projector_mid_batch(
    stack: FaultStack, kills: int, rng: random.Random
) -> tuple[int, int]:
    """Let a backlog build while it is down, restart it, SIGKILL it inside a batch.

    Every third kill holds a runner's batch open until it lands; the others land where
    they fall. Returns how many held kills caught their batch, and how many of the others
    found a batch transaction open (on a loaded machine few do: the backlog is applied
    before the kill, or the kill hits the projector while it starts).
    """
    tables = ["projection_checkpoints", *(t for p in all_projections() for t in p.tables)]
    names = [p.name for p in all_projections()]
    held = unheld = 0
    for attempt in range(1, kills + 1):
        if stack.projector.running():
            stack.kill_projector(restart=False)
        await asyncio.sleep(rng.uniform(1.5, 3.0))  # events pile up
        if attempt % 3 == 0:
            held += await kill_inside_held_batch(stack, names[attempt % len(names)])
            continue
        stack.projector.start()
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            if await batch_open(stack.pool, tables):
                unheld += 1
                break
            await asyncio.sleep(0.005)
    if stack.projector.running():
        stack.kill_projector(restart=False)
    stack.projector.start()
    return held, unheld


async def test_worker_and_projector_killed_repeatedly(
    tmp_path: Path, fault_report: FaultReport
) -> None:
    rng = random.Random(1)
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        for provider_id, behaviour in PROVIDERS.items():
            simulator.configure(provider_id, behaviour)
        await seed_agency(stack.store, simulator.notification_url)
        ledger = Ledger()
        driver = CaseDriver(
            stack.client,
            stack.task_queue,
            FAULT_POLICY.model_copy(update={"version": 1}),
            ledger,
            store=stack.store,
        )
        worker_faults = asyncio.create_task(kill_worker_repeatedly(stack, WORKER_KILLS, rng))
        projector_faults = asyncio.create_task(
            kill_projector_mid_batch(stack, PROJECTOR_KILLS, rng)
        )
        both = asyncio.gather(worker_faults, projector_faults)
        cases = await under_faults(
            asyncio.ensure_future(both),
            run_load(
                driver,
                [(p, simulator.provider_url(p)) for p in PROVIDERS],
                seed=11,
                concurrency=8,
                until=both.done,
                min_cases=20,
            ),
        )
        held, unheld = projector_faults.result()
        await driver.resolve_unknown()
        verdict = await check_all(stack, ledger, simulator)

        verdict.figures["projector kills in a held batch"] = held
        verdict.figures["projector kills mid-batch, unheld"] = unheld
        verdict.figures["cases started"] = cases
        fault_report.record(verdict.figures)

    assert not verdict.violations, "\n".join(verdict.violations[:30])
    assert stack.faults["worker SIGKILL"] >= 5
    assert stack.faults["projector SIGKILL"] >= 5 and held >= MID_BATCH_KILLS
    assert ledger.count(Outcome.ACCEPTED) > 100
    # Webhook faults: retried to one stored referral each, or failed at once on a 400.
    outcomes = dispatch_outcomes(verdict.events)
    for provider_id in PROVIDERS:
        expected = "ReferralDispatchFailed" if provider_id == "refuser" else "ReferralDispatched"
        assert set(outcomes[provider_id]) == {expected}, (provider_id, outcomes[provider_id])
    for provider_id in ("flaky", "garbled", "sluggish"):
        faulted = [r for r in simulator.requests_for(provider_id) if r.fault is not Fault.OK]
        assert faulted, f"{provider_id} never misbehaved"
    assert not simulator.referrals_for("refuser")
    assert max(r.deliveries for r in simulator.referrals_for("sluggish")) >= 2
