"""The circle of support and case conferences through the HTTP API (in-process, real event
store, a real case worker on the time-skipping server): each command is a table route,
refusals are problem documents (403, 404, 409, 422 naming the field), nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.conftest import Api, Case
from tests.api.test_api import problem
from tests.cases import inputs
from tests.projections.conftest import catch_up

SISTER = {
    "role": "family_member",
    "details": {
        "name": "Mona Quennell",
        "relationship": "older sister",
        "contact": {"phone": "555-0199", "address": "4 Birch Lane"},
    },
}


async def active_case(api: Api, alice: dict[str, str], carol: dict[str, str]) -> Case:
    opened = await api.http.post(
        "/api/v1/cases",
        json={
            "client_ref": "CL-CIRCLE-1",
            "client": {"name": "Rosalind Quennell-Ashby"},
            "assignee": "alice",
            "presenting_needs": ["housing"],
        },
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case = Case(api, opened.json()["case_id"])
    assessment = inputs.assessment().assessment.model_dump(mode="json")
    await case.ok(alice, "record_assessment", {"assessment": assessment})
    return case


async def test_a_circle_and_a_conference_through_the_api(api: Api, database_url: str) -> None:
    alice, carol, frank = [await api.sign_in(s) for s in ("alice", "carol", "frank")]
    case = await active_case(api, alice, carol)
    assert (await case.ok(alice, "add_circle_member", SISTER))["events"] == ["CircleMemberAdded"]
    gp = {"role": "gp", "details": {"name": "Dr Okafor", "organisation": "Elm Row Surgery"}}
    await case.ok(alice, "add_circle_member", gp)
    await case.ok(
        alice,
        "record_circle_consent",
        {"member_id": "member-1", "shared": ["plan", "conference_decisions"]},
    )
    # The plan records who took part in making it; staff must exist.
    plan = inputs.plan().plan.model_dump(mode="json")
    before = await case.version()
    unknown = problem(
        await case.send(
            alice,
            "draft_plan",
            {"plan": {**plan, "participants": {"staff": ["nobody"], "circle": []}}},
        ),
        422,
    )
    assert [e["field"] for e in unknown["errors"]] == ["plan.participants.staff"]
    assert await case.version() == before
    people = {"staff": ["carol"], "circle": ["member-1"]}
    await case.ok(alice, "draft_plan", {"plan": {**plan, "participants": people}})
    await case.ok(alice, "submit_plan", {})
    await case.ok(carol, "decide_approval", {"kind": "plan", "approve": True})

    # A colleague of the team records the conference; its action becomes the case's.
    state = await case.show(alice)
    assert state["active_plan"]["participants"] == people
    opened = datetime.fromisoformat(state["opened_at"])
    conference = {
        "held_on": opened.date().isoformat(),
        "client_attended": True,
        "participants": {"staff": ["alice", "frank"], "circle": ["member-1"]},
        "decisions": ["Mona drives Rosalind to the viewings"],
        "actions": [
            {
                "goal_id": "housing",
                "description": "Drive Rosalind to the Elm Row viewing",
                "owner": {"kind": "family", "name": "Mona (sister)"},
                "due_at": (opened + timedelta(days=10)).isoformat(),
            }
        ],
    }
    recorded = await case.ok(frank, "record_conference", {"conference": conference})
    assert recorded["events"] == ["CaseConferenceRecorded", "ActionAdded"]

    # Sharing: within consent, refused beyond it (409), nothing written.
    shared = await case.ok(alice, "share_with_circle", {"member_id": "member-1", "items": ["plan"]})
    assert shared["events"] == ["SharedWithCircleMember"]
    before = await case.version()
    refused = problem(
        await case.send(alice, "share_with_circle", {"member_id": "member-2", "items": ["plan"]}),
        409,
    )
    assert "not consented to share anything with member-2" in refused["detail"]
    assert await case.version() == before

    state = await case.show(alice)
    sister = state["circle"]["member-1"]
    assert sister["details"]["contact"]["phone"] == "555-0199" and sister["shared"] == 1
    assert state["conferences"]["conference-1"]["action_ids"] == ["action-1"]
    assert state["actions"]["action-1"]["conference_id"] == "conference-1"
    history = await api.http.get(f"/api/v1/cases/{case.case_id}/history", headers=alice)
    assert "CaseConferenceRecorded" in [row["type"] for row in history.json()]

    # The team's conferences, from the read model: who took part, no names, no decisions.
    await catch_up(database_url, api.app.store)
    listed = await api.http.get("/api/v1/conferences?within=30", headers=carol)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["items"]
    assert (row["case_id"], row["conference_id"], row["decisions"]) == (
        case.case_id,
        "conference-1",
        1,
    )
    assert row["staff"] == ["alice", "frank"] and row["circle"] == ["member-1"]
    assert row["action_ids"] == ["action-1"] and row["client_attended"] is True
    assert "Mona" not in listed.text and "viewings" not in listed.text
    erin = await api.sign_in("erin")
    other_team = await api.http.get("/api/v1/conferences", headers=erin)
    assert other_team.json()["items"] == []
    root = await api.sign_in("root")
    problem(await api.http.get("/api/v1/conferences", headers=root), 403)

    # On to closure: the goals evaluated, closure asked for and approved.
    evaluation = {
        "evaluations": [{"goal_id": "housing", "outcome": "met", "reason": "tenancy signed"}],
        "next_step": "close",
    }
    await case.ok(alice, "evaluate", evaluation)
    await case.ok(alice, "request_closure", {"reason": "goals_met"})
    closed = await case.ok(carol, "decide_approval", {"kind": "closure", "approve": True})
    assert closed["status"] == "closed"
    state = await case.show(carol)
    assert state["status"] == "closed" and state["circle"]["member-1"]["shared"] == 1


async def test_circle_refusals_by_role_and_bad_input(api: Api) -> None:
    alice, carol = await api.sign_in("alice"), await api.sign_in("carol")
    erin, audrey, frank = [await api.sign_in(s) for s in ("erin", "audrey", "frank")]
    case = await active_case(api, alice, carol)
    before = await case.version()
    # Workers of another team, or of the team but not on this case, may not learn it
    # exists; an auditor sees it and changes nothing.
    problem(await case.send(erin, "add_circle_member", SISTER), 404)
    problem(await case.send(frank, "add_circle_member", SISTER), 404)
    problem(await case.send(audrey, "add_circle_member", SISTER), 403)
    bad = problem(
        await case.send(alice, "add_circle_member", {**SISTER, "role": "cousin-in-law"}), 422
    )
    assert "role" in [e["field"] for e in bad["errors"]]
    nameless = problem(
        await case.send(alice, "add_circle_member", {"role": "gp", "details": {}}), 422
    )
    assert "details.name" in [e["field"] for e in nameless["errors"]]
    opened_on = datetime.fromisoformat((await case.show(alice))["opened_at"]).date()
    unknown = problem(
        await case.send(
            alice,
            "record_conference",
            {
                "conference": {
                    "held_on": opened_on.isoformat(),
                    "participants": {"staff": ["ghost"]},
                    "decisions": ["x"],
                }
            },
        ),
        422,
    )
    assert [e["field"] for e in unknown["errors"]] == ["conference.participants.staff"]
    missing = problem(
        await case.send(alice, "remove_circle_member", {"member_id": "member-4", "reason": "x"}),
        409,
    )
    assert missing["detail"].startswith("member_id: member-4 is not in")
    assert await case.version() == before
