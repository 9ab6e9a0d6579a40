"""A referral in the log that its workflow never ran is still sent to the provider.

A `Refer`'s events are appended by a local activity inside the workflow task that
decided them (PATCH_LOCAL_APPEND). A worker lost after that commit, whose client then
gives up and never sends the `Refer` again, leaves a `ReferralMade` in the log that the
workflow's history knows nothing of, and the provider's channel, which travels in the
command, with nobody. The next command finds the log ahead and folds the referral in
(`_catch_up`); since PATCH_DISPATCH_FOLDED the workflow then dispatches it to the
provider's channel as the resource directory has it. Before, it stayed `made` for good.

The lost worker's append is written here as it would have been (the engine's store,
the case's stream, the next version), which makes the window deterministic; the kill
itself is covered by test_lost_command_append.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.worker import Replayer

from cases import commands as c
from cases.evolve import fold
from cases.policy import DEFAULT_POLICY
from cases.state import ReferralStatus, workflow_id_for
from devtools.provider_simulator import ProviderSimulator
from directory import resolve_actor
from directory.resource_service import add_provider, add_service
from events.envelope import EventMetadata
from events.vocabulary import ContactKind, ReferralMade, SharedField
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.faults.invariants import wait_until
from tests.faults.load import CaseDriver, Ledger, Outcome, seed_agency
from tests.faults.procs import fault_stack
from workflows.case import CaseWorkflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_a_referral_folded_from_the_log_is_dispatched_once(tmp_path: Path) -> None:
    async with ProviderSimulator() as simulator, fault_stack(tmp_path) as stack:
        await seed_agency(stack.store, simulator.notification_url)
        admin = await resolve_actor(stack.store, "ada")
        await add_provider(
            stack.store,
            admin,
            "shelter-1",
            "Shelter",
            "housing",
            simulator.provider_url("shelter-1"),
        )
        await add_service(stack.store, admin, "shelter-1", "emergency-bed", "Bed", ["housing"])
        driver = CaseDriver(
            stack.client, stack.task_queue, DEFAULT_POLICY, Ledger(), patience=60, store=stack.store
        )
        case_id = (await driver.open(inputs.open_case())).case_id
        for cmd in inputs.to_approved_plan():
            assert (await driver.send(case_id, cmd)).outcome is Outcome.ACCEPTED

        # What the lost worker left: the referral committed, nothing of it in history.
        stream = f"case-{case_id}"
        made = ReferralMade(
            referral_id="referral-1",
            provider_id="shelter-1",
            service_id="emergency-bed",
            goal_id="housing",
            shared_fields=[SharedField.NAME, SharedField.CONTACT],
        )
        await stack.store.append_domain(
            stream,
            await stack.store.stream_version(stream),
            [(uuid.uuid4(), made)],
            EventMetadata(actor_id=ALICE.staff_id, actor_role=ALICE.role.value),
            datetime.now(UTC),
        )
        assert simulator.referrals_for("shelter-1") == []

        # The next command finds the log ahead, folds the referral and sends it.
        contact = c.LogContact(
            actor=ALICE, kind=ContactKind.PHONE, contact_date=datetime.now(UTC).date()
        )
        assert (await driver.send(case_id, contact)).outcome is Outcome.ACCEPTED

        async def dispatched() -> bool:
            return bool(
                await stack.pool.fetchval(
                    "SELECT count(*) FROM events WHERE stream_id = $1 "
                    "AND event_type = 'ReferralDispatched'",
                    stream,
                )
            )

        assert await wait_until(dispatched, 60.0, interval=0.1)
        # One more command through the case's lock: a second dispatch would be on its way.
        assert (await driver.send(case_id, contact)).outcome is Outcome.ACCEPTED
        log = await stack.store.read_stream(stream)
        handle = stack.client.get_workflow_handle(workflow_id_for(case_id))
        state = await handle.query(CaseWorkflow.case)
        # The new path replays: the history that folded and dispatched it is deterministic.
        replayer = Replayer(workflows=[CaseWorkflow], data_converter=stack.client.data_converter)
        await replayer.replay_workflow(await handle.fetch_history())
        received = simulator.referrals_for("shelter-1")

    assert [e.event_type for e in log].count("ReferralMade") == 1
    assert [e.event_type for e in log].count("ReferralDispatched") == 1
    assert [e.stream_version for e in log] == list(range(1, len(log) + 1))
    assert state is not None and state == fold(log, stack.store.registry)
    assert state.referrals["referral-1"].status is ReferralStatus.DISPATCHED
    assert [r.referral_id for r in received] == ["referral-1"]
    assert received[0].case_id == str(case_id)
