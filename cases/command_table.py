"""The one table of case commands: each command type, the Update that carries it, its rule.

Every command sent to an open case (cases/commands.py) has exactly one entry here:

* `command` — the pydantic model of the command;
* `update` — the name of the case workflow's Update that carries it. Names are kept
  for good: running cases' histories and every client refer to them;
* `action` — the command's row of the access table (cases/access.py);
* `decide(state, cmd, now)` — the pure rule (cases/decide.py, or a feature's module in
  cases/features/): the events the command yields on this state, or `CommandRejected`
  with a reason a person can act on. The workflow's one validator runs it before an
  Update is accepted, and its one handler runs it again under the case lock;
* what else the workflow has to do around the rule: score an assessment first
  (`scoring`), dispatch the referral a command makes (`dispatch_to`), adopt a new
  policy before reacting (`adopts_policy`).

The workflow's generic update handler and validator (workflows/case/) and the
client's map of commands to Updates (application/case_client.py) both derive from
this table. `OpenCase` is not in it: it starts a case rather than updating one (its
rule is `decide.decide_open`, run by the client before the start and by the workflow
when it starts).

Pure: no Temporal, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cases import actions, circle
from cases import commands as c
from cases import decide as rules
from cases.access import Action
from cases.feature import C, CaseCommand, Decide, Scoring, stateful
from cases.features import FEATURES, advocacy, feedback
from cases.policy import Policy
from cases.state import CaseState
from events.registry import DomainEvent


def check_assessment(state: CaseState, cmd: c.RecordAssessment, now: datetime) -> list[DomainEvent]:
    """May this assessment be recorded? (Its events need the score: see `Scoring`.)"""
    rules.check_assessment(state, cmd)
    return []


def check_apply_policy(state: CaseState, cmd: c.ApplyPolicy, now: datetime) -> list[DomainEvent]:
    """May this actor change the agency's policy? It yields no events of its own: the
    review it moves (a `ReviewScheduled`) is a reaction, scheduled under the new policy."""
    rules.check_apply_policy(cmd)
    return []


def _assessment(cmd: c.RecordAssessment) -> c.AssessmentInput:
    return cmd.assessment


def _channel(cmd: c.Refer) -> str:
    return str(cmd.channel_url)


def _policy(cmd: c.ApplyPolicy) -> Policy:
    return cmd.policy


_PLACED: tuple[CaseCommand[Any], ...] = (
    CaseCommand(
        command=c.RecordConsent,
        update="record_consent",
        action=Action.WORK,
        decide=stateful(rules.decide_consent),
    ),
    CaseCommand(
        command=c.RecordAssessment,
        update="record_assessment",
        action=Action.WORK,
        decide=check_assessment,
        scoring=Scoring(assessment=_assessment, decide=rules.decide_assessment),
    ),
    CaseCommand(
        command=c.DraftPlan,
        update="draft_plan",
        action=Action.WORK,
        decide=stateful(rules.decide_draft_plan),
    ),
    CaseCommand(
        command=c.SubmitPlan,
        update="submit_plan",
        action=Action.WORK,
        decide=stateful(rules.decide_submit_plan),
    ),
    CaseCommand(
        command=c.DecideApproval,
        update="decide_approval",
        action=Action.APPROVE,
        decide=stateful(rules.decide_approval),
    ),
    CaseCommand(
        command=c.Refer,
        update="refer",
        action=Action.WORK,
        decide=stateful(rules.decide_refer),
        dispatch_to=_channel,
    ),
    CaseCommand(
        command=c.ReferralReply,
        update="referral_reply",
        action=Action.PROVIDER_REPLY,
        decide=stateful(rules.decide_referral_reply),
    ),
    CaseCommand(
        command=c.ProviderReport,
        update="provider_report",
        action=Action.PROVIDER_REPLY,
        decide=stateful(rules.decide_provider_report),
    ),
    CaseCommand(
        command=c.LogContact,
        update="log_contact",
        action=Action.WORK,
        decide=stateful(rules.decide_contact),
    ),
    CaseCommand(
        command=c.RecordProgress,
        update="record_progress",
        action=Action.WORK,
        decide=stateful(rules.decide_progress),
    ),
    CaseCommand(
        command=c.Evaluate,
        update="evaluate",
        action=Action.WORK,
        decide=stateful(rules.decide_evaluate),
    ),
    CaseCommand(
        command=c.Assign,
        update="assign",
        action=Action.ASSIGN,
        decide=stateful(rules.decide_assign),
    ),
    CaseCommand(
        command=c.RequestTransfer,
        update="request_transfer",
        action=Action.WORK,
        decide=stateful(rules.decide_transfer),
    ),
    CaseCommand(
        command=c.ReplyTransfer,
        update="reply_transfer",
        action=Action.TRANSFER_REPLY,
        decide=stateful(rules.decide_transfer_reply),
    ),
    CaseCommand(
        command=c.RequestClosure,
        update="request_closure",
        action=Action.WORK,
        decide=stateful(rules.decide_request_closure),
    ),
    CaseCommand(command=c.HoldCase, update="hold", action=Action.WORK, decide=rules.decide_hold),
    CaseCommand(
        command=c.ResumeCase,
        update="resume",
        action=Action.WORK,
        decide=stateful(rules.decide_resume),
    ),
    CaseCommand(
        command=c.RecordNote,
        update="record_note",
        action=Action.NOTE,
        decide=stateful(rules.decide_note),
    ),
    CaseCommand(
        command=c.AddAction,
        update="add_action",
        action=Action.PLAN_ACTIONS,
        decide=actions.decide_add_action,
    ),
    CaseCommand(
        command=c.CompleteAction,
        update="complete_action",
        action=Action.COMPLETE_ACTION,
        decide=actions.decide_complete_action,
    ),
    CaseCommand(
        command=c.DropAction,
        update="drop_action",
        action=Action.PLAN_ACTIONS,
        decide=actions.decide_drop_action,
    ),
    CaseCommand(
        command=c.ReassignAction,
        update="reassign_action",
        action=Action.PLAN_ACTIONS,
        decide=actions.decide_reassign_action,
    ),
    *advocacy.FEATURE.commands,  # slices placed where their commands were (the Updates' order)
    *feedback.FEATURE.commands,
    CaseCommand(
        command=c.AddCircleMember,
        update="add_circle_member",
        action=Action.CIRCLE,
        decide=stateful(circle.decide_add_member),
    ),
    CaseCommand(
        command=c.UpdateCircleMember,
        update="update_circle_member",
        action=Action.CIRCLE,
        decide=stateful(circle.decide_update_member),
    ),
    CaseCommand(
        command=c.RemoveCircleMember,
        update="remove_circle_member",
        action=Action.CIRCLE,
        decide=stateful(circle.decide_remove_member),
    ),
    CaseCommand(
        command=c.RecordCircleConsent,
        update="record_circle_consent",
        action=Action.CIRCLE_CONSENT,
        decide=stateful(circle.decide_circle_consent),
    ),
    CaseCommand(
        command=c.ShareWithCircle,
        update="share_with_circle",
        action=Action.SHARE_WITH_CIRCLE,
        decide=stateful(circle.decide_share),
    ),
    CaseCommand(
        command=c.RecordConference,
        update="record_conference",
        action=Action.CONFERENCE,
        decide=circle.decide_conference,
    ),
    CaseCommand(
        command=c.ForgetClient,
        update="forget",
        action=Action.ERASE,
        decide=stateful(rules.decide_forget),
    ),
    CaseCommand(
        command=c.ApplyPolicy,
        update="apply_policy",
        action=Action.POLICY,
        decide=check_apply_policy,
        adopts_policy=_policy,
    ),
    CaseCommand(
        command=c.Reopen,
        update="reopen",
        action=Action.REOPEN,
        decide=stateful(rules.decide_reopen),
    ),
)

TABLE: tuple[CaseCommand[Any], ...] = _PLACED + tuple(
    entry for feature in FEATURES for entry in feature.commands if entry not in _PLACED
)
"""Every command sent to an open (or reopening) case, in the order of the case lifecycle,
then those of the features (cases/features/) not placed in it. The order is the order of
the OpenAPI document's routes and of the lists of commands (CLI, docs): a feature made a
slice later keeps its place."""

__all__ = ["BY_COMMAND", "BY_UPDATE", "TABLE", "CaseCommand", "Decide", "Scoring", "entry_for"]


def _index() -> tuple[Mapping[type[c.Command], CaseCommand[Any]], Mapping[str, CaseCommand[Any]]]:
    by_command: dict[type[c.Command], CaseCommand[Any]] = {}
    by_update: dict[str, CaseCommand[Any]] = {}
    for entry in TABLE:
        if entry.command in by_command:
            raise ValueError(f"{entry.command.__name__} has two entries in the command table")
        if entry.update in by_update:
            raise ValueError(f"Update {entry.update!r} carries two commands")
        by_command[entry.command] = entry
        by_update[entry.update] = entry
    return by_command, by_update


BY_COMMAND, BY_UPDATE = _index()


def entry_for(command: type[C]) -> CaseCommand[C]:
    """The table's entry for a command type (KeyError for OpenCase or a non-command)."""
    entry: CaseCommand[C] = BY_COMMAND[command]
    return entry
