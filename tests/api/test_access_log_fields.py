"""What the access log records about a request, through HTTP: the authenticated principal,
how they authenticated (password session or personal access token), the session or token
id, the request id (a safe incoming X-Request-ID, else a new one, answered back) and the
client address — on reads, refused reads, refused writes and break-glass reads alike —
and the API's access-log routes return them. Operator commands record the
operating-system user."""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from application import access_log, identity, request_context
from application.access_log import View
from application.bootstrap import Casework
from casework.api.app import MAX_BODY_BYTES, create_api
from casework.cli.context import call
from directory import resolve_actor
from events.store import EventStore
from infrastructure.settings import Settings, get_settings
from tests.api.test_api import PASSWORD, Api, Clock, open_case, problem
from tests.security.test_access_log import ALICE, staff
from tests.workflows.conftest import case_harness

CLIENT = ("203.0.113.9", 40001)
"""The address the test client connects from (a documentation address, not loopback)."""

GENERATED = re.compile(r"[0-9a-f]{32}")


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
        transport = httpx.ASGITransport(app=server, client=CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
            yield Api(http, app, clock)


async def signed_in(api: Api, staff_id: str) -> tuple[dict[str, str], str]:
    """A password session of `staff_id` through the API: its auth header and session id."""
    admin = await resolve_actor(api.app.store, "root")
    invitation = await identity.invite(api.app, admin, staff_id, now=api.clock())
    await identity.accept_invitation(api.app, staff_id, invitation.code, PASSWORD, now=api.clock())
    answer = await api.http.post(
        "/api/v1/sessions", json={"staff_id": staff_id, "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    session = answer.json()
    return {"Authorization": f"Bearer {session['token']}"}, session["session_id"]


async def access_log_of(api: Api, case_id: str) -> list[dict[str, Any]]:
    """The case's access log as an auditor reads it through the API, oldest first."""
    audrey, _ = await signed_in(api, "audrey")
    answer = await api.http.get(f"/api/v1/cases/{case_id}/access-log", headers=audrey)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return [e for e in reversed(items) if e["staff_id"] != "audrey"]


async def test_a_read_records_the_request_id_address_and_session(api: Api) -> None:
    alice, session_id = await signed_in(api, "alice")
    case_id, _ = await open_case(api, alice)
    shown = await api.http.get(
        f"/api/v1/cases/{case_id}", headers={**alice, "X-Request-ID": "req-7f3a.42"}
    )
    assert shown.status_code == 200, shown.text
    assert shown.headers["X-Request-ID"] == "req-7f3a.42"

    [entry] = await access_log_of(api, case_id)
    assert entry["staff_id"] == "alice" and entry["view"] == "case show" and entry["allowed"]
    assert entry["request_id"] == "req-7f3a.42"
    assert entry["client_address"] == CLIENT[0]
    assert (entry["auth_method"], entry["credential_id"]) == ("password", session_id)
    assert entry["os_user"] is None and entry["payload_count"] is None


async def test_a_personal_access_token_is_recorded_as_such(api: Api) -> None:
    alice, _ = await signed_in(api, "alice")
    case_id, _ = await open_case(api, alice)
    made = await api.http.post("/api/v1/tokens", json={"name": "reports"}, headers=alice)
    assert made.status_code == 201, made.text
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    answer = await api.http.get(f"/api/v1/cases/{case_id}/history", headers=token)
    assert answer.status_code == 200, answer.text
    generated = answer.headers["X-Request-ID"]
    assert GENERATED.fullmatch(generated)  # none sent: a new one

    [entry] = await access_log_of(api, case_id)
    assert entry["view"] == "case history"
    assert (entry["auth_method"], entry["credential_id"]) == ("token", made.json()["token_id"])
    assert entry["request_id"] == generated


async def test_refusals_and_break_glass_carry_the_request_too(api: Api) -> None:
    alice, _ = await signed_in(api, "alice")
    erin, erin_session = await signed_in(api, "erin")
    case_id, etag = await open_case(api, alice)

    problem(
        await api.http.get(f"/api/v1/cases/{case_id}", headers={**erin, "X-Request-ID": "r-1"}),
        404,
    )
    problem(
        await api.http.post(
            f"/api/v1/cases/{case_id}/commands/record_note",
            json={"text": "x"},
            headers={**erin, "If-Match": etag, "X-Request-ID": "r-2"},
        ),
        404,
    )
    urgent = await api.http.get(
        f"/api/v1/cases/{case_id}",
        headers={**erin, "Casework-Break-Glass": "client in A&E", "X-Request-ID": "r-3"},
    )
    assert urgent.status_code == 200 and urgent.headers["X-Request-ID"] == "r-3"

    read, write, glass = await access_log_of(api, case_id)
    assert (read["view"], read["allowed"], read["request_id"]) == ("case show", False, "r-1")
    assert (write["view"], write["allowed"], write["request_id"]) == (
        "command record_note",
        False,
        "r-2",
    )
    assert (glass["break_glass"], glass["allowed"], glass["request_id"]) == (True, True, "r-3")
    for entry in (read, write, glass):
        assert entry["staff_id"] == "erin"
        assert (entry["auth_method"], entry["credential_id"]) == ("password", erin_session)
        assert entry["client_address"] == CLIENT[0]
    # The break-glass list shows the same.
    audrey, _ = await signed_in(api, "audrey")
    listed = await api.http.get("/api/v1/access-log/break-glass", headers=audrey)
    [emergency] = listed.json()["items"]
    assert emergency["request_id"] == "r-3" and emergency["auth_method"] == "password"


@pytest.mark.parametrize(
    "sent", ["has space", "x" * 129, "-starts-with-a-dash", "semi;colon", "ünïcode"]
)
async def test_an_unsafe_request_id_is_replaced(api: Api, sent: str) -> None:
    alice, _ = await signed_in(api, "alice")
    case_id, _ = await open_case(api, alice)
    headers = {k.encode(): v.encode() for k, v in alice.items()}
    headers[b"X-Request-ID"] = sent.encode()  # as sent on the wire (UTF-8 for the last)
    answer = await api.http.get(f"/api/v1/cases/{case_id}", headers=headers)
    assert answer.status_code == 200
    assert GENERATED.fullmatch(answer.headers["X-Request-ID"])
    [entry] = await access_log_of(api, case_id)
    assert entry["request_id"] == answer.headers["X-Request-ID"]


async def test_every_answer_carries_a_request_id(api: Api) -> None:
    unauthenticated = await api.http.get("/api/v1/me", headers={"X-Request-ID": "anon-1"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["X-Request-ID"] == "anon-1"
    too_large = await api.http.post(
        "/api/v1/cases", content=b"x" * (MAX_BODY_BYTES + 1), headers={"X-Request-ID": "big-1"}
    )
    assert too_large.status_code == 413 and too_large.headers["X-Request-ID"] == "big-1"
    health = await api.http.get("/healthz")
    assert GENERATED.fullmatch(health.headers["X-Request-ID"])


async def test_an_operator_command_records_the_operating_system_user(api: Api) -> None:
    """Operator commands (run on the servers, not through the API) bind `operator()`."""
    case_id = str(uuid.uuid4())
    with request_context.bound(request_context.operator()) as bound:
        entry = await access_log.record(api.app.pool, ALICE, case_id, View.INSPECT)
    assert (entry.auth_method, entry.os_user) == ("operator", getpass.getuser())
    assert entry.request_id == bound.request_id and entry.credential_id is None
    # Outside any request nothing is claimed.
    bare = await access_log.record(api.app.pool, ALICE, case_id, View.INSPECT)
    assert (bare.auth_method, bare.os_user, bare.request_id) == (None, None, None)


@pytest.fixture
def operator_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The command line's settings pointed at this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_the_command_lines_direct_calls_run_as_the_operating_system_user(
    operator_db: str,
) -> None:
    """`casework.cli.context.call`, the one way operator commands (`inspect`, `verify`, …)
    open Casework, records the operating-system user on what they read."""
    case_id = str(uuid.uuid4())
    first = call(lambda app: access_log.record(app.pool, ALICE, case_id, View.INSPECT), True)
    second = call(lambda app: access_log.record(app.pool, ALICE, case_id, View.INSPECT), True)
    for entry in (first, second):
        assert (entry.auth_method, entry.os_user) == ("operator", getpass.getuser())
        assert entry.request_id is not None and GENERATED.fullmatch(entry.request_id)
    assert first.request_id != second.request_id  # one request id per command
