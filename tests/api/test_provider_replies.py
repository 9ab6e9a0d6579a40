"""`POST /api/v1/providers/{provider_id}/replies`: a provider's signed replies over HTTP.

Signed as a provider's system signs them, with the `standardwebhooks` library, with the
secret an admin made through the API. The API's clock is the test's (`api.clock`); the
signatures' timestamps are set from it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks.webhooks import Webhook

from infrastructure.webhook_signatures import new_secret
from tests.api.conftest import PASSWORD, Api, problem
from tests.api.test_role_table import Builder

PROVIDER, OTHER = "shelter-1", "pantry-2"
REFERRAL = "referral-1"


@pytest.fixture
async def channel() -> AsyncIterator[str]:
    """The provider's referral webhook: accepts every referral."""

    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"status": "received", "provider_reference": "P-1"})

    app = web.Application()
    app.router.add_post("/referrals", accept)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/referrals"))


async def referred_case(api: Api, channel: str) -> str:
    """An active case of alice's with referral-1 to shelter-1, dispatched."""
    builder = Builder(
        cases=await api.app.cases(),
        store=api.app.store,
        manager=await api.actor("max"),
        supervisor=await api.actor("carol"),
        worker=await api.actor("alice"),
        other_worker=await api.actor("erin"),
        channel=channel,
    )
    return await builder.referred()


async def rotate(api: Api, provider_id: str, **body: Any) -> dict[str, Any]:
    """A new secret for the provider, made by root through the API."""
    answer = await api.http.post(
        f"/api/v1/providers/{provider_id}/webhook-secret:rotate",
        json=body,
        headers=await api.sign_in("root"),
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    assert made["secret"].startswith("whsec_")
    return made


def signed(
    secret: str, document: dict[str, Any], at: datetime, msg_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers a provider sends, signed with the library."""
    body = json.dumps(document).encode()
    webhook_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return body, {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
    }


def reply(case_id: str, kind: str, **more: Any) -> dict[str, Any]:
    return {"type": f"referral.{kind}", "case_id": case_id, "referral_id": REFERRAL, **more}


async def post(
    api: Api, body: bytes, headers: dict[str, str], provider_id: str = PROVIDER
) -> httpx.Response:
    return await api.http.post(
        f"/api/v1/providers/{provider_id}/replies", content=body, headers=headers
    )


async def version(api: Api, case_id: str) -> int:
    return await api.app.store.stream_version(f"case-{case_id}")


async def webhook_log(api: Api) -> list[dict[str, Any]]:
    rows = await api.app.pool.fetch(
        "SELECT provider_id, webhook_id, outcome, reason, case_id FROM provider_webhook_log"
        " ORDER BY id"
    )
    return [dict(r) for r in rows]


async def test_accept_progress_complete_as_the_provider(api: Api, channel: str) -> None:
    case_id = await referred_case(api, channel)
    secret = (await rotate(api, PROVIDER))["secret"]
    sent = []
    for document in (
        reply(case_id, "accepted", note="we have a bed"),
        reply(case_id, "progress", report="first night went well"),
        reply(case_id, "completed"),
    ):
        body, headers = signed(secret, document, api.clock())
        answer = await post(api, body, headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["webhook_id"] == headers["webhook-id"]
        sent.append(headers["webhook-id"])

    events = await api.app.store.read_stream(f"case-{case_id}")
    by_provider = [e for e in events if e.metadata.actor_id == f"webhook@{PROVIDER}"]
    assert [e.event_type for e in by_provider] == [
        "ReferralAccepted",
        "ProviderReportReceived",
        "ReferralCompleted",
    ]
    assert {e.metadata.actor_role for e in by_provider} == {"provider"}
    access = await api.app.pool.fetch(
        "SELECT staff_id, role, view, auth_method, credential_id, allowed FROM access_log"
        " WHERE auth_method = 'webhook' ORDER BY accessed_at"
    )
    assert [(r["staff_id"], r["role"], r["credential_id"], r["allowed"]) for r in access] == [
        (f"webhook@{PROVIDER}", "provider", webhook_id, True) for webhook_id in sent
    ]
    logged = await webhook_log(api)
    assert [(r["outcome"], r["reason"], r["webhook_id"]) for r in logged] == [
        ("accepted", "referral.accepted", sent[0]),
        ("accepted", "referral.progress", sent[1]),
        ("accepted", "referral.completed", sent[2]),
    ]


async def test_every_bad_reply_is_refused_logged_and_writes_nothing(api: Api, channel: str) -> None:
    case_id = await referred_case(api, channel)
    rotated = await rotate(api, PROVIDER)
    secret = rotated["secret"]
    before = await version(api, case_id)
    now = api.clock()
    tolerance = timedelta(seconds=api.app.settings.webhook_tolerance)
    accept = reply(case_id, "accepted")

    async def refused(
        status: int, reason: str, body: bytes, headers: dict[str, str], provider: str = PROVIDER
    ) -> dict[str, Any]:
        answer = await post(api, body, headers, provider)
        found = problem(answer, status)
        assert found["type"].endswith("webhook-" + reason.replace("_", "-")), found
        assert await version(api, case_id) == before, f"{reason}: the case changed"
        last = (await webhook_log(api))[-1]
        assert (last["outcome"], last["reason"], last["provider_id"]) == (
            "refused",
            reason,
            provider,
        )
        return found

    plain = json.dumps(accept).encode()
    await refused(401, "missing", plain, {"content-type": "application/json"})
    await refused(401, "bad_signature", *signed(new_secret(), accept, now))
    await refused(401, "stale", *signed(secret, accept, now - tolerance - timedelta(seconds=1)))
    await refused(401, "future", *signed(secret, accept, now + tolerance + timedelta(seconds=1)))
    await refused(401, "unknown_provider", *signed(secret, accept, now), provider="nobody")
    # The body signed is not the body sent.
    body, headers = signed(secret, accept, now)
    await refused(401, "bad_signature", body.replace(b"accepted", b"completed"), headers)
    declined = await refused(422, "invalid_body", *signed(secret, reply(case_id, "declined"), now))
    assert [e["field"] for e in declined["errors"]] == ["reason"]
    nonsense = await refused(422, "invalid_body", *signed(secret, {"type": "hello"}, now))
    assert {e["field"] for e in nonsense["errors"]} >= {"type", "case_id", "referral_id"}

    # Another provider, correctly signed with its own secret, about shelter-1's referral.
    other = (await rotate(api, OTHER))["secret"]
    await refused(404, "not_found", *signed(other, accept, now), provider=OTHER)
    denied = await api.app.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE staff_id = $1 AND NOT allowed AND case_id = $2",
        f"webhook@{OTHER}",
        case_id,
    )
    assert denied == 1
    # A referral of this case that does not exist.
    missing = reply(case_id, "accepted") | {"referral_id": "referral-9"}
    await refused(404, "not_found", *signed(secret, missing, now))

    # Replayed: accepted once, refused the second time with nothing written again.
    body, headers = signed(secret, accept, now)
    assert (await post(api, body, headers)).status_code == 200
    before = await version(api, case_id)
    await refused(409, "replayed", body, headers)

    # Rotated with an hour's overlap: the old secret still works, then no longer.
    newer = (await rotate(api, PROVIDER, overlap_hours=1))["secret"]
    progress = reply(case_id, "progress", report="settling in")
    assert (await post(api, *signed(secret, progress, now))).status_code == 200
    before = await version(api, case_id)
    api.clock.now = now + timedelta(hours=2)
    later = api.clock()
    await refused(401, "bad_signature", *signed(secret, progress, later))
    assert (await post(api, *signed(newer, progress, later))).status_code == 200
    before = await version(api, case_id)

    # Revoked: nothing the provider signs is accepted any more.
    session = await api.http.post(
        "/api/v1/sessions", json={"staff_id": "root", "password": PASSWORD}
    )  # two hours on, root signs in again
    root = {"Authorization": f"Bearer {session.json()['token']}"}
    revoked = await api.http.post(
        f"/api/v1/providers/{PROVIDER}/webhook-secret:revoke", headers=root
    )
    assert revoked.status_code == 200, revoked.text
    await refused(401, "bad_signature", *signed(newer, progress, later))


async def test_only_admins_manage_secrets_and_a_secret_is_shown_once(
    api: Api, channel: str
) -> None:
    alice = await api.sign_in("alice")
    pia = await api.sign_in("pia")
    for who in (alice, pia):
        answer = await api.http.post(
            f"/api/v1/providers/{PROVIDER}/webhook-secret:rotate", json={}, headers=who
        )
        problem(answer, 403)
    assert await api.app.pool.fetchval("SELECT count(*) FROM provider_webhook_secrets") == 0
    root = await api.sign_in("root")
    unknown = await api.http.post("/api/v1/providers/nobody/webhook-secret", headers=root)
    problem(unknown, 404)
    bad = await api.http.post(
        f"/api/v1/providers/{PROVIDER}/webhook-secret:rotate",
        json={"overlap_hours": -1},
        headers=root,
    )
    assert [e["field"] for e in problem(bad, 422)["errors"]] == ["overlap_hours"]
    issued = await api.http.post(f"/api/v1/providers/{PROVIDER}/webhook-secret", headers=root)
    assert issued.status_code == 201, issued.text
    again = await api.http.post(f"/api/v1/providers/{PROVIDER}/webhook-secret", headers=root)
    problem(again, 409)
    listed = await api.http.get(f"/api/v1/providers/{PROVIDER}/webhook-secret", headers=root)
    assert listed.status_code == 200
    assert [row["secret_id"] for row in listed.json()] == [issued.json()["secret_id"]]
    assert issued.json()["secret"] not in listed.text


async def test_a_reply_over_64_kb_is_refused(api: Api) -> None:
    answer = await post(api, b"x" * (64 * 1024 + 1), {"content-type": "application/json"})
    problem(answer, 413)
    assert await webhook_log(api) == []


HOSTILE: list[tuple[bytes, set[str]]] = [
    (b"not json", {"body"}),
    (b"[1, 2]", {"body"}),
    (b"null", {"body"}),
    (b'{"type": "referral.accepted"}', {"case_id", "referral_id"}),
    (b'{"type": 7, "case_id": "x", "referral_id": ["r"]}', {"type", "case_id", "referral_id"}),
    (
        json.dumps(
            {
                "type": "referral.accepted",
                "case_id": str(uuid.uuid4()),
                "referral_id": "r-1",
                "extra": True,
            }
        ).encode(),
        {"extra"},
    ),
    (
        json.dumps(
            {"type": "referral.accepted", "case_id": str(uuid.uuid4()), "referral_id": "r\n1"}
        ).encode(),
        {"referral_id"},
    ),
    (
        json.dumps(
            {
                "type": "referral.completed",
                "case_id": str(uuid.uuid4()),
                "referral_id": "r-1",
                "note": "x" * 30_000,
            }
        ).encode(),
        {"note"},
    ),
    (
        json.dumps(
            {
                "type": "referral.accepted",
                "case_id": str(uuid.uuid4()),
                "referral_id": "r-1",
                "report": "not for accepting",
            }
        ).encode(),
        {"report"},
    ),
]
"""Signed bodies that are no reply: each refused 422 naming its fields."""


async def test_a_signed_body_that_is_no_reply_is_refused_naming_the_field(api: Api) -> None:
    secret = (await rotate(api, PROVIDER))["secret"]
    events = await api.app.pool.fetchval("SELECT count(*) FROM events")
    for raw, fields in HOSTILE:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        at = api.clock()
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, raw),
        }
        found = problem(await post(api, raw, headers), 422)
        named = {e["field"].split(".")[0] for e in found["errors"]}
        assert fields <= named, (raw[:60], found)
    assert await api.app.pool.fetchval("SELECT count(*) FROM events") == events
