"""A provider webhook that keeps failing: referral dispatch gives up cleanly, once.

The retry-then-succeed cases (500s, garbage, a reply slower than the client's
timeout, a 400) run on the real stack in test_process_kills.py, with the worker
being killed as well. Exhausting the retry policy takes minutes of backoff (8
attempts, 1 s doubling to 1 min), so it runs here, on the time-skipping test
server, where the backoff is skipped but the HTTP exchanges with the provider
simulator are real: after the last attempt the case records `ReferralDispatchFailed`
exactly once, the provider stored nothing, and the case goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.referrals import RETRY_POLICY
from application.case_client import CaseClient
from cases.evolve import fold
from cases.state import ReferralStatus
from devtools.provider_simulator import Behaviour, Fault, ProviderSimulator
from events.store import EventStore
from tests.cases import inputs
from tests.conftest import time_skipping_server
from tests.faults.conftest import FaultReport
from tests.workflows import scenarios
from tests.workflows.conftest import case_harness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this test's own: the backoff is skipped by jumping time,
    which a run another test left on the shared server (an activity a stopped worker had
    started) would hold back, each 5 s jump then taking 5 s of real time."""
    async with time_skipping_server() as env:
        yield env


DOWN = {"broken": Fault.SERVER_ERROR, "babbling": Fault.GARBAGE}
"""Providers that never answer properly: 500 every time, or 200 with a non-JSON body."""


async def _dispatched(
    env: WorkflowEnvironment, cases: CaseClient, case_id: object, referral_id: str
) -> None:
    """Skip the retry backoff (a few seconds of server time at a go) until the outcome."""
    for _ in range(200):
        state = await cases.state(str(case_id))
        if state.referrals[referral_id].status is not ReferralStatus.MADE:
            return
        await env.sleep(timedelta(seconds=5))
        await asyncio.sleep(0.02)
    raise AssertionError(f"{referral_id} never got a dispatch outcome")


async def test_dispatch_exhausts_its_retries_and_records_one_failure(
    own_env: WorkflowEnvironment, sealed_store: EventStore, fault_report: FaultReport
) -> None:
    attempts = RETRY_POLICY.maximum_attempts
    async with (
        ProviderSimulator() as simulator,
        case_harness(own_env, sealed_store) as cases,
    ):
        for provider_id, fault in DOWN.items():
            simulator.configure(provider_id, Behaviour.always(fault))
        case_id = await scenarios.approved_plan(cases, provider_ids=tuple(DOWN))
        stream = f"case-{case_id}"
        referral_ids = {}
        for provider_id in DOWN:
            result = await cases.execute(
                case_id, inputs.refer(url=simulator.provider_url(provider_id), provider=provider_id)
            )
            referral_ids[provider_id] = result.detail["referral_id"]
        for referral_id in referral_ids.values():
            await _dispatched(own_env, cases, case_id, referral_id)
        log = await sealed_store.read_stream(stream)
        state = await cases.state(case_id)

    for provider_id, referral_id in referral_ids.items():
        outcomes = [
            e
            for e in log
            if e.event_type in ("ReferralDispatched", "ReferralDispatchFailed")
            and e.data["referral_id"] == referral_id
        ]
        assert [e.event_type for e in outcomes] == ["ReferralDispatchFailed"], provider_id
        assert outcomes[0].data["attempts"] == attempts
        assert len(simulator.requests_for(provider_id)) == attempts
        assert not simulator.referrals_for(provider_id)
        assert state.referrals[referral_id].status is ReferralStatus.DISPATCH_FAILED
    assert state == fold(log, sealed_store.registry)
    fault_report.record(
        {
            "commands sent": 2,
            "accepted": 2,
            "rejected": 0,
            "events written": len(log),
            "faults injected": len(simulator.requests),
            "dispatch failures": len(referral_ids),
            "invariant violations": 0,
        }
    )


async def test_a_refused_dispatch_records_the_attempts_really_made(
    own_env: WorkflowEnvironment, sealed_store: EventStore
) -> None:
    async with (
        ProviderSimulator() as simulator,
        case_harness(own_env, sealed_store) as cases,
    ):
        simulator.configure("refuser", Behaviour.always(Fault.REJECT))
        case_id = await scenarios.approved_plan(cases, provider_ids=("refuser",))
        result = await cases.execute(
            case_id, inputs.refer(url=simulator.provider_url("refuser"), provider="refuser")
        )
        await _dispatched(own_env, cases, case_id, result.detail["referral_id"])
        log = await sealed_store.read_stream(f"case-{case_id}")
    [failed] = [e for e in log if e.event_type == "ReferralDispatchFailed"]
    assert len(simulator.requests_for("refuser")) == 1
    assert failed.data["attempts"] == 1
