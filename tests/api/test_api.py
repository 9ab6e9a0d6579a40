"""The HTTP API end to end, in-process, over the real event store and a real case worker
on the time-skipping Temporal server: sign in with a staff account, open a case, read it
with its ETag, send commands with If-Match and Idempotency-Key, and the refusals as
problem documents."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from application import access_log, identity
from application.bootstrap import Casework
from casework.api.app import create_api
from directory import resolve_actor
from events.store import EventStore
from infrastructure.settings import Settings
from tests.api.conftest import problem as problem  # also for the other API tests
from tests.security.test_access_log import staff
from tests.workflows.conftest import case_harness

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    http: httpx.AsyncClient
    app: Casework
    clock: Clock

    async def sign_in(self, staff_id: str) -> dict[str, str]:
        """A staff account for `staff_id` (invited by root), signed in: its auth header."""
        admin = await resolve_actor(self.app.store, "root")
        invitation = await identity.invite(self.app, admin, staff_id, now=self.clock())
        await identity.accept_invitation(
            self.app, staff_id, invitation.code, PASSWORD, now=self.clock()
        )
        answer = await self.http.post(
            "/api/v1/sessions", json={"staff_id": staff_id, "password": PASSWORD}
        )
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
async def api(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[Api]:
    await staff(sealed_store)
    async with case_harness(time_skipping_env, sealed_store) as cases:
        settings = Settings(task_queue=cases.task_queue, metrics_port=0)
        app = Casework(
            settings, sealed_store.pool, sealed_store, _client=cases.client, _cases=cases
        )
        clock = Clock()
        server = create_api(settings, casework=app, clock=clock)
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
            yield Api(http, app, clock)


OPEN_CASE: dict[str, Any] = {
    "client_ref": "CL-API-1",
    "client": {"name": "Rosalind Quennell-Ashby"},
    "assignee": "alice",
    "presenting_needs": ["housing"],
}


async def open_case(api: Api, auth: dict[str, str]) -> tuple[str, str]:
    opened = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=auth)
    assert opened.status_code == 201, opened.text
    return opened.json()["case_id"], opened.headers["ETag"]


async def test_without_a_token_every_staff_route_answers_401(api: Api) -> None:
    for method, path in (
        ("GET", f"/api/v1/cases/{uuid.uuid4()}"),
        ("POST", "/api/v1/cases"),
        ("GET", "/api/v1/me"),
    ):
        answer = await api.http.request(method, path, json={})
        body = problem(answer, 401)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["title"] == "Not signed in"
    bogus = {"Authorization": "Bearer cws_not-a-real-token"}
    problem(await api.http.get("/api/v1/me", headers=bogus), 401)
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}


async def test_a_case_through_the_api_with_etags(api: Api) -> None:
    alice = await api.sign_in("alice")
    me = (await api.http.get("/api/v1/me", headers=alice)).json()
    assert me == {"staff_id": "alice", "role": "caseworker", "team": "north", "method": "password"}
    case_id, etag = await open_case(api, alice)

    shown = await api.http.get(f"/api/v1/cases/{case_id}", headers=alice)
    assert shown.status_code == 200 and shown.headers["ETag"] == etag
    assert shown.json()["client"]["name"] == "Rosalind Quennell-Ashby"

    # A command needs If-Match; with the current ETag it runs and answers the next one.
    note = {"text": "Spoke with the GP"}
    path = f"/api/v1/cases/{case_id}/commands/record_note"
    problem(await api.http.post(path, json=note, headers=alice), 428)
    done = await api.http.post(path, json=note, headers={**alice, "If-Match": etag})
    assert done.status_code == 200, done.text
    assert done.json()["events"] == ["CaseNoteRecorded"]
    assert done.headers["ETag"] != etag

    # The old ETag again: the case moved on, 412 with the current version, nothing written.
    stale = problem(await api.http.post(path, json=note, headers={**alice, "If-Match": etag}), 412)
    assert stale["current_version"] == done.json()["stream_version"]
    history = (await api.http.get(f"/api/v1/cases/{case_id}/history", headers=alice)).json()
    assert [row["type"] for row in history].count("CaseNoteRecorded") == 1


async def test_bad_input_names_the_field_and_writes_nothing(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id, etag = await open_case(api, alice)
    path = f"/api/v1/cases/{case_id}/commands/log_contact"
    before = await api.app.store.stream_version(f"case-{case_id}")
    for body, field in (
        ({"kind": "carrier pigeon", "contact_date": "2030-01-01"}, "kind"),
        ({"kind": "phone", "contact_date": "soon"}, "contact_date"),
        ({"kind": "phone", "contact_date": "2030-01-01", "admin": True}, "admin"),
    ):
        found = problem(
            await api.http.post(path, json=body, headers={**alice, "If-Match": etag}), 422
        )
        assert field in [e["field"] for e in found["errors"]], found
    assert await api.app.store.stream_version(f"case-{case_id}") == before


async def test_names_that_do_not_exist_are_refused_by_name(api: Api) -> None:
    """A consent to share with a provider the resource directory does not hold, and a
    reason longer than the access log keeps, answer 422 naming the field; nothing is
    written."""
    alice = await api.sign_in("alice")
    case_id, etag = await open_case(api, alice)
    before = await api.app.store.stream_version(f"case-{case_id}")
    found = problem(
        await api.http.post(
            f"/api/v1/cases/{case_id}/commands/record_consent",
            json={"shared_fields": ["name"], "providers": ["no-such-provider"]},
            headers={**alice, "If-Match": etag},
        ),
        422,
    )
    assert found["errors"] == [
        {
            "field": "providers",
            "message": "no provider 'no-such-provider' in the resource directory",
        }
    ]
    assert await api.app.store.stream_version(f"case-{case_id}") == before
    read = await api.http.get(
        f"/api/v1/cases/{case_id}", headers={**alice, "Casework-Reason": "x" * 2001}
    )
    assert [e["field"] for e in problem(read, 422)["errors"]] == ["Casework-Reason"]


async def test_another_team_cannot_learn_that_a_case_exists(api: Api) -> None:
    alice, erin = await api.sign_in("alice"), await api.sign_in("erin")
    case_id, etag = await open_case(api, alice)
    missing = problem(await api.http.get(f"/api/v1/cases/{uuid.uuid4()}", headers=erin), 404)
    hidden = problem(await api.http.get(f"/api/v1/cases/{case_id}", headers=erin), 404)
    assert hidden["title"] == missing["title"]
    # A write refusal reveals no more than a read refusal: no team, no worker named.
    write = problem(
        await api.http.post(
            f"/api/v1/cases/{case_id}/commands/record_note",
            json={"text": "x"},
            headers={**erin, "If-Match": etag},
        ),
        404,
    )
    assert write["title"] == missing["title"] and "north" not in str(write)
    # The refused write is on record, as a refused read would be.
    auditor = await resolve_actor(api.app.store, "audrey")
    entries = await access_log.entries(api.app.pool, auditor, case_id)
    assert any(
        e.staff_id == "erin" and e.view == "command record_note" and not e.allowed for e in entries
    )
    # Break the glass: allowed with a reason, for a caseworker of another team.
    urgent = await api.http.get(
        f"/api/v1/cases/{case_id}",
        headers={**erin, "Casework-Break-Glass": "client in A&E, named us"},
    )
    assert urgent.status_code == 200


async def test_retries_with_an_idempotency_key_run_once(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id, etag = await open_case(api, alice)
    path = f"/api/v1/cases/{case_id}/commands/record_note"
    headers = {**alice, "If-Match": etag, "Idempotency-Key": "note-once-1"}
    first = await api.http.post(path, json={"text": "first"}, headers=headers)
    again = await api.http.post(path, json={"text": "first"}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json()
    other = problem(await api.http.post(path, json={"text": "other"}, headers=headers), 422)
    assert other["errors"][0]["field"] == "Idempotency-Key"
    log = await api.app.store.read_stream(f"case-{case_id}")
    assert [e.event_type for e in log].count("CaseNoteRecorded") == 1


async def test_two_clients_with_the_same_etag_exactly_one_wins(api: Api) -> None:
    alice, carol = await api.sign_in("alice"), await api.sign_in("carol")
    case_id, etag = await open_case(api, alice)
    path = f"/api/v1/cases/{case_id}/commands/record_note"
    answers = await asyncio.gather(
        *(
            api.http.post(path, json={"text": f"by {who}"}, headers={**auth, "If-Match": etag})
            for who, auth in (("alice", alice), ("carol", carol))
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 412]


async def test_sign_out_revokes_at_once(api: Api) -> None:
    alice = await api.sign_in("alice")
    assert (await api.http.get("/api/v1/me", headers=alice)).status_code == 200
    assert (await api.http.delete("/api/v1/sessions/current", headers=alice)).status_code == 204
    problem(await api.http.get("/api/v1/me", headers=alice), 401)


async def test_the_openapi_document_lists_every_command(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    assert "/api/v1/cases/{case_id}/commands/record_note" in paths
    assert "/api/v1/cases/{case_id}/referrals" in paths
    assert "/api/v1/cases/{case_id}/commands/forget" not in paths


async def test_idle_sessions_time_out(api: Api) -> None:
    alice = await api.sign_in("alice")
    api.clock.now += timedelta(minutes=31)
    problem(await api.http.get("/api/v1/me", headers=alice), 401)


async def test_sign_in_attempts_from_one_address_are_rate_limited(api: Api) -> None:
    wrong = {"staff_id": "nobody", "password": "not the password"}
    for _ in range(10):
        problem(await api.http.post("/api/v1/sessions", json=wrong), 401)
    limited = problem(await api.http.post("/api/v1/sessions", json=wrong), 429)
    assert limited["title"] == "Too many attempts"
    api.clock.now += timedelta(minutes=1, seconds=1)
    problem(await api.http.post("/api/v1/sessions", json=wrong), 401)
