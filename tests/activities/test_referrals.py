"""dispatch_referral against the real simulator: directly, and under a Temporal worker."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.referrals import (
    RETRY_POLICY,
    START_TO_CLOSE_TIMEOUT,
    DispatchReceipt,
    ReferralActivities,
    ReferralDispatch,
    referral_document,
    referral_idempotency_key,
)
from devtools.provider_simulator import Behaviour, Fault, ProviderSimulator
from tests.activities.dispatch_workflow import DispatchReferralWorkflow

PROVIDER = "food-bank"
CONSENTED = {"presenting_needs": ["food"], "contact": "call after 5pm"}


def make_dispatch(sim: ProviderSimulator, referral_id: str = "ref-1") -> ReferralDispatch:
    return ReferralDispatch(
        case_id=str(uuid.uuid4()),
        referral_id=referral_id,
        provider_id=PROVIDER,
        service_id="emergency-parcels",
        webhook_url=sim.provider_url(PROVIDER),
        payload=CONSENTED,
        idempotency_key=referral_idempotency_key(referral_id),
    )


async def test_dispatch_delivers_the_consented_payload_with_the_key(
    simulator: ProviderSimulator,
) -> None:
    dispatch = make_dispatch(simulator)
    receipt = await ActivityEnvironment().run(ReferralActivities().dispatch_referral, dispatch)
    (received,) = simulator.referrals_for(PROVIDER)
    assert receipt == DispatchReceipt(
        provider_reference=received.provider_reference,
        provider_status="received",
        attempts=1,
        channel="webhook",
    )
    assert received.headers["idempotency-key"] == "referral-ref-1"
    assert received.idempotency_key == dispatch.idempotency_key
    assert received.body == referral_document(dispatch)
    assert received.body["shared"] == CONSENTED
    assert received.referral_id == "ref-1" and received.case_id == dispatch.case_id


async def test_a_repeated_dispatch_is_one_referral_with_the_same_reference(
    simulator: ProviderSimulator,
) -> None:
    dispatch = make_dispatch(simulator)
    env = ActivityEnvironment()
    first = await env.run(ReferralActivities().dispatch_referral, dispatch)
    env.info = dataclasses.replace(env.info, attempt=2)
    second = await env.run(ReferralActivities().dispatch_referral, dispatch)
    assert second.provider_reference == first.provider_reference
    assert second.attempts == 2
    (received,) = simulator.referrals
    assert received.deliveries == 2


async def test_garbage_acknowledgement_and_timeout_fail_retryably(
    simulator: ProviderSimulator,
) -> None:
    activities = ReferralActivities(timeout_seconds=0.2)
    simulator.configure(PROVIDER, Behaviour(script=(Fault.GARBAGE, Fault.SLOW), delay=0.5))
    dispatch = make_dispatch(simulator)
    for expected in ("WebhookBadResponse", "WebhookTimeout"):
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(activities.dispatch_referral, dispatch)
        assert (err.value.type, err.value.non_retryable) == (expected, False)


async def test_dates_and_ids_in_the_payload_are_sent_as_text(
    simulator: ProviderSimulator,
) -> None:
    dispatch = make_dispatch(simulator).model_copy(
        update={"payload": {"date_of_birth": date(1980, 2, 29), "id": uuid.UUID(int=1)}}
    )
    await ActivityEnvironment().run(ReferralActivities().dispatch_referral, dispatch)
    (received,) = simulator.referrals
    assert received.body["shared"] == {
        "date_of_birth": "1980-02-29",
        "id": "00000000-0000-0000-0000-000000000001",
    }


def test_dispatch_refuses_a_non_http_url() -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        ReferralDispatch(
            case_id="c",
            referral_id="r",
            provider_id="p",
            service_id="s",
            webhook_url="file:///etc/passwd",
            idempotency_key="k",
        )


def test_recommended_policy() -> None:
    assert RETRY_POLICY.initial_interval.total_seconds() == 1
    assert RETRY_POLICY.backoff_coefficient == 2
    assert RETRY_POLICY.maximum_interval is not None
    assert RETRY_POLICY.maximum_interval.total_seconds() == 60
    assert RETRY_POLICY.maximum_attempts == 8
    assert START_TO_CLOSE_TIMEOUT.total_seconds() > ReferralActivities().timeout_seconds


# --- under a real worker: Temporal's retry policy does the retrying --------------------


async def run_dispatch(
    env: WorkflowEnvironment, activities: ReferralActivities, dispatch: ReferralDispatch
) -> DispatchReceipt:
    task_queue = f"dispatch-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[DispatchReferralWorkflow],
        activities=[activities.dispatch_referral],
    ):
        return await env.client.execute_workflow(
            DispatchReferralWorkflow.run,
            dispatch,
            id=f"dispatch-{uuid.uuid4()}",
            task_queue=task_queue,
        )


def keys_seen(sim: ProviderSimulator) -> list[str | None]:
    return [r.idempotency_key for r in sim.requests_for(PROVIDER)]


async def test_two_500s_then_success_under_retry(
    time_skipping_env: WorkflowEnvironment, simulator: ProviderSimulator
) -> None:
    simulator.configure(PROVIDER, Behaviour.failing_first(2))
    dispatch = make_dispatch(simulator)
    receipt = await run_dispatch(time_skipping_env, ReferralActivities(), dispatch)
    assert receipt.attempts == 3
    assert [r.status for r in simulator.requests_for(PROVIDER)] == [500, 500, 202]
    assert keys_seen(simulator) == [dispatch.idempotency_key] * 3
    (received,) = simulator.referrals
    assert received.deliveries == 1
    assert receipt.provider_reference == received.provider_reference


async def test_garbage_then_success_under_retry(
    time_skipping_env: WorkflowEnvironment, simulator: ProviderSimulator
) -> None:
    simulator.configure(PROVIDER, Behaviour.garbage_first(2))
    dispatch = make_dispatch(simulator)
    receipt = await run_dispatch(time_skipping_env, ReferralActivities(), dispatch)
    assert receipt.attempts == 3
    assert len(simulator.referrals) == 1
    assert keys_seen(simulator) == [dispatch.idempotency_key] * 3


async def test_timeout_then_success_under_retry_is_one_referral(
    time_skipping_env: WorkflowEnvironment, simulator: ProviderSimulator
) -> None:
    # The slow answer arrives after the client gave up: a lost acknowledgement.
    simulator.configure(PROVIDER, Behaviour.slow_first(1, delay=0.6))
    dispatch = make_dispatch(simulator)
    receipt = await run_dispatch(
        time_skipping_env, ReferralActivities(timeout_seconds=0.2), dispatch
    )
    assert receipt.attempts >= 2
    # Let the slow request finish: it stores nothing new, it is a repeat of the key.
    await simulator.wait_for(lambda: len(simulator.requests_for(PROVIDER)) == receipt.attempts)
    (received,) = simulator.referrals
    assert received.deliveries == receipt.attempts
    assert receipt.provider_reference == received.provider_reference
    assert set(keys_seen(simulator)) == {dispatch.idempotency_key}


async def test_400_fails_at_once_without_retry(
    time_skipping_env: WorkflowEnvironment, simulator: ProviderSimulator
) -> None:
    simulator.configure(PROVIDER, Behaviour.always(Fault.REJECT))
    with pytest.raises(WorkflowFailureError) as err:
        await run_dispatch(time_skipping_env, ReferralActivities(), make_dispatch(simulator))
    activity_error = err.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.non_retryable) == ("WebhookRejected", True)
    assert "400" in cause.message
    assert len(simulator.requests_for(PROVIDER)) == 1
    assert simulator.referrals == []


async def test_retries_exhausted_surface_the_last_error(
    time_skipping_env: WorkflowEnvironment, simulator: ProviderSimulator
) -> None:
    simulator.configure(PROVIDER, Behaviour.always(Fault.SERVER_ERROR))
    with pytest.raises(WorkflowFailureError) as err:
        await run_dispatch(time_skipping_env, ReferralActivities(), make_dispatch(simulator))
    assert isinstance(err.value.cause, ActivityError)
    cause = err.value.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "WebhookServerError"
    assert len(simulator.requests_for(PROVIDER)) == 5  # TEST_RETRY_POLICY.maximum_attempts
