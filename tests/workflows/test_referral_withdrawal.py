"""Withdrawing a referral through the case workflow (the feature
cases/features/referral_withdrawal.py): the event in the log, the provider told once
through its referral channel, a late reply refused."""

from __future__ import annotations

import pytest

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases.actors import Actor, Role
from cases.evolve import fold
from cases.features.referral_withdrawal import WithdrawReferral
from cases.state import ReferralStatus
from devtools.provider_simulator import ProviderSimulator
from directory.resource_service import add_provider
from events.store import EventStore
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.faults.invariants import wait_until
from tests.workflows import scenarios

ADMIN = Actor(staff_id="root", role=Role.ADMIN)


async def test_a_withdrawn_referral_is_told_to_its_provider_once(
    case_worker: tuple[CaseClient, EventStore],
) -> None:
    cases, store = case_worker
    async with ProviderSimulator() as provider:
        url = provider.provider_url("shelter-1")
        await add_provider(store, ADMIN, "shelter-1", "Shelter", "housing", url)
        case_id = await scenarios.approved_plan(cases)
        await cases.execute(case_id, inputs.refer(url=url))
        stream = f"case-{case_id}"

        async def dispatched() -> bool:
            return "ReferralDispatched" in [e.event_type for e in await store.read_stream(stream)]

        assert await wait_until(dispatched, 60), "the referral was not dispatched"
        withdraw = WithdrawReferral(actor=ALICE, referral_id="referral-1", reason="moved away")
        await cases.execute(case_id, withdraw)
        await provider.wait_for(
            lambda: any(r.notice for r in provider.referrals_for("shelter-1")), 60
        )
        [referral, notice] = provider.referrals_for("shelter-1")
        assert referral.notice is None and notice.notice == "referral.withdrawn"
        assert notice.idempotency_key == f"{case_id}:referral-1:referral.withdrawn"
        assert {k: v for k, v in notice.body.items() if k != "at"} == {
            "type": "referral.withdrawn",
            "case_id": str(case_id),
            "referral_id": "referral-1",
            "provider_id": "shelter-1",
        }
        assert "moved away" not in str(notice.body)  # the reason is the client's business
        assert notice.planned_replies == ()

        # The provider's late reply is refused; so is a second withdrawal.
        late = c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
        with pytest.raises(CaseCommandRejected, match="withdrawn"):
            await cases.execute(case_id, late)
        with pytest.raises(CaseCommandRejected, match="referral-1 is withdrawn"):
            await cases.execute(case_id, withdraw)

    log = await store.read_stream(stream)
    assert [e.event_type for e in log].count("ReferralWithdrawn") == 1
    state = await cases.state(case_id)
    assert state.referrals["referral-1"].status is ReferralStatus.WITHDRAWN
    assert state == fold(log)
