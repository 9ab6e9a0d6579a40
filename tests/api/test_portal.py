"""The provider portal through HTTP (casework/api/portal.py): a provider signed in with a
real account sees only the referrals sent to it, with only what the client consented to
share, and answers them through the case's own commands; another provider's referral
reads as one that does not exist, on record, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from application import access_log
from cases.actors import Actor, Role
from tests.api.conftest import Api, problem
from tests.api.test_role_table import Builder, channel  # noqa: F401 (a fixture)
from tests.projections.conftest import catch_up

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)


@pytest.fixture
async def builder(api: Api, channel: str) -> Builder:  # noqa: F811 (the fixture)
    return Builder(
        cases=await api.app.cases(),
        store=api.app.store,
        manager=await api.actor("max"),
        supervisor=await api.actor("carol"),
        worker=await api.actor("alice"),
        other_worker=await api.actor("erin"),
        channel=channel,
    )


async def _events(api: Api, case_id: str) -> list[Any]:
    return await api.app.store.read_stream(f"case-{case_id}")


async def _log(api: Api, case_id: str, staff_id: str) -> list[tuple[str, bool]]:
    entries = await access_log.entries(api.app.pool, AUDITOR, case_id)
    mine = sorted((e for e in entries if e.staff_id == staff_id), key=lambda e: e.access_id)
    return [(e.view, e.allowed) for e in mine]


async def test_a_provider_sees_and_answers_only_its_own_referrals(
    api: Api, builder: Builder, database_url: str
) -> None:
    case_id = await builder.referred()  # referral-1 to shelter-1 (pia's provider)
    await catch_up(database_url, api.app.store)
    pia, otis, alice = [await api.sign_in(s) for s in ("pia", "otis", "alice")]
    base = f"/api/v1/portal/referrals/{case_id}/referral-1"

    # The list: pia's provider's referrals only.
    mine = await api.http.get("/api/v1/portal/referrals", headers=pia)
    assert mine.status_code == 200, mine.text
    assert [(r["case_id"], r["referral_id"], r["status"]) for r in mine.json()["items"]] == [
        (case_id, "referral-1", "sent")
    ]
    theirs = await api.http.get("/api/v1/portal/referrals", headers=otis)
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    asked = await api.http.get("/api/v1/portal/referrals?provider=shelter-1", headers=otis)
    assert asked.json()["items"] == [], "a provider cannot name another's"
    problem(await api.http.get("/api/v1/portal/referrals", headers=alice), 403)

    # One referral: the consented fields (name, contact) and nothing else of the case.
    shown = await api.http.get(base, headers=pia)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert set(body["shared"]) == {"name", "contact"}  # not presenting_needs: not referred
    assert body["shared"]["name"] == "Rosalind Quennell-Ashby"
    assert body["status"] == "dispatched" and body["actions"] == ["accept", "decline"]
    assert "note" not in body and "team" not in body and "worker" not in body
    assert await _log(api, case_id, "pia") == [
        ("portal list referral-1", True),
        ("portal referral referral-1", True),
    ]

    # Another provider: 404 as for a referral that does not exist; on record; nothing written.
    before = len(await _events(api, case_id))
    missing = problem(await api.http.get(base, headers=otis), 404)
    ghost = problem(await api.http.get(f"{base[:-1]}9", headers=pia), 404)
    assert missing["title"] == ghost["title"] == "No such referral"
    refused = await api.http.post(f"{base}/accept", json={}, headers=otis)
    problem(refused, 404)
    assert len(await _events(api, case_id)) == before
    assert await _log(api, case_id, "otis") == [
        ("portal referral referral-1", False),
        ("command referral_reply", False),
    ]

    # A decline without a reason: refused naming the field, nothing written.
    no_reason = problem(await api.http.post(f"{base}/decline", json={}, headers=pia), 422)
    assert no_reason["errors"][0]["field"] == "reason"
    assert len(await _events(api, case_id)) == before

    # Accept, report progress, complete: the case's events, with the provider as actor.
    for action, payload in (
        ("accept", {"note": "we have a bed on Monday"}),
        ("progress", {"note": "moved in, settling well"}),
        ("complete", {"note": "housed"}),
    ):
        done = await api.http.post(f"{base}/{action}", json=payload, headers=pia)
        assert done.status_code == 200, (action, done.text)
    written = (await _events(api, case_id))[before:]
    assert [e.event_type for e in written] == [
        "ReferralAccepted",
        "ProviderReportReceived",
        "ReferralCompleted",
    ]
    assert {(e.metadata.actor_id, e.metadata.actor_role) for e in written} == {("pia", "provider")}
    after = await api.http.get(base, headers=pia)
    assert after.json()["status"] == "completed" and after.json()["actions"] == []


async def test_a_provider_answers_with_a_personal_access_token(
    api: Api, builder: Builder, database_url: str
) -> None:
    """A provider's program, not a browser: a personal access token made by the provider
    member (`POST /api/v1/tokens`, as `casework token create` does) lists, reads and
    answers its referrals; the access log names the token; once revoked, it reads nothing."""
    case_id = await builder.referred()
    await catch_up(database_url, api.app.store)
    pia = await api.sign_in("pia")
    made = await api.http.post("/api/v1/tokens", json={"name": "intake system"}, headers=pia)
    assert made.status_code == 201, made.text
    token_id = made.json()["token_id"]
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    base = f"/api/v1/portal/referrals/{case_id}/referral-1"

    listed = await api.http.get("/api/v1/portal/referrals", headers=token)
    assert listed.status_code == 200, listed.text
    assert [r["referral_id"] for r in listed.json()["items"]] == ["referral-1"]
    shown = await api.http.get(base, headers=token)
    assert shown.status_code == 200 and set(shown.json()["shared"]) == {"name", "contact"}
    before = len(await _events(api, case_id))
    accepted = await api.http.post(
        f"{base}/accept", json={"note": "bed from Monday"}, headers=token
    )
    assert accepted.status_code == 200, accepted.text
    [event] = (await _events(api, case_id))[before:]
    assert event.event_type == "ReferralAccepted"
    assert (event.metadata.actor_id, event.metadata.actor_role) == ("pia", "provider")

    entries = sorted(
        (
            e
            for e in await access_log.entries(api.app.pool, AUDITOR, case_id)
            if e.staff_id == "pia"
        ),
        key=lambda e: e.access_id,
    )
    assert [(e.view, e.auth_method, e.credential_id) for e in entries] == [
        ("portal list referral-1", "token", token_id),
        ("portal referral referral-1", "token", token_id),
    ]

    # Revoked: the token reads nothing and answers nothing more.
    revoked = await api.http.delete(f"/api/v1/tokens/{token_id}", headers=pia)
    assert revoked.status_code == 204, revoked.text
    problem(await api.http.get("/api/v1/portal/referrals", headers=token), 401)
    problem(await api.http.post(f"{base}/complete", json={}, headers=token), 401)
    assert len(await _events(api, case_id)) == before + 1
