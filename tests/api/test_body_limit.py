"""Bodies over 1 MB are refused (413) however they are framed: counted as they arrive,
not only by their Content-Length. Sent by a client over a real socket to uvicorn
(tests/api/served.py), against the real event store and case worker: a refused body
writes nothing to the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from casework.api.app import MAX_BODY_BYTES
from tests.api.conftest import Api, Case, open_case_body, problem
from tests.api.served import on_a_socket, read_response

OPEN_CASE = open_case_body("CL-BODY-1")

CHUNK = 64 * 1024


def padded(document: dict[str, Any], size: int) -> bytes:
    """`document` as JSON of `size` bytes or more: well-formed (whitespace before its last
    brace), so only its size may refuse it."""
    text = json.dumps(document).encode()
    return text[:-1] + b" " * max(0, size - len(text)) + b"}"


async def chunked(body: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
    """`body` as a stream: httpx sends it `Transfer-Encoding: chunked`, no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def notes(api: Api, case: Case) -> int:
    log = await api.app.store.read_stream(f"case-{case.case_id}")
    return sum(e.event_type == "CaseNoteRecorded" for e in log)


async def opened(api: Api, who: dict[str, str]) -> Case:
    answer = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=who)
    assert answer.status_code == 201, answer.text
    return Case(api, answer.json()["case_id"])


async def test_a_chunked_body_over_the_limit_is_refused_and_writes_nothing(api: Api) -> None:
    alice = await api.sign_in("alice")
    case = await opened(api, alice)
    before = await case.version()
    note = padded({"text": "a note padded to 2 MB"}, 2 * 1024 * 1024)
    json.loads(note)  # well-formed: read whole, it would be recorded
    path = f"/api/v1/cases/{case.case_id}/commands/record_note"
    headers = {**alice, "If-Match": "*", "Content-Type": "application/json"}
    async with on_a_socket(api) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        sent = http.build_request("POST", path, content=chunked(note), headers=headers)
        assert sent.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in sent.headers
        answer = await http.send(sent)
        refused = problem(answer, 413)
        assert refused["errors"] == [
            {"field": "(body)", "message": f"over {MAX_BODY_BYTES} bytes"}
        ], refused
        assert refused["instance"] == path
        # The app's own headers on the refusal too (it comes from inside the app).
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Request-ID"]

        # Every route: an open (no case made), and before the caller is known.
        big_open = padded(OPEN_CASE, 2 * 1024 * 1024)
        cases = await api.app.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'CaseOpened'"
        )
        for who in (alice, {}):
            answer = await http.post(
                "/api/v1/cases",
                content=chunked(big_open),
                headers={**who, "Content-Type": "application/json"},
            )
            problem(answer, 413)
        assert cases == await api.app.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'CaseOpened'"
        )

        # The connection still serves: a small chunked command goes through and is written.
        small = padded({"text": "a small chunked note"}, 3 * CHUNK)
        answer = await http.post(path, content=chunked(small, 1000), headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["events"] == ["CaseNoteRecorded"]
    assert await case.version() == before + 1
    assert await notes(api, case) == 1


async def test_a_chunked_body_just_under_the_limit_is_accepted(api: Api) -> None:
    alice = await api.sign_in("alice")
    case = await opened(api, alice)
    note = padded({"text": "a note of almost 1 MB"}, MAX_BODY_BYTES)
    assert len(note) == MAX_BODY_BYTES
    path = f"/api/v1/cases/{case.case_id}/commands/record_note"
    headers = {**alice, "If-Match": "*", "Content-Type": "application/json"}
    async with on_a_socket(api) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        answer = await http.post(path, content=chunked(note), headers=headers)
        assert answer.status_code == 200, answer.text
        over = await http.post(path, content=chunked(note + b" "), headers=headers)
        problem(over, 413)
    assert await notes(api, case) == 1


async def test_a_body_longer_than_its_content_length_is_refused(api: Api) -> None:
    """The application never takes more than a Content-Length declared: an ASGI server
    that would hand it more (here httpx's ASGI transport, which sends the body whole
    whatever the header says) gets 400 naming the header, and nothing is written."""
    alice = await api.sign_in("alice")
    case = await opened(api, alice)
    before = await case.version()
    path = f"/api/v1/cases/{case.case_id}/commands/record_note"
    body = json.dumps({"text": "a note longer than it says"}).encode()
    headers = {**alice, "If-Match": "*", "Content-Type": "application/json"}
    for declared, status in ((10, 400), (1000, 413)):
        sent = body if status == 400 else padded({"text": "lie"}, 2 * MAX_BODY_BYTES)
        request = api.http.build_request(
            "POST", path, content=sent, headers={**headers, "Content-Length": str(declared)}
        )
        assert request.headers["Content-Length"] == str(declared)
        refused = problem(await api.http.send(request), status)
        field = "Content-Length" if status == 400 else "(body)"
        assert refused["errors"][0]["field"] == field, refused
    for bad in (b"ten", b"-1", b"\xb2"):  # not a number of bytes (\xb2: "²"): 400, not 500
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        request = api.http.build_request(
            "POST", path, content=body, headers=[*raw, (b"Content-Length", bad)]
        )
        refused = problem(await api.http.send(request), 400)
        assert refused["errors"][0]["field"] == "Content-Length", refused
    assert await case.version() == before


async def test_a_content_length_lie_on_a_real_connection_writes_nothing(api: Api) -> None:
    """On a real connection the server reads only what the Content-Length declares: the
    note cut short there is not JSON, and the megabytes after it are no HTTP request.
    Both are refused and nothing is written."""
    alice = await api.sign_in("alice")
    case = await opened(api, alice)
    before = await case.version()
    note = padded({"text": "a note far longer than it says"}, 2 * 1024 * 1024)
    async with on_a_socket(api) as base:
        host, _, port = base.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST /api/v1/cases/{case.case_id}/commands/record_note HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: {alice['Authorization']}\r\n"
            "If-Match: *\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"
        )
        writer.write(head.encode() + note)
        await writer.drain()
        statuses = []
        try:
            while True:
                status, _, _ = await asyncio.wait_for(read_response(reader), timeout=30)
                statuses.append(status)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
    assert statuses and all(400 <= s < 500 for s in statuses), statuses
    assert await case.version() == before
