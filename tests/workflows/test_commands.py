"""The case workflow's Updates come from the command table; a command is one append."""

from __future__ import annotations

import inspect
import json
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.workflow import _Definition

from application.case_client import COMMANDS, CaseClient, CaseCommandRejected
from cases import command_table
from cases import commands as c
from cases.evolve import fold
from cases.policy import DEFAULT_POLICY, Policy
from events.store import EventStore
from events.vocabulary import RiskLevel
from tests.cases import inputs
from tests.cases.people import ALICE, MAX
from workflows.case import CaseWorkflow, CommandResult

Harness = tuple[CaseClient, EventStore]


def test_the_workflow_has_one_update_per_table_entry_and_sync() -> None:
    updates = _Definition.must_from_class(CaseWorkflow).updates
    # Beside the commands: `sync`, and `shed_history` (forgetting a client: application/
    # history_erasure.py), neither of which carries a command.
    assert set(updates) == {e.update for e in command_table.TABLE} | {"sync", "shed_history"}
    for entry in command_table.TABLE:
        update = updates[entry.update]
        assert update.arg_types == [entry.command], entry.update
        assert update.ret_type is CommandResult
        assert update.validator is not None, f"{entry.update} has no validator"
        # The alias on the class is that Update (clients call it by reference).
        assert getattr(CaseWorkflow, entry.update)._defn is update
        assert inspect.iscoroutinefunction(update.fn)


def test_the_client_sends_every_command_by_the_table() -> None:
    assert set(COMMANDS) == {e.command for e in command_table.TABLE}
    for command, method in COMMANDS.items():
        assert method._defn.name == command_table.entry_for(command).update


async def _appends(cases: CaseClient, case_id: Any) -> int:
    """How many times the workflow ran an append: the local `append_command` (its marker
    in history names the activity type), or the regular `append_events` of older cases."""
    history = await cases.handle(case_id).fetch_history()
    local = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = e.marker_recorded_event_attributes.details
            marker = json.loads(details["data"].payloads[0].data) if "data" in details else {}
            local += marker.get("activity_type") == "append_command"
    remote = sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "append_events"
    )
    return local + remote


async def test_a_command_and_the_review_it_moves_are_one_append(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    opened = await cases.open(cmd)
    assert opened.stream_version == 2  # `sync` waited for CaseOpened and its first review
    await cases.execute(cmd.case_id, inputs.consent())
    assessed = await cases.execute(cmd.case_id, inputs.assessment())
    assert assessed.events == ["AssessmentRecorded"]
    assert assessed.detail["risk_level"] == "high"
    assert assessed.stream_version == 5

    rows = await store.pool.fetch(
        "SELECT event_type, transaction_id::text AS tx, metadata FROM events "
        "WHERE stream_id = $1 ORDER BY stream_version",
        f"case-{cmd.case_id}",
    )
    types = [r["event_type"] for r in rows]
    assert types == [
        "CaseOpened",
        "ReviewScheduled",
        "ConsentRecorded",
        "AssessmentRecorded",
        "ReviewScheduled",
    ]
    tx = [r["tx"] for r in rows]
    assert tx[0] == tx[1] and tx[3] == tx[4], "a command's follow-ups are in its append"
    assert len(set(tx)) == 3
    log = await store.read_stream(f"case-{cmd.case_id}")
    assessment, review = log[3], log[4]
    # Each event keeps its own metadata: the follow-up is the system's, in the same update.
    assert (assessment.metadata.actor_id, review.metadata.actor_id) == ("alice", "casework")
    assert review.metadata.actor_role == "system"
    assert review.metadata.correlation_id == assessment.metadata.correlation_id
    assert review.metadata.causation_id == "record_assessment"
    assert review.occurred_at == assessment.occurred_at
    assert await _appends(cases, cmd.case_id) == 3
    assert await cases.state(cmd.case_id) == fold(log)


async def test_a_policy_change_appends_the_review_it_moves(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    intervals = {**DEFAULT_POLICY.review_interval, RiskLevel.MEDIUM: timedelta(days=30)}
    stricter = Policy(version=2, review_interval=intervals)
    result = await cases.execute(cmd.case_id, c.ApplyPolicy(actor=MAX, policy=stricter))
    assert result.events == ["ReviewScheduled"] and result.stream_version == 3
    same = await cases.execute(cmd.case_id, c.ApplyPolicy(actor=MAX, policy=stricter))
    assert same.events == [] and same.stream_version == 3
    log = await store.read_stream(f"case-{cmd.case_id}")
    assert log[-1].data["reason"] == "policy_changed" and log[-1].metadata.actor_id == "casework"
    assert await cases.state(cmd.case_id) == fold(log)


async def test_opening_a_case_id_twice_is_refused(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    with pytest.raises(CaseCommandRejected, match=rf"case_id: a case {cmd.case_id} already exists"):
        await cases.open(cmd)
    # A case whose workflow has ended keeps its id too.
    await cases.handle(cmd.case_id).terminate("test")
    with pytest.raises(CaseCommandRejected, match="already exists"):
        await cases.open(cmd.model_copy(update={"actor": ALICE}))
    assert [e.event_type for e in await store.read_stream(f"case-{cmd.case_id}")] == [
        "CaseOpened",
        "ReviewScheduled",
    ]
