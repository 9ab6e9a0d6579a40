"""Advocacy and the client's feedback through the HTTP API (issue 16): a case from intake
to closure with advocacy (an appeal won) and feedback, and the outcomes report."""

from __future__ import annotations

from datetime import timedelta

from directory import add_provider, add_service, resolve_actor
from tests.api.conftest import Case
from tests.api.test_api import OPEN_CASE, Api, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store
from tests.cases import inputs
from tests.projections.conftest import catch_up


async def test_a_case_with_advocacy_and_feedback_from_intake_to_closure(
    api: Api, database_url: str
) -> None:
    store = api.app.store
    root = await resolve_actor(store, "root")
    await add_provider(
        store, root, "foodbank-2", "Eastside Food Bank", "food_assistance", "https://fb.test/hook"
    )
    await add_service(store, root, "foodbank-2", "parcels", "Food parcels", ["income"])
    alice, carol, max_ = [await api.sign_in(s) for s in ("alice", "carol", "max")]
    opened = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    case = Case(api, opened.json()["case_id"])
    state = await (await api.app.cases()).state(case.case_id)
    step_date = (state.opened_at.date() + timedelta(days=7)).isoformat()

    ok = case.events

    await ok(
        alice,
        "record_assessment",
        inputs.assessment().model_dump(mode="json", exclude={"actor", "expected_version"}),
    )
    plan = inputs.plan().plan.model_dump(mode="json")
    await ok(alice, "draft_plan", {"plan": plan})
    assert await ok(
        alice,
        "record_feedback",
        {"subject": "plan", "rating": 4, "words": "Housing first", "agrees_with_plan": True},
    ) == ["ClientFeedbackRecorded"]
    await ok(alice, "submit_plan", {})
    await ok(carol, "decide_approval", {"kind": "plan", "approve": True})

    # Advocacy: a stopped benefit, a request, then an appeal, won.
    body = {
        "barrier": "benefit_stopped",
        "organisation": "Benefits Office",
        "action": "request",
        "consent_by": "client",
        "details": "Benefit stopped after a missed letter",
        "next_step": "Reconsideration decision",
        "next_step_date": step_date,
    }
    assert await ok(alice, "open_advocacy", body) == ["AdvocacyOpened"]
    guardian = await case.send(alice, "open_advocacy", {**body, "consent_by": "guardian"})
    assert "consent_name" in problem(guardian, 409)["detail"]
    bad_date = await case.send(alice, "open_advocacy", {**body, "next_step_date": "soon"})
    assert "next_step_date" in bad_date.text and bad_date.status_code == 422
    step = {
        "advocacy_id": "advocacy-1",
        "action": "appeal",
        "next_step": "Tribunal hearing",
        "next_step_date": step_date,
    }
    assert await ok(alice, "advocacy_step", step) == ["AdvocacyStepRecorded"]
    refused = await case.send(await api.sign_in("erin"), "advocacy_step", step)
    assert refused.status_code == 404  # another team cannot learn the case exists
    won = {"advocacy_id": "advocacy-1", "outcome": "resolved", "note": "Reinstated"}
    assert await ok(alice, "conclude_advocacy", won) == ["AdvocacyConcluded"]

    # Feedback on a service of the directory; an unknown one is refused by name.
    service = {"subject": "service", "provider_id": "foodbank-2", "service_id": "parcels"}
    await ok(alice, "record_feedback", {**service, "rating": 2, "words": "Long queue"})
    unknown = await case.send(
        alice, "record_feedback", {**service, "provider_id": "nobody", "rating": 1}
    )
    assert unknown.status_code == 422 and "provider_id" in unknown.text

    await ok(alice, "request_closure", {"reason": "goals_met"})
    assert "CaseClosed" in await ok(carol, "decide_approval", {"kind": "closure", "approve": True})

    await catch_up(database_url, store)
    report = (await api.http.get("/api/v1/outcomes", headers=max_)).json()
    [advocacy] = report["advocacy"]
    assert (advocacy["barrier"], advocacy["team"], advocacy["won_on_appeal"]) == (
        "benefit_stopped",
        "north",
        1,
    )
    assert report["feedback"] == [
        {
            "provider_id": "foodbank-2",
            "service_id": "parcels",
            "ratings": 1,
            "avg_rating": 2.0,
            "poor": 1,
        }
    ]
    assert report["plan_feedback"]["agrees"] == 1
    timeline = (await api.http.get(f"/api/v1/cases/{case.case_id}/timeline", headers=alice)).json()
    lines = " | ".join(row["description"] for row in timeline["items"])
    assert "Advocacy advocacy-1 concluded: resolved" in lines
    assert "Reinstated" not in lines and "Long queue" not in lines
