"""The provider simulator: idempotent on the key, faults on demand, deterministic replies."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from activities.webhooks import post_json
from devtools.provider_simulator import (
    Behaviour,
    Fault,
    PlannedReply,
    ProviderSimulator,
    ReceivedReferral,
    ReplyOutcome,
    ReplyPolicy,
    deliver_planned_replies,
)


async def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_referral_is_stored_once_per_key_and_repeats_get_the_same_reference(
    simulator: ProviderSimulator,
) -> None:
    url = simulator.provider_url("p1")
    first = await post_json(url, {"referral_id": "a"}, idempotency_key="k-a")
    again = await post_json(url, {"referral_id": "a"}, idempotency_key="k-a")
    other = await post_json(url, {"referral_id": "b"}, idempotency_key="k-b")
    assert first.status == again.status == 202
    assert first.body == {
        "status": "received",
        "provider_reference": "p1-R00001",
        "duplicate": False,
    }
    assert again.body["provider_reference"] == "p1-R00001" and again.body["duplicate"] is True
    assert other.body["provider_reference"] == "p1-R00002"
    assert [r.idempotency_key for r in simulator.referrals_for("p1")] == ["k-a", "k-b"]
    stored = simulator.referral("p1", "k-a")
    assert stored is not None and stored.deliveries == 2
    # the same key at another provider is another referral
    await post_json(simulator.provider_url("p2"), {"referral_id": "a"}, idempotency_key="k-a")
    assert len(simulator.referrals) == 3


async def test_bad_requests_are_refused(simulator: ProviderSimulator) -> None:
    url = simulator.provider_url("p1")
    json_type = {"Content-Type": "application/json"}
    assert (await raw_post(url, b"{}", json_type))[0] == 400  # no key
    assert (await raw_post(url, b"[1]", {**json_type, "Idempotency-Key": "k"}))[0] == 400
    assert (await raw_post(url, b"nope", {**json_type, "Idempotency-Key": "k"}))[0] == 400
    assert (await raw_post(url, b'{"a": 1}', {**json_type, "Idempotency-Key": "k"}))[0] == 202
    status, body = await raw_post(url, b'{"a": 2}', {**json_type, "Idempotency-Key": "k"})
    assert status == 422 and "different body" in str(body)
    assert len(simulator.referrals) == 1
    assert [r.status for r in simulator.requests] == [400, 400, 400, 202, 422]


async def test_fault_script_then_normal(simulator: ProviderSimulator) -> None:
    simulator.configure(
        "p1", Behaviour(script=(Fault.SERVER_ERROR, Fault.GARBAGE, Fault.REJECT, Fault.OK))
    )
    url = simulator.provider_url("p1")
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k"}
    statuses = []
    for _ in range(5):
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=b"{}", headers=headers) as response,
        ):
            statuses.append(response.status)
    assert statuses == [500, 200, 400, 202, 202]
    assert [r.fault for r in simulator.requests_for("p1")] == [
        Fault.SERVER_ERROR,
        Fault.GARBAGE,
        Fault.REJECT,
        Fault.OK,
        Fault.OK,
    ]
    (stored,) = simulator.referrals
    assert stored.deliveries == 2


async def test_notifications_are_counted_once_per_key_even_when_posted_twice(
    simulator: ProviderSimulator,
) -> None:
    sup = simulator.notification_url("supervisor-1")
    mgr = simulator.notification_url("manager-1")
    document = {"case_id": "c1", "level": 1, "kind": "review_lapsed"}
    first = await post_json(sup, document, idempotency_key="esc-1-level-1-supervisor-1")
    second = await post_json(sup, document, idempotency_key="esc-1-level-1-supervisor-1")
    await post_json(mgr, {**document, "level": 2}, idempotency_key="esc-1-level-2-manager-1")
    assert first.body["notification_id"] == second.body["notification_id"]
    assert second.body["duplicate"] is True
    assert simulator.stored_per_key() == {
        "esc-1-level-1-supervisor-1": 1,
        "esc-1-level-2-manager-1": 1,
    }
    assert simulator.notification_deliveries() == {
        "esc-1-level-1-supervisor-1": 2,
        "esc-1-level-2-manager-1": 1,
    }
    (note,) = simulator.notifications_for("supervisor-1")
    assert note.body == document and note.headers["idempotency-key"] == note.idempotency_key


async def test_recipient_faults(simulator: ProviderSimulator) -> None:
    simulator.configure_recipient("sup", Behaviour.failing_first(1))
    url = simulator.notification_url("sup")
    with pytest.raises(Exception, match="500"):
        await post_json(url, {"a": 1}, idempotency_key="n1")
    await post_json(url, {"a": 1}, idempotency_key="n1")
    assert simulator.stored_per_key() == {"n1": 1}


def test_reply_policy_is_deterministic_per_key_and_follows_the_ratios() -> None:
    policy = ReplyPolicy(
        accept_ratio=0.6,
        decline_ratio=0.3,
        decline_reasons=("no capacity", "not eligible"),
        complete_ratio=0.5,
        reply_delay=(1.0, 2.0),
        completion_delay=(3.0, 4.0),
        seed=7,
    )
    plans = {f"k{i}": policy.plan(f"k{i}") for i in range(2000)}
    assert plans == {key: policy.plan(key) for key in reversed(list(plans))}
    first = [plan[0].outcome if plan else None for plan in plans.values()]
    assert 0.55 < first.count(ReplyOutcome.ACCEPTED) / 2000 < 0.65
    assert 0.25 < first.count(ReplyOutcome.DECLINED) / 2000 < 0.35
    assert 0.05 < first.count(None) / 2000 < 0.15
    for plan in plans.values():
        if plan and plan[0].outcome is ReplyOutcome.DECLINED:
            assert plan[0].reason in ("no capacity", "not eligible") and len(plan) == 1
        if len(plan) == 2:
            assert plan[1].outcome is ReplyOutcome.COMPLETED and 3.0 <= plan[1].delay <= 4.0
        if plan:
            assert 1.0 <= plan[0].delay <= 2.0
    assert ReplyPolicy(seed=8, accept_ratio=0.5).plan("k1") == ReplyPolicy(
        seed=8, accept_ratio=0.5
    ).plan("k1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"accept_ratio": 1.5},
        {"accept_ratio": 0.7, "decline_ratio": 0.5},
        {"decline_ratio": 0.1, "accept_ratio": 0.5, "decline_reasons": ()},
        {"reply_delay": (3.0, 1.0)},
    ],
)
def test_reply_policy_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ReplyPolicy(**kwargs)  # type: ignore[arg-type]


async def test_on_referral_hook_gets_the_planned_replies() -> None:
    sent: list[tuple[str | None, ReplyOutcome, str | None]] = []
    done = asyncio.Event()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def send(received: ReceivedReferral, reply: PlannedReply) -> None:
        sent.append((received.referral_id, reply.outcome, reply.reason))

    async def on_referral(received: ReceivedReferral) -> None:
        await deliver_planned_replies(received, send, sleep=fake_sleep)
        done.set()

    policies = {
        "yes": ReplyPolicy(complete_ratio=1.0),
        "no": ReplyPolicy(accept_ratio=0.0, decline_ratio=1.0, decline_reasons=("full",)),
    }
    async with ProviderSimulator(on_referral=on_referral, reply_policies=policies) as sim:
        await post_json(sim.provider_url("yes"), {"referral_id": "r1"}, idempotency_key="k1")
        await asyncio.wait_for(done.wait(), 5)
        done.clear()
        await post_json(sim.provider_url("no"), {"referral_id": "r2"}, idempotency_key="k2")
        await asyncio.wait_for(done.wait(), 5)
        # a repeat is not a new referral: no second hook call
        await post_json(sim.provider_url("no"), {"referral_id": "r2"}, idempotency_key="k2")
        await asyncio.sleep(0.05)
    assert sent == [
        ("r1", ReplyOutcome.ACCEPTED, None),
        ("r1", ReplyOutcome.COMPLETED, None),
        ("r2", ReplyOutcome.DECLINED, "full"),
    ]
    assert len(slept) == 3


async def test_a_failing_or_pending_hook_does_not_break_the_simulator() -> None:
    started = asyncio.Event()

    async def on_referral(received: ReceivedReferral) -> None:
        if received.referral_id == "boom":
            raise RuntimeError("hook failed")
        started.set()
        await asyncio.sleep(3600)  # cancelled when the simulator stops

    async with ProviderSimulator(on_referral=on_referral) as sim:
        await post_json(sim.provider_url("p"), {"referral_id": "boom"}, idempotency_key="k1")
        await post_json(sim.provider_url("p"), {"referral_id": "ok"}, idempotency_key="k2")
        await asyncio.wait_for(started.wait(), 5)
        assert len(sim.referrals) == 2


async def test_lifecycle_and_health() -> None:
    sim = ProviderSimulator()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    async with sim:
        assert sim.base_url.startswith("http://127.0.0.1:") and sim.port > 0
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{sim.base_url}/health") as response,
        ):
            assert await response.json() == {"status": "ok"}
        with pytest.raises(RuntimeError):
            await sim.start()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
