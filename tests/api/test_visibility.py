"""Visibility for commands from the read model, never stale (application/case_visibility.py).

The projector does not run here: `case_summary` holds what `catch_up` projected, and the
cases move on behind it. The read model is trusted only while no event that moves a case
(another team or worker) lies after what it folded; otherwise the answer is the
workflow's. A transfer accepted after the projection is the case that must fall back:
its old worker, whom the stale row still names, is answered 404, its new one served.
"""

from __future__ import annotations

from typing import Any

from application.access_log import CaseLocation, entries
from application.case_visibility import SCOPE_EVENT_TYPES, locate, located_by_read_model
from cases import commands as c
from cases.actors import Actor, Role
from events.vocabulary import CASE_EVENT_MODELS
from tests.api.conftest import Api
from tests.cases import inputs
from tests.projections.conftest import catch_up

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)


def test_only_the_scope_events_move_a_case() -> None:
    """Every case event naming a team or a worker is the opening, one of
    SCOPE_EVENT_TYPES, or one that names whom it concerns without moving the case (a new
    event naming a team or worker must be placed in one of the two lists)."""
    naming = {
        model.model_fields["type"].default
        for model in CASE_EVENT_MODELS
        if {"team", "worker", "assigned_worker"} & set(model.model_fields)
    }
    notifying = {"ReviewDue", "EscalationRaised", "ActionReminderDue", "ActionOverdue"}
    assert naming == {"CaseOpened", *SCOPE_EVENT_TYPES, *notifying}


async def _note(api: Api, who: dict[str, str], case_id: str) -> Any:
    return await api.http.post(
        f"/api/v1/cases/{case_id}/commands/record_note",
        json={"text": "called the GP"},
        headers={**who, "If-Match": "*"},
    )


async def test_a_transfer_behind_the_read_model_falls_back_to_the_workflow(
    api: Api, database_url: str
) -> None:
    cases = await api.app.cases()
    max_, alice, erin = [await api.actor(s) for s in ("max", "alice", "erin")]
    opened = await cases.open(inputs.open_case(actor=max_, assignee=alice))
    case_id = str(opened.case_id)
    north = CaseLocation(team="north", worker="alice")

    # Opened a moment ago, not yet projected: located by its opening in the log.
    assert await located_by_read_model(api.app, case_id) == north
    await catch_up(database_url, api.app.store)
    # Notes after the projection do not move the case: the row is still trusted.
    await cases.execute(case_id, c.RecordNote(actor=max_, text="first call"))
    assert await located_by_read_model(api.app, case_id) == north

    # Transferred to erin of team south behind the projector's back.
    ask = c.RequestTransfer(actor=max_, to_team="south", to_worker=erin, reason="moved")
    await cases.execute(case_id, ask)
    assert await located_by_read_model(api.app, case_id) == north  # asked, not moved
    await cases.execute(case_id, c.ReplyTransfer(actor=erin, accept=True))
    row = await api.app.pool.fetchrow(
        "SELECT team, worker FROM case_summary WHERE case_id = $1", case_id
    )
    assert (row["team"], row["worker"]) == ("north", "alice"), "the read model lags"
    assert await located_by_read_model(api.app, case_id) is None
    assert await locate(api.app, case_id) == CaseLocation(team="south", worker="erin")

    # Through the API: the old worker no longer sees the case, the new one works it.
    refused = await _note(api, await api.sign_in("alice"), case_id)
    assert refused.status_code == 404, refused.text
    served = await _note(api, await api.sign_in("erin"), case_id)
    assert served.status_code == 200, served.text
    log = await entries(api.app.pool, AUDITOR, case_id)
    assert [(e.staff_id, e.view, e.allowed) for e in log] == [
        ("alice", "command record_note", False)
    ]

    # Once projected, the read model answers again.
    await catch_up(database_url, api.app.store)
    assert await located_by_read_model(api.app, case_id) == CaseLocation("south", "erin")


async def test_no_such_case_is_not_located(api: Api) -> None:
    missing = "6b0e0f4e-8a43-4c0e-9d5c-2f3b7c1d9e10"
    assert await located_by_read_model(api.app, missing) is None
    assert await locate(api.app, missing) is None
