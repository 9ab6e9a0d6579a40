"""The codec server's front door, over real HTTP with real staff accounts and tokens.

No token or a bad one: 401. A role the access table does not let decode payloads: 403,
and the refused attempt is on record. An operator (or an admin) with a session or a
personal access token: the payloads decoded, and the access log holds who, how they
authenticated, the request id, the client address, the namespace, the workflow (and
its case) and how many payloads.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from application import access_log, identity
from application.bootstrap import Casework
from casework.codec_server import CodecServer
from directory import add_staff, deactivate_staff, resolve_actor
from events.store import EventStore
from infrastructure.codec import EncryptionCodec, Keyring
from infrastructure.settings import Settings
from tests.codec_keys import TEST_CODEC_KEYS, settings_for_tests
from tests.security.test_access_log import staff

START = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
UI = "https://temporal.agency.example"


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FrontDoor:
    """A codec server over a Casework with the tests' staff (and `otto`, an operator)."""

    app: Casework
    server: CodecServer
    http: aiohttp.ClientSession
    clock: Clock

    async def session(self, staff_id: str) -> identity.IssuedSession:
        """`staff_id` invited by root, their own password set, signed in."""
        admin = await resolve_actor(self.app.store, "root")
        invitation = await identity.invite(self.app, admin, staff_id, now=self.clock())
        await identity.accept_invitation(
            self.app, staff_id, invitation.code, PASSWORD, now=self.clock()
        )
        return await identity.sign_in(self.app, staff_id, PASSWORD, now=self.clock())

    async def access_token(self, staff_id: str) -> identity.IssuedToken:
        """A personal access token `staff_id` made from a session of their own."""
        signed_in = await self.session(staff_id)
        principal = await identity.authenticate(self.app, signed_in.token, now=self.clock())
        return await identity.create_access_token(
            self.app, principal, "codec", timedelta(days=30), now=self.clock()
        )

    async def post(
        self, path: str, body: dict[str, Any], *, token: str | None = None, **headers: str
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.http.post(f"{self.server.url}{path}", json=body, headers=sent) as answer:
            return answer.status, await answer.json(), answer.headers


async def add_operator(store: EventStore, staff_id: str = "otto") -> None:
    """The staff directory accepts operators: no team, like the other agency-wide roles."""
    admin = await resolve_actor(store, "root")
    await add_staff(store, admin, staff_id, staff_id.title(), "operator")


@asynccontextmanager
async def front_door(store: EventStore, settings: Settings) -> AsyncIterator[FrontDoor]:
    await staff(store)
    await add_operator(store)
    clock = Clock()
    app = Casework(settings, store.pool, store)
    async with (
        CodecServer(settings, casework=app, port=0, clock=clock) as server,
        aiohttp.ClientSession() as http,
    ):
        yield FrontDoor(app, server, http, clock)


@pytest.fixture
async def door(sealed_store: EventStore) -> AsyncIterator[FrontDoor]:
    async with front_door(sealed_store, settings_for_tests(metrics_port=0)) as opened:
        yield opened


PLAIN = [
    Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Rosalind Quennell-Ashby"}'),
    Payload(metadata={"encoding": b"json/plain"}, data=b'"2030-05-06"'),
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def request_body(*payloads: Payload) -> dict[str, Any]:
    """Payloads as the codec protocol's JSON body."""
    body: dict[str, Any] = json.loads(json_format.MessageToJson(Payloads(payloads=list(payloads))))
    return body


def parse(body: dict[str, Any]) -> list[Payload]:
    return list(json_format.Parse(json.dumps(body), Payloads()).payloads)


async def sealed_body() -> dict[str, Any]:
    """PLAIN as the worker's codec wrote it into history, in the protocol's JSON."""
    sealed = await EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS)).encode(PLAIN)
    return request_body(*sealed)


async def rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM access_log ORDER BY access_id")]


# --- 401: who is asking is not proven ----------------------------------------------------------


async def test_without_a_token_nothing_is_decoded(door: FrontDoor) -> None:
    body = await sealed_body()
    for path in ("/decode", "/encode"):
        status, answer, headers = await door.post(path, body)
        assert status == 401, answer
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert "payloads" not in answer
        # Not a bearer token: the same.
        status, _, _ = await door.post(path, body, Authorization="Basic b3R0bzpwYXNz")
        assert status == 401
    assert await rows(door.app.pool) == []


async def test_a_bad_token_is_refused(door: FrontDoor) -> None:
    body = await sealed_body()
    for bogus in ("cws_not-a-session", "cwp_not-a-token", "eyJhbGciOiJub25lIn0.e30.", "x"):
        status, answer, _ = await door.post("/decode", body, token=bogus)
        assert status == 401, (bogus, answer)
    # A real session that has ended (signed out) no longer opens the door.
    otto = await door.session("otto")
    await identity.sign_out(door.app, otto.token, now=door.clock())
    status, answer, _ = await door.post("/decode", body, token=otto.token)
    assert status == 401 and "payloads" not in answer
    # Nor does an operator's session past its absolute timeout.
    later = await door.session("otto")
    door.clock.now += door.app.settings.session_absolute_timeout + timedelta(seconds=1)
    status, _, _ = await door.post("/decode", body, token=later.token)
    assert status == 401
    assert await rows(door.app.pool) == []


# --- 403: proven, but the role may not decode ---------------------------------------------------


@pytest.mark.parametrize("staff_id", ["alice", "carol", "max", "audrey"])
async def test_roles_that_may_not_decode_are_refused_and_recorded(
    door: FrontDoor, staff_id: str
) -> None:
    token = (await door.session(staff_id)).token
    body = await sealed_body()
    status, answer, _ = await door.post("/decode", body, token=token, X_Namespace="default")
    assert status == 403, answer
    assert "payloads" not in answer
    assert "Rosalind" not in str(answer)
    status, _, _ = await door.post("/encode", {"payloads": []}, token=token)
    assert status == 403
    [decode, encode] = await rows(door.app.pool)
    assert (decode["staff_id"], decode["view"], decode["allowed"]) == (
        staff_id,
        "codec decode",
        False,
    )
    assert decode["payload_count"] == 2 and decode["auth_method"] == "password"
    assert (encode["view"], encode["allowed"], encode["payload_count"]) == (
        "codec encode",
        False,
        0,
    )


# --- 200: an operator or an admin, on record ----------------------------------------------------


async def test_an_operator_decodes_and_the_decode_is_on_record(door: FrontDoor) -> None:
    issued = await door.access_token("otto")
    case_id = str(uuid.uuid4())
    status, answer, headers = await door.post(
        "/decode",
        await sealed_body(),
        token=issued.token,
        X_Namespace="default",
        X_Workflow_Id=f"case-{case_id}",
        X_Request_ID="ui-7f3a-decode",
    )
    assert status == 200, answer
    assert parse(answer) == PLAIN
    assert headers["X-Request-ID"] == "ui-7f3a-decode"

    [entry] = await rows(door.app.pool)
    assert entry["staff_id"] == "otto" and entry["role"] == "operator"
    assert entry["team"] is None
    assert (entry["view"], entry["allowed"], entry["payload_count"]) == ("codec decode", True, 2)
    assert (entry["namespace"], entry["workflow_id"]) == ("default", f"case-{case_id}")
    assert entry["case_id"] == case_id  # a case's workflow: the entry is in its access log
    assert (entry["auth_method"], entry["credential_id"]) == ("token", issued.token_id)
    assert entry["request_id"] == "ui-7f3a-decode"
    assert entry["client_address"] == "127.0.0.1"
    # Auditors find it in the case's access log, with the same fields.
    auditor = await resolve_actor(door.app.store, "audrey")
    [listed] = await access_log.entries(door.app.pool, auditor, case_id)
    assert listed.payload_count == 2 and listed.auth_method == "token"
    assert listed.workflow_id == f"case-{case_id}" and listed.view == "codec decode"


async def test_an_admin_may_decode_too_and_encode_is_guarded_alike(door: FrontDoor) -> None:
    root = await door.session("root")
    status, encoded, _ = await door.post(
        "/encode", {"payloads": [{"metadata": {}, "data": "MQ=="}]}, token=root.token
    )
    assert status == 200, encoded
    status, decoded, headers = await door.post("/decode", encoded, token=root.token)
    assert status == 200 and decoded["payloads"][0]["data"] == "MQ=="
    generated = headers["X-Request-ID"]
    assert len(generated) == 32  # none sent: a new one
    encode, decode = await rows(door.app.pool)
    assert (encode["view"], decode["view"]) == ("codec encode", "codec decode")
    for entry in (encode, decode):
        assert entry["staff_id"] == "root" and entry["allowed"]
        assert (entry["auth_method"], entry["credential_id"]) == ("password", root.session_id)
        assert entry["case_id"] is None and entry["workflow_id"] is None
        assert entry["payload_count"] == 1
    assert decode["request_id"] == generated != encode["request_id"]


async def test_an_unsafe_workflow_id_or_request_id_is_not_recorded_as_sent(
    door: FrontDoor,
) -> None:
    token = (await door.access_token("otto")).token
    status, answer, _ = await door.post(
        "/decode", await sealed_body(), token=token, X_Workflow_Id="case-1 DROP TABLE"
    )
    assert status == 400 and "X-Workflow-Id" in answer["error"]
    status, _, headers = await door.post(
        "/decode", await sealed_body(), token=token, X_Request_ID="forged\tlog line"
    )
    assert status == 200
    assert headers["X-Request-ID"] != "forged\tlog line"
    [entry] = await rows(door.app.pool)
    assert entry["request_id"] == headers["X-Request-ID"]


async def test_a_deactivated_operator_is_refused_at_once(door: FrontDoor) -> None:
    token = (await door.access_token("otto")).token
    status, _, _ = await door.post("/decode", await sealed_body(), token=token)
    assert status == 200
    admin = await resolve_actor(door.app.store, "root")
    await deactivate_staff(door.app.store, admin, "otto", "left the agency")
    status, _, _ = await door.post("/decode", await sealed_body(), token=token)
    assert status == 401


# --- CORS: only for the configured Temporal UI ------------------------------------------------


async def preflight(door: FrontDoor, origin: str) -> Mapping[str, str]:
    async with door.http.options(
        f"{door.server.url}/decode",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    ) as answer:
        assert answer.status == 204
        return answer.headers


async def test_no_cors_unless_configured(door: FrontDoor) -> None:
    for origin in (UI, "http://127.0.0.1:8233", "http://localhost:8233"):
        assert "Access-Control-Allow-Origin" not in await preflight(door, origin)


async def test_cors_for_the_configured_ui_origin(sealed_store: EventStore) -> None:
    settings = settings_for_tests(metrics_port=0, codec_allowed_origins=UI)
    async with front_door(sealed_store, settings) as door:
        headers = await preflight(door, UI)
        assert headers["Access-Control-Allow-Origin"] == UI
        assert "Authorization" in headers["Access-Control-Allow-Headers"]
        assert "X-Request-ID" in headers["Access-Control-Expose-Headers"]
        assert "Access-Control-Allow-Origin" not in await preflight(door, "http://evil.example")
        # The UI's decode call itself carries the CORS answer, and still needs a token.
        status, _, answer = await door.post("/decode", await sealed_body(), Origin=UI)
        assert status == 401 and answer["Access-Control-Allow-Origin"] == UI


def test_a_malformed_origin_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="CASEWORK_CODEC_ALLOWED_ORIGINS"):
        Settings.model_validate({"CASEWORK_CODEC_ALLOWED_ORIGINS": "temporal.example:8080/ui"})
