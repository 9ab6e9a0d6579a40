"""Forgetting a client erases their personal data everywhere it was copied: the event log
(the data key destroyed), Temporal's histories (application/history_erasure.py: running
cases continue as new from their erased state, every other run is deleted), the workflow
state, the read models, the access log, the other tables, and the log lines.

End to end over the HTTP API, a real case worker on a Temporal dev server (the
time-skipping server cannot delete executions) and the real sealed event store: two cases
of one client — one running, one closed — hold the client's name and personal text in
their workflows' start inputs and Update arguments, in the workflow state and in the log.
After `forget` (the running case continues as new: its new run's input is the erased
state), every payload of every history event of every workflow execution (closed ones
included) is decoded with the project's codec and through the codec server and searched,
every table of the database is dumped and searched, and the captured log lines too: the
name is nowhere. Before the erasure the same search finds it (the search can fail).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from application.bootstrap import Casework
from casework.api.app import create_api
from casework.codec_server import CodecServer
from devtools.provider_simulator import ProviderSimulator
from directory import add_provider, add_staff, resolve_actor
from events.store import EventStore
from infrastructure.logs import configure_logging
from infrastructure.settings import LogFormat, Settings
from tests.api.test_api import Api, Clock, problem
from tests.cases import inputs
from tests.codec_keys import TEST_DATA_CONVERTER, settings_for_tests
from tests.projections.conftest import catch_up
from tests.security.test_access_log import staff
from tests.security.test_codec_front_door import parse, request_body
from tests.workflows.conftest import case_harness

CLIENT = "CL-ZQ-7"
NAME = "Zephyrine Quillfeather"
NOTE = "Ottoline, her sister, phoned about the flat on Marrowby Lane"
CONTACT = "Zephyrine sounded low; talked about Ottoline's spare room"
SECRETS = (
    "Zephyrine",
    "Quillfeather",
    "Ottoline",
    "Marrowby",
    "sofa surfing",  # an assessment's notes (tests/cases/inputs.py)
    "I want a stable place to live",  # a goal in the client's own words
)
"""What must be found nowhere after the erasure (the name, and words of the notes)."""

TEXT_TYPES = ("text", "character varying", "character", "jsonb", "json", "bytea")


@pytest.fixture
async def dev_api(dev_server: WorkflowEnvironment, sealed_store: EventStore) -> AsyncIterator[Api]:
    """The API on a worker over a Temporal dev server (it can list and delete executions)."""
    await staff(sealed_store)
    async with case_harness(dev_server, sealed_store) as cases:
        settings = Settings(task_queue=cases.task_queue, metrics_port=0)
        app = Casework(
            settings, sealed_store.pool, sealed_store, _client=cases.client, _cases=cases
        )
        server = create_api(settings, casework=app, clock=Clock())
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
            yield Api(http, app, Clock())


@pytest.fixture
async def codec_server(dev_api: Api) -> AsyncIterator[CodecServer]:
    """`casework codec-server` over the same Casework, with the tests' codec keys."""
    settings = settings_for_tests(metrics_port=0)
    async with CodecServer(settings, casework=dev_api.app, port=0) as server:
        yield server


@pytest.fixture
def log_file(logging_restored: None, tmp_path: Path) -> Path:
    """Every log line of the test (JSON, DEBUG and up), as the worker and API write them."""
    path = tmp_path / "casework.log"
    configure_logging(
        settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.JSON, CASEWORK_LOG_LEVEL="DEBUG"),
        force=True,
        to_file=path,
    )
    return path


# --- where personal data could be ----------------------------------------------------------


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload inside a protobuf message, at any depth (maps and lists included)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            for item in value.values():
                if isinstance(item, Message):
                    yield from payloads_in(item)
        elif isinstance(value, Message):
            yield from payloads_in(value)
        else:  # a repeated field
            for item in value:
                yield from payloads_in(item)


@dataclass
class CodecEndpoint:
    """The codec server (`casework codec-server`), as `temporal workflow show
    --codec-endpoint ... --codec-auth ...` uses it."""

    url: str
    auth: dict[str, str]

    async def decode(self, payloads: list[Payload]) -> list[Payload]:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{self.url}/decode", json=request_body(*payloads), headers=self.auth
            )
        assert answer.status_code == 200, answer.text
        return parse(answer.json())


async def temporal_findings(
    client: Client, endpoint: CodecEndpoint | None = None
) -> tuple[list[str], int]:
    """(what of SECRETS each history event holds, decoded with the project's codec and,
    given an endpoint, by the codec server too; how many runs were read)."""
    codec = TEST_DATA_CONVERTER.payload_codec
    assert codec is not None
    found: list[str] = []
    runs = 0
    async for execution in client.list_workflows(""):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:  # deleted; visibility lags behind
                continue
            raise
        runs += 1
        served: bytes = b""
        if endpoint is not None:
            every = [p for event in history.events for p in payloads_in(event)]
            served = b"".join(p.data for p in await endpoint.decode(every))
        for event in history.events:
            decoded = await codec.decode(list(payloads_in(event)))
            blob = event.SerializeToString() + b"".join(p.data for p in decoded)
            for secret in SECRETS:
                if secret.encode() in blob:
                    found.append(
                        f"{execution.id} run {execution.run_id} ({execution.status}): "
                        f"event {event.event_id} {EventType.Name(event.event_type)} "
                        f"holds {secret!r}"
                    )
        for secret in SECRETS:
            if secret.encode() in served:
                found.append(
                    f"{execution.id} run {execution.run_id}: the codec server decodes {secret!r}"
                )
    return found, runs


async def database_findings(pool: asyncpg.Pool) -> tuple[list[str], set[str]]:
    """(what of SECRETS any text, json or bytea column of any table holds; tables read)."""
    columns = await pool.fetch(
        """SELECT table_schema, table_name, column_name, data_type
             FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE t.table_type = 'BASE TABLE'
              AND table_schema NOT IN ('pg_catalog', 'information_schema')
              AND data_type = ANY($1::text[])""",
        list(TEXT_TYPES),
    )
    found: list[str] = []
    tables: set[str] = set()
    for column in columns:
        schema, table, name = column["table_schema"], column["table_name"], column["column_name"]
        tables.add(table)
        ident = f'"{schema}"."{table}"'
        cast = "" if column["data_type"] == "bytea" else "::text"
        values = await pool.fetch(
            f'SELECT "{name}"{cast} AS v FROM {ident} WHERE "{name}" IS NOT NULL'
        )
        blob = b"".join(v["v"] if cast == "" else v["v"].encode() for v in values)
        for secret in (*SECRETS, CLIENT):
            if secret.encode() in blob:
                found.append(f"{table}.{name} holds {secret!r}")
    return found, tables


def log_findings(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert "forget.case_history_erased" in text  # the lines of this test are in the file
    return [f"a log line holds {secret!r}" for secret in SECRETS if secret in text]


# --- driving the cases ----------------------------------------------------------------------


async def command(
    api: Api, auth: dict[str, str], case_id: str, update: str, body: dict[str, Any]
) -> httpx.Response:
    shown = await api.http.get(f"/api/v1/cases/{case_id}", headers=auth)
    assert shown.status_code == 200, shown.text
    return await api.http.post(
        f"/api/v1/cases/{case_id}/commands/{update}",
        json=body,
        headers={**auth, "If-Match": shown.headers["ETag"]},
    )


async def done(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def open_case(api: Api, auth: dict[str, str]) -> str:
    body = {
        "client_ref": CLIENT,
        "client": {"name": NAME, "notes": f"{NAME} prefers to be called Zeph"},
        "assignee": "alice",
        "presenting_needs": ["housing"],
    }
    opened = await api.http.post("/api/v1/cases", json=body, headers=auth)
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def contact_day(api: Api, auth: dict[str, str], case_id: str) -> str:
    """A contact date the case accepts: the day it opened, on the server's own clock."""
    shown = (await api.http.get(f"/api/v1/cases/{case_id}", headers=auth)).json()
    day: str = shown["opened_at"][:10]
    return day


async def test_a_forgotten_clients_name_is_nowhere(
    log_file: Path,
    dev_api: Api,
    codec_server: CodecServer,
    dev_server: WorkflowEnvironment,
    database_url: str,
) -> None:
    api = dev_api
    alice, carol, root = [await api.sign_in(s) for s in ("alice", "carol", "root")]
    client = dev_server.client
    store = api.app.store

    # A running case: the name in the start input, notes in Update arguments.
    running = await open_case(api, alice)
    await done(await command(api, alice, running, "record_note", {"text": NOTE}))
    day = await contact_day(api, alice, running)
    contact = {"kind": "phone", "contact_date": day, "notes": CONTACT}
    await done(await command(api, alice, running, "log_contact", contact))
    # A document: its title and name are personal (sealed in the log, in the Update's
    # arguments), its bytes sealed with her key; forget deletes them.
    letter = b"%PDF-1.4\n" + f"Tenancy offer for {NAME}, Marrowby Lane".encode() * 50
    uploaded = await api.http.post(
        f"/api/v1/cases/{running}/documents",
        params={"kind": "letter", "title": f"Tenancy offer for {NAME}", "filename": "ottoline.pdf"},
        content=letter,
        headers={**alice, "If-Match": "*"},
    )
    assert uploaded.status_code == 201, uploaded.text
    document = f"/api/v1/cases/{running}/documents/{uploaded.json()['document_id']}"
    assert (await api.http.get(document, headers=alice)).content == letter
    cases = await api.app.cases()
    # A plan in the client's own words, and a referral: its dispatch activity's input
    # carries the name (the client consented to share it with the provider).
    async with ProviderSimulator() as provider:
        for cmd in [
            *inputs.to_approved_plan(),
            inputs.refer(url=provider.provider_url("shelter-1")),
        ]:
            await cases.execute(running, cmd)
        for _ in range(600):
            if (await cases.state(running)).referrals["referral-1"].dispatch_attempts:
                break
            await asyncio.sleep(0.1)
    assert (await cases.state(running)).referrals["referral-1"].dispatch_attempts
    first_run = (await cases.handle(running).describe()).run_id
    # A closed case of the same client: its run is over, its history stays in Temporal.
    closed = await open_case(api, alice)
    await done(await command(api, alice, closed, "record_note", {"text": NOTE}))
    await done(await command(api, alice, closed, "request_closure", {"reason": "goals_met"}))
    await done(
        await command(api, carol, closed, "decide_approval", {"kind": "closure", "approve": True})
    )
    for _ in range(600):  # the closed case's run ends (within a minute)
        if not await cases.is_running(closed):
            break
        await asyncio.sleep(0.1)
    assert not await cases.is_running(closed)
    await catch_up(database_url, store)

    # The client index holds her (searched before the erasure, so it can fail after).
    found = await api.http.get("/api/v1/clients", params={"q": NAME}, headers=alice)
    assert [c["client_ref"] for c in found.json()] == [CLIENT], found.text
    assert await store.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = $1", CLIENT
    )

    # The referral's provider reads it in its portal: the name she consented to share.
    admin = await resolve_actor(store, "root")
    await add_provider(
        store, admin, "shelter-1", "Harbour Night Shelter", "housing", "https://shelter.test/r"
    )
    await add_staff(store, admin, "pia", "Pia", "provider", provider_id="shelter-1")
    pia = await api.sign_in("pia")
    portal = f"/api/v1/portal/referrals/{running}/referral-1"
    shared = await api.http.get(portal, headers=pia)
    assert shared.status_code == 200, shared.text
    assert shared.json()["shared"]["name"] == NAME

    # The codec server, as an admin would point `temporal workflow show` at it.
    endpoint = CodecEndpoint(codec_server.url, root)

    # The search finds the name before the erasure (so it can fail after it).
    before, runs_before = await temporal_findings(client, endpoint)
    assert runs_before >= 2
    assert any(NAME.split()[1] in f and f"case-{closed}" in f for f in before), before
    assert any("Ottoline" in f and f"case-{running}" in f for f in before), before
    assert any("ACTIVITY_TASK_SCHEDULED holds 'Zephyrine'" in f for f in before), before
    assert any("codec server decodes 'Zephyrine'" in f for f in before), before

    forgotten = await api.http.post(
        f"/api/v1/clients/{CLIENT}/forget",
        json={"reason": "right to erasure request #31", "confirm": CLIENT},
        headers=root,
    )
    assert forgotten.status_code == 200, forgotten.text
    result = forgotten.json()
    assert result["histories_not_erased"] == []
    assert result["histories_deleted"] >= 2  # the running case's first run, the closed run

    # Personal text on the forgotten client's open case is refused (409), naming the field
    # and the day of the erasure; a command without personal text still runs.
    log = await store.read_stream(f"case-{running}")
    erased_on = next(e for e in log if e.event_type == "ClientForgotten").occurred_at.date()
    refused = problem(await command(api, alice, running, "log_contact", contact), 409)
    assert refused["detail"] == (
        f"notes: the client was forgotten on {erased_on.isoformat()}; personal details can "
        "no longer be recorded on this case"
    )
    assert await store.stream_version(f"case-{running}") == len(log)  # nothing written
    await done(await command(api, alice, running, "log_contact", {**contact, "notes": ""}))
    shown = (await api.http.get(f"/api/v1/cases/{running}", headers=alice)).json()
    assert shown["client"]["name"] == "[erased]"
    assert await cases.is_running(running)
    assert (await cases.handle(running).describe()).run_id != first_run

    # The provider's portal: the referral still there, her details erased.
    shared = await api.http.get(portal, headers=pia)
    assert shared.status_code == 200, shared.text
    assert shared.json()["shared"]["name"] == "[erased]"
    assert [s for s in SECRETS if s in shared.text] == []

    # Her entries in the client index: none, and a search finds her no more.
    assert not await store.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = $1", CLIENT
    )
    found = await api.http.get("/api/v1/clients", params={"q": NAME}, headers=alice)
    assert found.status_code == 200 and found.json() == [], found.text

    # Her document: gone (its rows deleted, its key destroyed).
    assert (await api.http.get(document, headers=alice)).status_code == 410
    assert not await store.pool.fetchval(
        "SELECT count(*) FROM document_blobs WHERE case_id = ANY($1::uuid[])", [running, closed]
    )

    # Temporal: every run of every workflow, decoded — nothing (deletion is asynchronous
    # on the server: wait, with a generous limit).
    deadline = time.monotonic() + 180
    after, runs_after = await temporal_findings(client, endpoint)
    while after and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        after, runs_after = await temporal_findings(client, endpoint)
    assert after == []
    assert runs_after >= 1  # the running case's new run is still there, and was read

    # The database: every table, every text, json and bytea column.
    await catch_up(database_url, store)
    in_tables, tables = await database_findings(store.pool)
    assert {"events", "client_keys", "access_log"} <= tables, tables
    assert [f for f in in_tables if CLIENT not in f] == []
    assert any(CLIENT in f for f in in_tables)  # the dump reads the tables: the ref is there

    # The log lines of the whole test.
    assert log_findings(log_file) == []
