"""What Casework sends a provider is signed (Standard Webhooks), checked as a provider
would: by a real HTTP receiver with the `standardwebhooks` library's own `verify`.

The secrets are made by the admin's use case (`rotate_secret`) at times the test sets;
the requests carry the attempt's wall-clock time, because the library's `verify` checks
the timestamp against the machine's clock (five minutes either way).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.outbox import Notice, record_and_deliver
from activities.referrals import (
    ProviderNotice,
    ReferralActivities,
    ReferralDispatch,
    referral_idempotency_key,
)
from activities.webhook_secrets import ProviderSecrets
from application.bootstrap import Casework
from application.webhook_secrets import revoke_secret, rotate_secret
from cases.actors import Actor
from directory import add_provider, bootstrap_admin
from events.keys import MasterKeyring
from events.store import EventStore
from events.webhook_events import webhook_secrets_stream
from infrastructure.settings import Settings
from infrastructure.webhook_signatures import new_secret

PROVIDER = "food-bank"


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A provider's endpoint: answers 503 for the first `fail_first` requests, then 200;
    keeps each request's raw body and headers."""

    url: str = ""
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(await request.read(), {k.lower(): v for k, v in request.headers.items()})
        )
        if len(self.received) <= self.fail_first:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"status": "received", "provider_reference": "R-1"})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = web.Application()
    server.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/referrals"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest.fixture
async def app(sealed_store: EventStore) -> Casework:
    return Casework(Settings(metrics_port=0), sealed_store.pool, sealed_store)


async def admin_with_provider(app: Casework, url: str) -> Actor:
    admin = (await bootstrap_admin(app.store, "root", "Agency admin")).as_actor()
    await add_provider(app.store, admin, PROVIDER, "Food bank", "food_assistance", url)
    return admin


def dispatch_to(url: str, referral_id: str = "ref-1") -> ReferralDispatch:
    return ReferralDispatch(
        case_id=str(uuid.uuid4()),
        referral_id=referral_id,
        provider_id=PROVIDER,
        service_id="parcels",
        webhook_url=url,
        payload={"presenting_needs": ["food"]},
        idempotency_key=referral_idempotency_key(referral_id),
    )


def activities(app: Casework, keyring: MasterKeyring) -> ReferralActivities:
    return ReferralActivities(secrets=ProviderSecrets(app.pool, keyring))


def verifies(secret: str, got: Received) -> bool:
    try:
        Webhook(secret).verify(got.body, got.headers)
    except WebhookVerificationError:
        return False
    return True


async def test_a_referral_is_signed_as_the_library_verifies_it(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    issued = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    dispatch = dispatch_to(receiver.url)
    receipt = await ActivityEnvironment().run(
        activities(app, master_keyring).dispatch_referral, dispatch
    )
    assert receipt.provider_reference == "R-1"
    (got,) = receiver.received
    assert verifies(issued.secret, got)
    assert not verifies(new_secret(), got)
    assert got.headers["webhook-id"] == dispatch.idempotency_key == got.headers["idempotency-key"]
    assert len(got.headers["webhook-signature"].split(" ")) == 1
    assert json.loads(got.body)["referral_id"] == "ref-1"


async def test_every_retry_carries_the_same_webhook_id_and_verifies(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    issued = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    receiver.fail_first = 1
    dispatch = dispatch_to(receiver.url)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as refused:
        await env.run(activities(app, master_keyring).dispatch_referral, dispatch)
    assert refused.value.type == "WebhookServerError" and not refused.value.non_retryable
    env.info = dataclasses.replace(env.info, attempt=2)
    receipt = await env.run(activities(app, master_keyring).dispatch_referral, dispatch)
    assert receipt.attempts == 2
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "referral-ref-1"
    assert first.body == second.body
    assert verifies(issued.secret, first) and verifies(issued.secret, second)


async def test_two_signatures_during_the_overlap_one_after(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    now = datetime.now(UTC)
    # Rotated an hour ago with a day's overlap: both secrets are live now.
    old = await rotate_secret(app, admin, PROVIDER, now=now - timedelta(hours=2))
    new = await rotate_secret(app, admin, PROVIDER, now=now - timedelta(hours=1))
    assert new.retiring == (old.secret_id,)
    assert new.retires_at == now + timedelta(hours=23)
    signer = activities(app, master_keyring)
    await ActivityEnvironment().run(signer.dispatch_referral, dispatch_to(receiver.url, "ref-1"))
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verifies(old.secret, during) and verifies(new.secret, during)

    # Rotated again half an hour ago for ten minutes: only the newest secret signs now.
    latest = await rotate_secret(
        app, admin, PROVIDER, now=now - timedelta(minutes=30), overlap=timedelta(minutes=10)
    )
    await ActivityEnvironment().run(signer.dispatch_referral, dispatch_to(receiver.url, "ref-2"))
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verifies(latest.secret, after)
    assert not verifies(old.secret, after) and not verifies(new.secret, after)


async def test_notices_are_signed_and_a_revoked_provider_is_sent_unsigned(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    issued = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    notice = ProviderNotice(
        type="ReferralWithdrawn",
        case_id=str(uuid.uuid4()),
        referral_id="ref-1",
        provider_id=PROVIDER,
        at=datetime(2031, 1, 2, tzinfo=UTC),
        webhook_url=receiver.url,
    )
    await ActivityEnvironment().run(activities(app, master_keyring).tell_provider, notice)
    got = receiver.received[-1]
    assert got.headers["webhook-id"] == notice.idempotency_key
    assert verifies(issued.secret, got)

    await revoke_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    await ActivityEnvironment().run(activities(app, master_keyring).tell_provider, notice)
    assert "webhook-signature" not in receiver.received[-1].headers


async def test_a_portal_channel_is_not_posted(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    await admin_with_provider(app, receiver.url)
    portal = f"https://casework.test/portal/providers/{PROVIDER}/inbox"
    receipt = await ActivityEnvironment().run(
        activities(app, master_keyring).dispatch_referral, dispatch_to(portal)
    )
    assert (receipt.channel, receipt.attempts) == ("portal", 1)
    assert receiver.received == []


async def test_staff_notifications_are_signed_only_with_an_agency_secret(
    app: Casework, receiver: Receiver
) -> None:
    agency = new_secret()

    def notice(key: str) -> Notice:
        return Notice(
            key=key, case_id=str(uuid.uuid4()), subject_id="esc-1", level=1, recipient="bob",
            notify_role="worker", channel_url=receiver.url, document={"kind": "escalation"},
        )  # fmt: skip

    await record_and_deliver(app.pool, [notice("n-1")], signing=[agency])
    signed = receiver.received[-1]
    assert signed.headers["webhook-id"] == "n-1"
    assert verifies(agency, signed)
    await record_and_deliver(app.pool, [notice("n-2")], signing=[])
    assert "webhook-signature" not in receiver.received[-1].headers
    configured = Settings(CASEWORK_NOTIFY_WEBHOOK_SECRET=agency)
    assert configured.notify_webhook_secret is not None
    assert agency not in repr(configured)


async def test_secrets_are_never_in_the_log_lines_nor_the_events(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    with capture_logs() as lines:
        first = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
        second = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
        await ActivityEnvironment().run(
            activities(app, master_keyring).dispatch_referral, dispatch_to(receiver.url)
        )
        await revoke_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    logged = json.dumps(lines, default=str)
    assert "webhook secret issued" in logged
    events = await app.store.read_stream(webhook_secrets_stream(PROVIDER))
    assert [e.event_type for e in events] == [
        "ProviderWebhookSecretIssued",
        "ProviderWebhookSecretRotated",
        "ProviderWebhookSecretRevoked",
    ]
    stored = json.dumps([e.data for e in events])
    sealed = await app.pool.fetch("SELECT secret_sealed FROM provider_webhook_secrets")
    for secret in (first.secret, second.secret):
        assert secret not in logged and secret not in stored
        assert secret not in repr(first) and secret not in repr(second)
        assert all(secret.encode() not in bytes(row["secret_sealed"]) for row in sealed)
        assert "whsec_" not in logged and "whsec_" not in stored


async def test_a_rotation_between_retries_is_signed_with_both_secrets(
    app: Casework, master_keyring: MasterKeyring, receiver: Receiver
) -> None:
    admin = await admin_with_provider(app, receiver.url)
    old = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    receiver.fail_first = 1
    dispatch = dispatch_to(receiver.url)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError):
        await env.run(activities(app, master_keyring).dispatch_referral, dispatch)
    new = await rotate_secret(app, admin, PROVIDER, now=datetime.now(UTC))
    env.info = dataclasses.replace(env.info, attempt=2)
    await env.run(activities(app, master_keyring).dispatch_referral, dispatch)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert verifies(old.secret, first) and not verifies(new.secret, first)
    assert verifies(old.secret, second) and verifies(new.secret, second)
