"""A case open sent again with the same `Idempotency-Key` (what `casework case open` does
when its connection drops) opens one case: the same key with the same body answers the
first result, the same key with another body 422 naming the header. Over the real
event store and a real case worker (tests/api/conftest.py), and through a real socket
whose first answer is lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner

from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings
from starter import app as cli_app
from tests.api.conftest import Api, Case, open_case_body, problem
from tests.api.served import losing_first_answer, on_a_socket

OPEN_CASE = open_case_body("CL-RETRY-1")


async def cases_opened(api: Api) -> int:
    """CaseOpened events in the whole log (this test's database)."""
    count: int = await api.app.pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'CaseOpened'"
    )
    return count


async def test_the_same_key_and_body_answer_the_first_open(api: Api) -> None:
    alice = await api.sign_in("alice")
    keyed = {**alice, "Idempotency-Key": "open-once-1"}
    first = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=keyed)
    assert first.status_code == 201, first.text
    case = Case(api, first.json()["case_id"])
    opened_at = await case.version()
    again = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    for header in ("Location", "ETag"):
        assert again.headers[header] == first.headers[header]
    assert await cases_opened(api) == 1 and await case.version() == opened_at

    # Still the first answer once the case has moved on (not the case as it stands).
    await case.ok(alice, "record_note", {"text": "after the open"})
    later = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=keyed)
    assert later.status_code == 201 and later.json() == first.json(), later.text
    assert await cases_opened(api) == 1 and await case.version() == opened_at + 1

    # Another body under the key: refused, naming the header, and nothing opened.
    other = {**OPEN_CASE, "presenting_needs": ["food"]}
    refused = problem(await api.http.post("/api/v1/cases", json=other, headers=keyed), 422)
    assert refused["errors"][0]["field"] == "Idempotency-Key", refused
    assert "Idempotency-Key" in refused["detail"]
    assert await cases_opened(api) == 1

    # The key is the caller's: another caseworker's open under it is another case.
    frank = await api.sign_in("frank")
    theirs = await api.http.post(
        "/api/v1/cases", json=OPEN_CASE, headers={**frank, "Idempotency-Key": "open-once-1"}
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["case_id"] != first.json()["case_id"]
    # Without a key every open is a case of its own, as before.
    unkeyed = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=alice)
    assert unkeyed.status_code == 201, unkeyed.text
    assert await cases_opened(api) == 3


async def test_a_retry_racing_the_first_attempt_opens_one_case(api: Api) -> None:
    alice = await api.sign_in("alice")
    keyed = {**alice, "Idempotency-Key": "open-race-1"}
    answers = await asyncio.gather(
        *(api.http.post("/api/v1/cases", json=OPEN_CASE, headers=keyed) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert await cases_opened(api) == 1


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    get_settings.cache_clear()  # read again with this command's environment
    try:
        result = CliRunner().invoke(cli_app, args, env=env)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.stdout, result.stderr


async def test_casework_case_open_retried_after_a_lost_answer_opens_one_case(
    api: Api, tmp_path: Any
) -> None:
    """`casework case open` through a connection that breaks after the server opened the
    case: the command line retries with the same key and prints that very case."""
    alice = await api.sign_in("alice")
    token = alice["Authorization"].removeprefix("Bearer ")
    # Logging configured outside the runner's isolation (as tests/cli_session.py does):
    # the server's lines never go to a stream the runner closes, nor into stdout's JSON.
    configure_logging(get_settings(), force=True)
    async with on_a_socket(api) as server, losing_first_answer(server) as proxy:
        env = {
            "CASEWORK_API_URL": proxy.url,
            "CASEWORK_TOKEN": token,
            "CASEWORK_CONFIG_DIR": str(tmp_path),
        }
        args = [
            "case", "open", "--client-ref", "CL-RETRY-CLI", "--name", "Ada Lovelace",
            "--worker", "alice", "--need", "housing", "--json",
        ]  # fmt: skip
        code, out, err = await asyncio.to_thread(_cli, args, env)
    assert code == 0, (out, err)
    printed = json.loads(out)
    assert proxy.connections == 2, "the command line did not retry"
    assert len(proxy.lost) == 1
    lost = json.loads(proxy.lost[0])
    assert printed["case_id"] == lost["case_id"], (printed, lost)
    assert printed["stream_version"] == lost["stream_version"]
    assert await cases_opened(api) == 1
