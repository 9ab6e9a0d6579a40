"""The case workflow's Updates are generated from the command table (workflows/case/
updates.py `table_updates`): one per entry, named, typed and validated as the entry says,
each handled by the one handler and validated by the one validator with its entry."""

from __future__ import annotations

from typing import Any

from temporalio.workflow import _Definition

from cases import command_table
from cases import commands as c
from cases.state import CaseStatus
from workflows.case import CaseWorkflow, CommandResult, ShedReply

DEFINITION = _Definition.must_from_class(CaseWorkflow)

NAMES_IN_USE = frozenset(
    {
        "record_consent",
        "record_assessment",
        "draft_plan",
        "submit_plan",
        "decide_approval",
        "refer",
        "referral_reply",
        "provider_report",
        "log_contact",
        "record_progress",
        "evaluate",
        "assign",
        "request_transfer",
        "reply_transfer",
        "request_closure",
        "hold",
        "resume",
        "record_note",
        "add_action",
        "complete_action",
        "drop_action",
        "reassign_action",
        "open_advocacy",
        "advocacy_step",
        "conclude_advocacy",
        "record_feedback",
        "add_circle_member",
        "update_circle_member",
        "remove_circle_member",
        "record_circle_consent",
        "share_with_circle",
        "record_conference",
        "forget",
        "apply_policy",
        "reopen",
    }
)
"""The command Updates when they were first generated from the table: running cases'
histories and every client name them, so none may go (the table may add more)."""


def test_the_workflow_keeps_its_names() -> None:
    assert DEFINITION.name == "CaseWorkflow"
    assert set(DEFINITION.queries) == {"case"}
    assert set(DEFINITION.signals) == {"provider_replied"}
    assert DEFINITION.signals["provider_replied"].arg_types == [c.ReferralReply]
    assert DEFINITION.updates["sync"].validator is None
    assert DEFINITION.updates["sync"].ret_type is CommandResult
    assert DEFINITION.updates["shed_history"].validator is None
    assert DEFINITION.updates["shed_history"].ret_type is ShedReply


def test_the_registered_updates_are_the_tables_with_their_validators() -> None:
    table = {entry.update: entry for entry in command_table.TABLE}
    assert set(DEFINITION.updates) == set(table) | {"sync", "shed_history"}
    assert set(table) >= NAMES_IN_USE
    for name, entry in table.items():
        update = DEFINITION.updates[name]
        assert update.name == name
        assert update.arg_types == [entry.command], name
        assert update.ret_type is CommandResult, name
        assert update.fn.__qualname__ == f"CaseWorkflow.{name}"
        assert update.validator is not None, f"{name} has no validator"
        assert update.validator.__qualname__ == f"CaseWorkflow.validate_{name}"
        assert getattr(CaseWorkflow, name)._defn is update


class _Recorder:
    """Stands in for the workflow: records what the generated methods hand on."""

    def __init__(self) -> None:
        self.validated: list[tuple[command_table.CaseCommand[Any], c.Command]] = []
        self.executed: list[tuple[command_table.CaseCommand[Any], c.Command]] = []

    def validate_command(self, entry: command_table.CaseCommand[Any], cmd: c.Command) -> None:
        self.validated.append((entry, cmd))

    async def execute_command(
        self, entry: command_table.CaseCommand[Any], cmd: c.Command
    ) -> CommandResult:
        self.executed.append((entry, cmd))
        return CommandResult(case_id="", stream_version=0, status=CaseStatus.OPEN, events=[])


async def test_each_update_hands_its_own_entry_to_the_one_handler_and_validator() -> None:
    for entry in command_table.TABLE:
        update = DEFINITION.updates[entry.update]
        assert update.validator is not None
        recorder = _Recorder()
        cmd: Any = object()  # handed on as it is: the SDK has already converted it
        update.validator(recorder, cmd)
        await update.fn(recorder, cmd)
        assert recorder.validated == [(entry, cmd)], entry.update
        assert recorder.executed == [(entry, cmd)], entry.update
