"""Finding the client through the HTTP API (in-process, the real sealed event store, a
real case worker on the time-skipping server): the client record, search tolerant of
spelling, accents, order and nicknames, only within the reader's scope (or through
break-the-glass, recorded), the duplicate warning at intake (409 with the candidates,
the confirmation recorded with the opening), links between two references of one
person, and erasure leaving no index entry."""

from __future__ import annotations

from typing import Any

from application.access_log import entries
from cases.actors import Actor, Role
from tests.api.conftest import Api, problem

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)

JOSE = {
    "name": "José Muñoz-García",
    "date_of_birth": "1984-03-02",
    "contact": {"phone": "+44 7700 900123", "email": "jose.munoz@example.org"},
    "identifiers": {"NHS number": "943 476 5919"},
}
ROBERT = {"name": "Robert Smith", "date_of_birth": "1990-01-01"}
ROBERTA = {"name": "Roberta Smithson", "date_of_birth": "1971-07-19"}


async def _open(
    api: Api, who: dict[str, str], ref: str, client: dict[str, Any], assignee: str, **extra: Any
) -> Any:
    return await api.http.post(
        "/api/v1/cases",
        json={
            "client_ref": ref,
            "client": client,
            "assignee": assignee,
            "presenting_needs": ["housing"],
            **extra,
        },
        headers=who,
    )


async def _opened(api: Api, who: dict[str, str], ref: str, client: dict[str, Any], to: str) -> str:
    answer = await _open(api, who, ref, client, to)
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["case_id"]
    return case_id


async def _search(api: Api, who: dict[str, str], **params: str) -> list[dict[str, Any]]:
    answer = await api.http.get("/api/v1/clients", params=params, headers=who)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_search_the_record_and_scope(api: Api) -> None:
    alice, erin, sam = [await api.sign_in(s) for s in ("alice", "erin", "sam")]
    jose_case = await _opened(api, alice, "CL-S-1", JOSE, "alice")
    await _opened(api, alice, "CL-S-2", ROBERT, "alice")
    await _opened(api, sam, "CL-S-3", ROBERTA, "erin")

    # Accents, order, hyphens, a misspelling, a nickname: the same person first.
    for query in ("jose munoz", "Garcia, José", "Jose Munos Garcia"):
        found = await _search(api, alice, q=query)
        assert found and found[0]["client_ref"] == "CL-S-1", (query, found)
    assert (await _search(api, alice, q="Bob Smith"))[0]["client_ref"] == "CL-S-2"
    assert [c["client_ref"] for c in await _search(api, alice, phone="07700 900123")] == ["CL-S-1"]
    assert [c["client_ref"] for c in await _search(api, alice, email="JOSE.MUNOZ@example.org")] == [
        "CL-S-1"
    ]
    assert [c["client_ref"] for c in await _search(api, alice, identifier="9434765919")] == [
        "CL-S-1"
    ]
    assert "CL-S-1" in [c["client_ref"] for c in await _search(api, alice, dob="1984-03-02")]
    # Only clients whose cases the reader may see: erin (south) never sees alice's.
    refs = [c["client_ref"] for c in await _search(api, erin, q="Robert Smith")]
    assert "CL-S-2" not in refs and "CL-S-1" not in refs
    assert "CL-S-3" in refs
    # ... unless she breaks the glass: recorded, as a read of the case found.
    glass = {**erin, "Casework-Break-Glass": "client%20at%20the%20desk%2C%20no%20id"}
    broken = await _search(api, glass, q="jose munoz")
    assert broken[0]["client_ref"] == "CL-S-1"
    log = await entries(api.app.pool, AUDITOR, jose_case)
    assert any(e.staff_id == "erin" and e.break_glass and e.allowed for e in log), log

    # The client record: details from the log, their cases, recorded.
    record = await api.http.get("/api/v1/clients/CL-S-1", headers=alice)
    assert record.status_code == 200, record.text
    body = record.json()
    assert body["details"]["name"] == "José Muñoz-García"
    assert body["details"]["phone"] == "+44 7700 900123"
    assert [c["case_id"] for c in body["cases"]] == [jose_case]
    assert problem(await api.http.get("/api/v1/clients/CL-S-1", headers=erin), 404)
    assert problem(await api.http.get("/api/v1/clients/CL-NOBODY", headers=alice), 404)
    log = await entries(api.app.pool, AUDITOR, jose_case)
    assert any(e.staff_id == "alice" and e.view == "case show client" for e in log), log

    # The index holds no readable term.
    terms = await api.app.pool.fetch("SELECT token FROM client_index_terms")
    assert terms and all(len(bytes(t["token"])) == 16 for t in terms)
    assert not any(b"jose" in bytes(t["token"]).lower() for t in terms)


async def test_bad_queries_are_refused_or_find_nothing(api: Api) -> None:
    alice = await api.sign_in("alice")
    await _opened(api, alice, "CL-Q-1", ROBERT, "alice")
    for params, field in (
        ({}, None),
        ({"q": ""}, "q"),
        ({"q": "a"}, "q"),
        ({"q": "x" * 10_000}, "q"),
    ):
        body = problem(await api.http.get("/api/v1/clients", params=params, headers=alice), 422)
        if field is not None:
            assert [e["field"] for e in body["errors"]] == [field], body
    for harmless in ("' OR 1=1 --", "Robert%", "Smi*", "_____", "Robert'; DROP TABLE events;--"):
        answer = await api.http.get("/api/v1/clients", params={"q": harmless}, headers=alice)
        assert answer.status_code in (200, 422), (harmless, answer.text)
    assert await api.app.pool.fetchval("SELECT count(*) FROM events") > 0


async def test_searches_are_rate_limited_per_staff_member(api: Api) -> None:
    alice, frank = await api.sign_in("alice"), await api.sign_in("frank")
    for _ in range(30):
        await _search(api, alice, q="Robert Smith")
    limited = problem(
        await api.http.get("/api/v1/clients", params={"q": "Robert"}, headers=alice), 429
    )
    assert "searches a minute" in limited["detail"]
    await _search(api, frank, q="Robert Smith")  # another staff member is not limited


async def test_the_duplicate_warning_at_intake(api: Api) -> None:
    alice, erin, sam = [await api.sign_in(s) for s in ("alice", "erin", "sam")]
    await _opened(api, alice, "CL-D-1", JOSE, "alice")
    again = {**JOSE, "name": "Jose Munoz Garcia"}
    warned = problem(await _open(api, alice, "CL-D-9", again, "alice"), 409)
    assert warned["type"].endswith("possible-duplicate")
    assert [c["client_ref"] for c in warned["candidates"]] == ["CL-D-1"]
    assert warned["candidates"][0]["reason"]
    assert warned["hidden_matches"] == 0
    assert not await api.app.pool.fetchval(
        "SELECT count(*) FROM events WHERE data->>'client_ref' = 'CL-D-9'"
    )
    # The same phone is enough; another team's worker is told only that there are some.
    phoned = {"name": "J. Garcia", "contact": {"phone": "07700900123"}}
    hidden = problem(await _open(api, sam, "CL-D-8", phoned, "erin"), 409)
    assert hidden["candidates"] == [] and hidden["hidden_matches"] == 1
    # Using the existing client: no warning, a second case of theirs.
    second = await _open(api, alice, "CL-D-1", again, "alice")
    assert second.status_code == 201, second.text
    # Confirming a new client: opened, the decision recorded with the opening.
    confirmed = await _open(api, alice, "CL-D-9", again, "alice", confirm_new_client=True)
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["events"][:2] == ["CaseOpened", "ClientMatchesReviewed"]
    log = await api.app.store.read_stream(f"case-{confirmed.json()['case_id']}")
    reviewed = [e for e in log if e.event_type == "ClientMatchesReviewed"]
    assert reviewed[0].data["candidates"] == ["CL-D-1"]
    assert reviewed[0].metadata.actor_id == "alice"
    record = (await api.http.get("/api/v1/clients/CL-D-1", headers=alice)).json()
    assert len(record["cases"]) == 2
    _ = erin


async def test_links_and_erasure(api: Api) -> None:
    alice, carol, root = [await api.sign_in(s) for s in ("alice", "carol", "root")]
    await _opened(api, alice, "CL-L-1", JOSE, "alice")
    twin = {"name": "Pepe Garcia", "date_of_birth": "1960-05-05"}
    await _opened(api, alice, "CL-L-2", twin, "alice")
    body = {"other_ref": "CL-L-2", "reason": "same NHS number, confirmed with the client"}
    refused = await api.http.post("/api/v1/clients/CL-L-1/links", json=body, headers=alice)
    assert refused.status_code == 403, refused.text
    linked = await api.http.post("/api/v1/clients/CL-L-1/links", json=body, headers=carol)
    assert linked.status_code == 200, linked.text
    assert (await api.http.get("/api/v1/clients/CL-L-2", headers=alice)).json()["linked"] == [
        "CL-L-1"
    ]
    twice = await api.http.post("/api/v1/clients/CL-L-1/links", json=body, headers=carol)
    assert twice.status_code == 409, twice.text
    undone = await api.http.post(
        "/api/v1/clients/CL-L-2/links/CL-L-1/unlink", json={"reason": "two people"}, headers=carol
    )
    assert undone.status_code == 200, undone.text
    assert (await api.http.get("/api/v1/clients/CL-L-1", headers=alice)).json()["linked"] == []

    # Forgotten: no index entry of theirs is left; search finds them no more.
    assert await api.app.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = 'CL-L-1'"
    )
    forgotten = await api.http.post(
        "/api/v1/clients/CL-L-1/forget",
        json={"reason": "erasure request", "confirm": "CL-L-1"},
        headers=root,
    )
    assert forgotten.status_code == 200, forgotten.text
    assert not await api.app.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = 'CL-L-1'"
    )
    assert "CL-L-1" not in [c["client_ref"] for c in await _search(api, alice, q="jose munoz")]
    record = (await api.http.get("/api/v1/clients/CL-L-1", headers=alice)).json()
    assert record["forgotten"] and record["details"] is None
    # Rebuilt from the log, the index holds them no more either.
    from application.clients import index

    await index.rebuild(api.app)
    assert not await api.app.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = 'CL-L-1'"
    )
    assert await api.app.pool.fetchval(
        "SELECT count(*) FROM client_index_terms WHERE client_ref = 'CL-L-2'"
    )
