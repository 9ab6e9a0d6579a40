"""A plan's actions through the HTTP API (issue 16): a case from intake to closure with
actions added, done, dropped and reassigned; who may; bad input named; the two lists."""

from __future__ import annotations

from datetime import timedelta

from directory import add_staff, resolve_actor
from tests.api.conftest import Case
from tests.api.test_api import OPEN_CASE, Api, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store
from tests.cases import inputs
from tests.projections.conftest import catch_up


async def test_a_case_with_actions_from_intake_to_closure(api: Api, database_url: str) -> None:
    store = api.app.store
    await add_staff(
        store, await resolve_actor(store, "root"), "frank", "Frank", "caseworker", "north"
    )
    alice, frank, carol, erin, max_ = [
        await api.sign_in(s) for s in ("alice", "frank", "carol", "erin", "max")
    ]
    opened = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    cases = await api.app.cases()
    opened_at = (await cases.state(case_id)).opened_at

    case = Case(api, case_id)
    send, ok = case.send, case.events

    await ok(
        alice,
        "record_assessment",
        inputs.assessment().model_dump(mode="json", exclude={"actor", "expected_version"}),
    )
    await ok(alice, "draft_plan", {"plan": inputs.plan().plan.model_dump(mode="json")})
    await ok(alice, "submit_plan", {})
    await ok(carol, "decide_approval", {"kind": "plan", "approve": True})

    in_three_days = (opened_at + timedelta(days=3)).isoformat()
    add = {
        "goal_id": "housing",
        "description": "Bring ID documents to the housing office",
        "owner": {"kind": "client"},
        "due_at": in_three_days,
    }
    assert await ok(alice, "add_action", add) == ["ActionAdded"]
    sister = {"kind": "family", "name": "Mona"}
    day = (opened_at + timedelta(days=5)).date().isoformat()  # a day: due at its end
    await ok(alice, "add_action", {**add, "owner": sister, "due_at": day})
    await ok(alice, "add_action", {**add, "owner": {"kind": "worker", "staff_id": "frank"}})
    state = await cases.state(case_id)
    assert state.actions["action-2"].due_at.isoformat().endswith("23:59:00+00:00")

    # Bad input: named, nothing written.
    bad = await send(alice, "add_action", {**add, "goal_id": "nowhere"})
    assert "goal_id" in problem(bad, 409)["detail"]
    no_worker = await send(alice, "add_action", {**add, "owner": {"kind": "worker"}})
    assert no_worker.status_code == 422 and "owner" in no_worker.text
    bad_due = await send(alice, "add_action", {**add, "due_at": "soon"})
    assert bad_due.status_code == 422 and "due_at" in bad_due.text
    # Who may: not another team (404: may not learn the case exists); a colleague of the
    # team may complete the action they own but not add one to a case not theirs.
    assert (await send(erin, "add_action", add)).status_code == 404
    assert (await send(frank, "add_action", add)).status_code == 404
    assert await ok(frank, "complete_action", {"action_id": "action-3"}) == ["ActionCompleted"]
    assert (await cases.state(case_id)).actions_added == 3

    await ok(alice, "drop_action", {"action_id": "action-2", "reason": "sister away"})
    await ok(
        carol,
        "reassign_action",
        {"action_id": "action-1", "owner": {"kind": "worker", "staff_id": "carol"},
         "reason": "alice on leave"},
    )  # fmt: skip
    again = await send(alice, "complete_action", {"action_id": "action-2"})
    assert "already dropped" in problem(again, 409)["detail"]

    await catch_up(database_url, store)
    mine = (await api.http.get("/api/v1/actions/mine", headers=carol)).json()
    # "this week" is the server's now: the case was opened moments ago
    assert [a["action_id"] for a in mine["items"]] == ["action-1"]
    assert mine["items"][0]["worker"] == "carol"
    assert (await api.http.get("/api/v1/actions/mine", headers=alice)).json()["items"] == []
    assert (await api.http.get("/api/v1/actions/overdue", headers=max_)).json()["items"] == []
    assert (await api.http.get("/api/v1/actions/overdue/by-team", headers=max_)).json() == []
    admin = await api.sign_in("root")
    assert (await api.http.get("/api/v1/actions/mine", headers=admin)).status_code == 403
    bad_within = await api.http.get("/api/v1/actions/mine?within=-1", headers=alice)
    assert bad_within.status_code == 422 and "within" in bad_within.text

    shown = (await api.http.get(f"/api/v1/cases/{case_id}", headers=alice)).json()
    assert {a: v["status"] for a, v in shown["actions"].items()} == {
        "action-1": "open",
        "action-2": "dropped",
        "action-3": "done",
    }
    await ok(alice, "complete_action", {"action_id": "action-1"})
    await ok(alice, "request_closure", {"reason": "goals_met"})
    assert "CaseClosed" in await ok(carol, "decide_approval", {"kind": "closure", "approve": True})
