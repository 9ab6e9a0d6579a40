"""Forgetting a client through the HTTP API (casework/api/clients.py), in-process over the
real sealed event store and a real case worker on the time-skipping Temporal server: only
an admin, only with the client's reference repeated in `confirm`, and then every personal
field of theirs reads as erased; anything refused destroys nothing."""

from __future__ import annotations

from events.personal import ERASED_TEXT
from tests.api.test_api import OPEN_CASE, Api, open_case, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store

CLIENT = OPEN_CASE["client_ref"]
NAME = OPEN_CASE["client"]["name"]
FORGET = f"/api/v1/clients/{CLIENT}/forget"


async def client_name(api: Api, case_id: str, auth: dict[str, str]) -> str:
    shown = await api.http.get(f"/api/v1/cases/{case_id}", headers=auth)
    assert shown.status_code == 200, shown.text
    name: str = shown.json()["client"]["name"]
    return name


async def test_an_admin_forgets_a_client_irreversibly(api: Api) -> None:
    alice, root = await api.sign_in("alice"), await api.sign_in("root")
    case_id, _ = await open_case(api, alice)
    assert await client_name(api, case_id, alice) == NAME
    forgotten = await api.http.post(
        FORGET, json={"reason": "right to erasure request #12", "confirm": CLIENT}, headers=root
    )
    assert forgotten.status_code == 200, forgotten.text
    assert forgotten.json() == {
        "client_ref": CLIENT,
        "destroyed_now": True,
        "streams": [f"case-{case_id}"],
        "recorded_in": [f"case-{case_id}"],
        # The time-skipping server cannot delete executions: the case is named as one
        # whose Temporal history may still hold personal data (a dev server deletes it:
        # tests/security/test_erasure_everywhere.py).
        "histories_deleted": 0,
        "histories_not_erased": [f"case-{case_id}"],
    }
    # Recorded by the running case itself, naming the admin and the reason.
    log = await api.app.store.read_stream(f"case-{case_id}")
    erasure = [e for e in log if e.event_type == "ClientForgotten"]
    assert len(erasure) == 1
    assert erasure[0].data["reason"] == "right to erasure request #12"
    assert erasure[0].metadata.actor_id == "root"
    assert await client_name(api, case_id, alice) == ERASED_TEXT
    # Again: nothing more to destroy, nothing recorded twice.
    again = await api.http.post(
        FORGET, json={"reason": "asked twice", "confirm": CLIENT}, headers=root
    )
    assert again.status_code == 200, again.text
    assert (again.json()["destroyed_now"], again.json()["recorded_in"]) == (False, [])
    log = await api.app.store.read_stream(f"case-{case_id}")
    assert [e.event_type for e in log].count("ClientForgotten") == 1


async def test_without_confirmation_or_a_reason_nothing_is_destroyed(api: Api) -> None:
    alice, root = await api.sign_in("alice"), await api.sign_in("root")
    case_id, _ = await open_case(api, alice)
    version = await api.app.store.stream_version(f"case-{case_id}")
    for body, field in (
        ({"reason": "erasure request"}, "confirm"),
        ({"reason": "erasure request", "confirm": "CL-API-2"}, "confirm"),
        ({"reason": "erasure request", "confirm": CLIENT.lower()}, "confirm"),
        ({"confirm": CLIENT}, "reason"),
        ({"reason": "   ", "confirm": CLIENT}, "reason"),
        ({"reason": "x" * 201, "confirm": CLIENT}, "reason"),
        ({"reason": "erasure request", "confirm": CLIENT, "force": True}, "force"),
    ):
        found = problem(await api.http.post(FORGET, json=body, headers=root), 422)
        assert [e["field"] for e in found["errors"]] == [field], (body, found)
    found = problem(
        await api.http.post(
            "/api/v1/clients/not%20a%20ref/forget",
            json={"reason": "r", "confirm": "not a ref"},
            headers=root,
        ),
        422,
    )
    assert [e["field"] for e in found["errors"]] == ["client_ref"]
    assert await client_name(api, case_id, alice) == NAME
    assert await api.app.store.stream_version(f"case-{case_id}") == version
    # A client no case was ever opened for.
    problem(
        await api.http.post(
            "/api/v1/clients/CL-NOBODY/forget",
            json={"reason": "r", "confirm": "CL-NOBODY"},
            headers=root,
        ),
        404,
    )


async def test_only_an_admin_forgets_a_client_or_rewraps_keys(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id, _ = await open_case(api, alice)
    version = await api.app.store.stream_version(f"case-{case_id}")
    body = {"reason": "erasure request", "confirm": CLIENT}
    for who in ("alice", "carol", "max", "audrey"):
        auth = alice if who == "alice" else await api.sign_in(who)
        found = problem(await api.http.post(FORGET, json=body, headers=auth), 403)
        assert "only an admin" in found["detail"]
        problem(await api.http.post("/api/v1/client-keys/rewrap", headers=auth), 403)
    problem(await api.http.post(FORGET, json=body), 401)
    assert await client_name(api, case_id, alice) == NAME
    assert await api.app.store.stream_version(f"case-{case_id}") == version
    rewrapped = await api.http.post("/api/v1/client-keys/rewrap", headers=await api.sign_in("root"))
    assert rewrapped.status_code == 200, rewrapped.text
    assert rewrapped.json() == {"rewrapped": 0}  # every key is under the current master key
