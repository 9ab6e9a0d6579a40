"""The replay-everything check fails when today's code does not reproduce a history.

A case made by today's code replays; the same history replayed by code that decides its
first patch under another id (as a change that forgot a patch would) raises ReplayFailed,
naming the run."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

import workflows.case.workflow
from events.store import EventStore
from tests.replay_everything import Replayed, ReplayFailed, replay_case_histories
from tests.workflows.conftest import case_harness
from tests.workflows.scenarios import approved_plan


async def test_a_history_todays_code_does_not_reproduce_fails(
    time_skipping_env: WorkflowEnvironment,
    sealed_store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with case_harness(time_skipping_env, sealed_store) as cases:
        case_id = await approved_plan(cases)
    mine = Replayed()
    # Replayed as it is.
    assert await replay_case_histories(time_skipping_env.client, mine, only=f"case-{case_id}") == 1
    assert any(workflow_id == f"case-{case_id}" for workflow_id, _ in mine.lengths)

    # Where `CaseWorkflow.__init__` reads it (the unsandboxed runner runs this module).
    monkeypatch.setattr(workflows.case.workflow, "PATCH_DECIDED_AT_START", "a-patch-never-recorded")
    with pytest.raises(ReplayFailed) as failed:
        await replay_case_histories(
            time_skipping_env.client,
            Replayed(),
            runner=UnsandboxedWorkflowRunner(),
            only=f"case-{case_id}",
        )
    assert "1 of 1 case workflow run(s) do not replay from a cold cache" in str(failed.value)
    assert f"case-{case_id} run " in str(failed.value)
