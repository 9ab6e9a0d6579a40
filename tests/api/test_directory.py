"""The staff and resource directories through the HTTP API (casework/api/directory.py),
in-process over the real event store, with signed-in staff: admins change them, everyone
reads them in pages, bad input is named and writes nothing, and anyone else is refused."""

from __future__ import annotations

from typing import Any

from directory import PROVIDER_STREAM, STAFF_STREAM
from tests.api.test_api import Api, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store

PROVIDER: dict[str, Any] = {
    "provider_id": "food-bank",
    "name": "Riverside Food Bank",
    "category": "food_assistance",
    "webhook_url": "https://food.example/referrals",
    "phone": "+44 20 7946 0000",
}


async def _versions(api: Api) -> tuple[int, int]:
    store = api.app.store
    return await store.stream_version(STAFF_STREAM), await store.stream_version(PROVIDER_STREAM)


async def every_page(api: Api, path: str, auth: dict[str, str], limit: int) -> list[Any]:
    rows: list[Any] = []
    cursor: str | None = None
    join = "&" if "?" in path else "?"
    for _ in range(100):
        query = f"{path}{join}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = await api.http.get(f"/api/v1/{query}", headers=auth)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= limit
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("paging did not end")


async def test_an_admin_keeps_the_staff_directory(api: Api) -> None:
    root = await api.sign_in("root")
    team = await api.http.post(
        "/api/v1/teams", json={"team_id": "east", "name": "East"}, headers=root
    )
    assert team.status_code == 201, team.text
    assert team.json() == {"team_id": "east", "name": "East"}
    added = await api.http.post(
        "/api/v1/staff",
        json={
            "staff_id": "nadia",
            "display_name": "Nadia Okafor",
            "role": "caseworker",
            "team": "east",
            "webhook_url": "https://hooks.example/nadia",
        },
        headers=root,
    )
    assert added.status_code == 201, added.text
    assert added.headers["Location"] == "/api/v1/staff/nadia"
    shown = await api.http.get("/api/v1/staff/nadia", headers=await api.sign_in("alice"))
    assert shown.json() == {
        "staff_id": "nadia",
        "display_name": "Nadia Okafor",
        "role": "caseworker",
        "team": "east",
        "webhook_url": "https://hooks.example/nadia",
        "active": True,
        "deactivation_reason": None,
    }
    # A change names only what changes: the team moves, the webhook goes, the name stays.
    changed = await api.http.patch(
        "/api/v1/staff/nadia",
        json={"team": "north", "webhook_url": None, "reason": "moved office"},
        headers=root,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["team"], changed.json()["webhook_url"]) == ("north", None)
    assert changed.json()["display_name"] == "Nadia Okafor"
    promoted = await api.http.patch(
        "/api/v1/staff/nadia", json={"role": "supervisor"}, headers=root
    )
    assert (promoted.json()["role"], promoted.json()["team"]) == ("supervisor", "north")
    # The same profile again: the rules refuse it as it stands (409), nothing written.
    before = await _versions(api)
    problem(
        await api.http.patch("/api/v1/staff/nadia", json={"role": "supervisor"}, headers=root),
        409,
    )
    assert await _versions(api) == before
    gone = await api.http.post(
        "/api/v1/staff/nadia/deactivation", json={"reason": "left the agency"}, headers=root
    )
    assert gone.status_code == 200, gone.text
    assert (gone.json()["active"], gone.json()["deactivation_reason"]) == (False, "left the agency")
    # Deactivated: still shown on its own and with ?all=true, no longer listed, no longer changed.
    listed = (await api.http.get("/api/v1/staff?team=north&limit=500", headers=root)).json()
    assert "nadia" not in [m["staff_id"] for m in listed["items"]]
    everyone = (await api.http.get("/api/v1/staff?all=true&limit=500", headers=root)).json()
    assert "nadia" in [m["staff_id"] for m in everyone["items"]]
    problem(await api.http.patch("/api/v1/staff/nadia", json={"name": "x"}, headers=root), 422)
    problem(
        await api.http.patch("/api/v1/staff/nadia", json={"display_name": "N"}, headers=root), 404
    )
    problem(await api.http.get("/api/v1/staff/nobody", headers=root), 404)
    # The last active admin cannot lock everyone out.
    last = problem(
        await api.http.post(
            "/api/v1/staff/root/deactivation", json={"reason": "tidy up"}, headers=root
        ),
        409,
    )
    assert "last active admin" in last["detail"]
    # Every change is an event whose metadata names the admin who made it.
    log = await api.app.store.read_stream(STAFF_STREAM)
    mine = [e for e in log if e.data.get("staff_id") == "nadia" or e.data.get("team_id") == "east"]
    assert [e.event_type for e in mine] == [
        "TeamAdded",
        "StaffMemberAdded",
        "StaffMemberChanged",
        "StaffMemberChanged",
        "StaffMemberDeactivated",
    ]
    assert {e.metadata.actor_id for e in mine} == {"root"}


async def test_an_admin_keeps_the_resource_directory(api: Api) -> None:
    root, alice = await api.sign_in("root"), await api.sign_in("alice")
    added = await api.http.post("/api/v1/providers", json=PROVIDER, headers=root)
    assert added.status_code == 201, added.text
    assert added.headers["Location"] == "/api/v1/providers/food-bank"
    assert added.json()["channel"] == {
        "webhook_url": "https://food.example/referrals",
        "phone": "+44 20 7946 0000",
        "email": None,
    }
    service = await api.http.post(
        "/api/v1/providers/food-bank/services",
        json={"service_id": "parcels", "name": "Food parcels", "domains": ["income"]},
        headers=root,
    )
    assert service.status_code == 201, service.text
    assert service.json()["domains"] == ["income"]
    changed = await api.http.patch(
        "/api/v1/providers/food-bank",
        json={"phone": None, "email": "intake@food.example", "eligibility": "Borough residents"},
        headers=root,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["channel"]["phone"] is None
    assert changed.json()["channel"]["email"] == "intake@food.example"
    assert changed.json()["name"] == "Riverside Food Bank"
    # Everyone reads it: the list filters by category and by the need a service serves.
    for query, found in (
        ("category=food_assistance", ["food-bank"]),
        ("category=housing", []),
        ("domain=income", ["food-bank"]),
        ("domain=housing", []),
    ):
        page = (await api.http.get(f"/api/v1/providers?{query}", headers=alice)).json()
        assert [p["provider_id"] for p in page["items"]] == found, query
    shown = (await api.http.get("/api/v1/providers/food-bank", headers=alice)).json()
    assert [s["service_id"] for s in shown["services"]] == ["parcels"]
    withdrawn = await api.http.post(
        "/api/v1/providers/food-bank/services/parcels/withdrawal",
        json={"reason": "funding ended"},
        headers=root,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["active"], withdrawn.json()["withdrawal_reason"]) == (
        False,
        "funding ended",
    )
    problem(
        await api.http.post(
            "/api/v1/providers/food-bank/services/parcels/withdrawal",
            json={"reason": "again"},
            headers=root,
        ),
        404,
    )
    gone = await api.http.post(
        "/api/v1/providers/food-bank/deactivation", json={"reason": "closed"}, headers=root
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    listed = (await api.http.get("/api/v1/providers", headers=alice)).json()
    assert listed["items"] == []
    every = (await api.http.get("/api/v1/providers?all=true", headers=alice)).json()
    assert [p["provider_id"] for p in every["items"]] == ["food-bank"]
    problem(await api.http.get("/api/v1/providers/nowhere", headers=alice), 404)


async def test_bad_input_names_the_field_and_writes_nothing(api: Api) -> None:
    root = await api.sign_in("root")
    assert (await api.http.post("/api/v1/providers", json=PROVIDER, headers=root)).is_success
    before = await _versions(api)
    member = {
        "staff_id": "newbie",
        "display_name": "New Bie",
        "role": "caseworker",
        "team": "north",
    }
    for method, path, body, field in (
        ("POST", "/staff", {**member, "staff_id": "no spaces please"}, "staff_id"),
        ("POST", "/staff", {**member, "role": "boss"}, "role"),
        ("POST", "/staff", {**member, "display_name": ""}, "display_name"),
        ("POST", "/staff", {**member, "display_name": "a\x00b"}, "display_name"),
        ("POST", "/staff", {**member, "webhook_url": "ftp://hooks.example/x"}, "webhook_url"),
        ("POST", "/staff", {**member, "admin": True}, "admin"),
        ("POST", "/staff", {**member, "team": "west"}, "team"),  # no such team (a rule)
        ("POST", "/staff", {**member, "team": None}, "team"),  # a caseworker needs one
        ("POST", "/staff", {**member, "staff_id": "alice"}, "staff_id"),  # taken
        ("POST", "/teams", {"team_id": "north", "name": "Again"}, "team_id"),  # taken
        ("POST", "/teams", {"team_id": "west"}, "name"),
        ("PATCH", "/staff/alice", {"display_name": None}, "display_name"),
        ("PATCH", "/staff/alice", {"role": "boss"}, "role"),
        ("PATCH", "/staff/alice", {}, "(body)"),
        ("PATCH", "/staff/alice", {"team": "west"}, "team"),
        ("POST", "/staff/alice/deactivation", {}, "reason"),
        ("POST", "/staff/alice/deactivation", {"reason": " "}, "reason"),
        ("POST", "/providers", {**PROVIDER, "provider_id": "clinic", "category": "x"}, "category"),
        ("POST", "/providers", {**PROVIDER, "provider_id": "clinic", "email": "nope"}, "email"),
        ("POST", "/providers", {**PROVIDER, "webhook_url": "https://u:p@x.example"}, "webhook_url"),
        ("POST", "/providers", PROVIDER, "provider_id"),  # taken
        ("PATCH", "/providers/food-bank", {"phone": "call me"}, "phone"),
        ("PATCH", "/providers/food-bank", {"name": None}, "name"),
        ("POST", "/providers/food-bank/services", {"service_id": "s", "name": "S"}, "domains"),
        (
            "POST",
            "/providers/food-bank/services",
            {"service_id": "s", "name": "S", "domains": ["housing", "housing"]},
            "domains",
        ),
        ("POST", "/providers/food-bank/services", {"service_id": "s", "name": "S",
                                                   "domains": ["moods"]}, "domains.0"),
    ):  # fmt: skip
        answer = await api.http.request(method, f"/api/v1{path}", json=body, headers=root)
        found = problem(answer, 422)
        assert field in [e["field"] for e in found["errors"]], (path, body, found)
    for query, field in (
        ("staff?team=west", "team"),
        ("staff?role=boss", "role"),
        ("staff?limit=0", "limit"),
        ("staff?cursor=not-a-cursor", "cursor"),
        ("providers?category=spa", "category"),
        ("providers?domain=moods", "domain"),
        ("teams?limit=501", "limit"),
    ):
        found = problem(await api.http.get(f"/api/v1/{query}", headers=root), 422)
        assert [e["field"] for e in found["errors"]] == [field], (query, found)
    assert await _versions(api) == before


async def test_only_admins_change_the_directories(api: Api) -> None:
    root = await api.sign_in("root")
    assert (await api.http.post("/api/v1/providers", json=PROVIDER, headers=root)).is_success
    service = {"service_id": "parcels", "name": "Food parcels", "domains": ["income"]}
    assert (
        await api.http.post("/api/v1/providers/food-bank/services", json=service, headers=root)
    ).is_success
    before = await _versions(api)
    writes: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("POST", "/teams", {"team_id": "west", "name": "West"}),
        ("POST", "/staff", {"staff_id": "zed", "display_name": "Zed", "role": "auditor"}),
        ("PATCH", "/staff/alice", {"team": "south"}),
        ("PATCH", "/staff/nobody-at-all", {"team": "south"}),
        ("POST", "/staff/erin/deactivation", {"reason": "no"}),
        ("POST", "/providers", {**PROVIDER, "provider_id": "clinic"}),
        ("PATCH", "/providers/food-bank", {"name": "Mine now"}),
        ("POST", "/providers/food-bank/deactivation", {"reason": "no"}),
        ("POST", "/providers/food-bank/services", {**service, "service_id": "more"}),
        ("POST", "/providers/food-bank/services/parcels/withdrawal", {"reason": "no"}),
    )
    for who in ("alice", "carol", "max", "audrey"):
        auth = await api.sign_in(who)
        for method, path, body in writes:
            found = problem(
                await api.http.request(method, f"/api/v1{path}", json=body, headers=auth), 403
            )
            assert "only an admin" in found["detail"], (who, path, found)
        # They read the directories all the same.
        assert (await api.http.get("/api/v1/staff/alice", headers=auth)).status_code == 200
        assert (await api.http.get("/api/v1/providers/food-bank", headers=auth)).status_code == 200
    assert await _versions(api) == before
    # Without a token, nothing at all.
    problem(await api.http.get("/api/v1/staff"), 401)
    problem(await api.http.post("/api/v1/teams", json={"team_id": "w", "name": "W"}), 401)


async def test_the_directories_come_in_pages(api: Api) -> None:
    root = await api.sign_in("root")
    for n in range(7):
        added = await api.http.post(
            "/api/v1/staff",
            json={"staff_id": f"temp-{n}", "display_name": f"Temp {n}", "role": "auditor"},
            headers=root,
        )
        assert added.status_code == 201, added.text
        provider = {**PROVIDER, "provider_id": f"provider-{6 - n}", "name": f"Provider {n}"}
        assert (await api.http.post("/api/v1/providers", json=provider, headers=root)).is_success
    for n in range(3):
        team = {"team_id": f"team-{n}", "name": f"Team {n}"}
        assert (await api.http.post("/api/v1/teams", json=team, headers=root)).is_success
    alice = await api.sign_in("alice")
    whole = (await api.http.get("/api/v1/staff?limit=500", headers=alice)).json()
    ids = [m["staff_id"] for m in whole["items"]]
    assert ids == sorted(ids) and len(ids) == 14 and whole["next_cursor"] is None
    for limit in (1, 2, 5):
        assert [m["staff_id"] for m in await every_page(api, "staff", alice, limit)] == ids
    # Filters, within pages.
    auditors = await every_page(api, "staff?role=auditor", alice, 3)
    assert [m["staff_id"] for m in auditors] == ["audrey"] + [f"temp-{n}" for n in range(7)]
    north = await every_page(api, "staff?team=north", alice, 1)
    assert [m["staff_id"] for m in north] == ["alice", "carol"]
    providers = await every_page(api, "providers", alice, 2)
    assert [p["provider_id"] for p in providers] == [f"provider-{n}" for n in range(7)]
    teams = await every_page(api, "teams", alice, 2)
    assert [t["team_id"] for t in teams] == ["north", "south", "team-0", "team-1", "team-2"]
    # A cursor belongs to its list: another list's is refused, naming it.
    first = (await api.http.get("/api/v1/teams?limit=1", headers=alice)).json()
    found = problem(
        await api.http.get(f"/api/v1/staff?cursor={first['next_cursor']}", headers=alice), 422
    )
    assert [e["field"] for e in found["errors"]] == ["cursor"]
