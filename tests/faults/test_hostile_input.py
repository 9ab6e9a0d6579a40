"""Malformed and hostile input on every command: a clear error naming the field, nothing written.

Runs on the time-skipping test server with the real worker code and a sealed event
store of the test's own. Every case command is sent to a live case workflow as a
*raw* Update payload (a JSON object built by hand, as a hostile or buggy client
would send it, bypassing the pydantic models on the caller's side), one field
spoiled at a time: wrong types, oversize values (the limits of docs/limits.md),
control characters, SQL metacharacters in identifiers, dates out of range,
unknown fields, missing fields. The same payloads are checked at the client edge
(`Command.model_validate`). Then valid-typed but wrong values: unknown referral,
goal, provider and case ids, a contact before the case opened, a hold in the past.

Each must be refused with a message that names the field, and write nothing: the
case's stream and the workflow's accepted updates are unchanged. SQL
metacharacters and any Unicode in free text are legitimate (O'Brien), so they are
accepted and must come back from the log byte for byte.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient, CaseCommandRejected, CaseNotFound
from application.provider_portal import PortalAction
from cases import commands as c
from cases.command_table import TABLE
from cases.evolve import fold
from cases.features.client_language import RecordClientLanguage
from cases.features.documents import AttachDocument, WithdrawDocument
from cases.features.referral_withdrawal import WithdrawReferral
from casework.api.portal import PortalAnswer
from devtools.provider_simulator import ProviderSimulator
from events.chain import verify_chains
from events.store import EventStore
from events.vocabulary import (
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
)
from tests.api.conftest import serve
from tests.api.test_role_table import Builder, channel  # noqa: F401 (a fixture)
from tests.cases import advocacy_inputs, inputs
from tests.cases.people import ALICE, CAROL, ERIN, MAX
from tests.faults.conftest import FaultReport
from tests.workflows import scenarios
from tests.workflows.conftest import case_harness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

Json = Any

# --- hostile values by kind of field ------------------------------------------------------------

ACTOR = ALICE.model_dump(mode="json")
# The valid values that each spoiled payload keeps: relative to the clock the case runs on
# (the time-skipping server starts at the wall clock), never a calendar date.
IN_A_WEEK = datetime.now(UTC) + timedelta(days=7)

SHORT_TEXT = [
    ("201 characters", "x" * 201),
    ("a NUL byte", "a\x00b"),
    ("a terminal escape", "a\x1b[2Jb"),
    ("empty", ""),
    ("only blanks", "   "),
    ("a number", 12345),
    ("a list", ["a"]),
]
LONG_TEXT = [
    ("10,001 characters", "x" * 10_001),
    ("a NUL byte", "a\x00b"),
    ("a bell", "a\x07b"),
    ("a number", 12345),
    ("an object", {"a": 1}),
]
IDENTIFIER = [
    ("101 characters", "a" * 101),
    ("a space", "a b"),
    ("SQL", "x'; DROP TABLE events;--"),
    ("a leading dash", "-x"),
    ("a path", "../../etc/passwd"),
    ("empty", ""),
    ("a NUL byte", "a\x00"),
    ("a number", 12345),
]
SHORT_LIST = [
    ("51 items", ["x"] * 51),
    ("a string", "housing"),
    ("a 201-character item", ["x" * 201]),
    ("an item with a NUL byte", ["a\x00"]),
    ("numbers", [1, 2]),
]
ENUM = [
    ("an unknown value", "no_such_value"),
    ("SQL", "phone' OR '1'='1"),
    ("a number", 12345),
    ("null", None),
]
LANGUAGE_TAG = [
    ("a language's name", "Spanish"),
    ("a trailing hyphen", "es-"),
    ("36 characters", "es-" + "x" * 33),
    ("a NUL byte", "es\x00"),
    ("SQL", "es'; DROP TABLE events;--"),
    ("a number", 12345),
]
BOOL = [("a word", "perhaps"), ("a number", 12345), ("null", None), ("a list", [])]
ACTOR_VALUES = [
    ("an id with SQL", {**ACTOR, "staff_id": "x'; DROP TABLE events;--"}),
    ("an unknown role", {**ACTOR, "role": "god"}),
    ("a bare string", "alice"),
    ("an extra field", {**ACTOR, "superuser": True}),
    ("null", None),
]
URL = [
    ("javascript:", "javascript:alert(1)"),
    ("not a URL", "not a url"),
    ("ftp:", "ftp://example.org/x"),
    ("3,000 characters", "http://example.org/" + "a" * 3000),
    ("a number", 12345),
]
CONTACT_DATE = [
    ("before 2000", "1999-12-31"),
    ("after 2100", "2100-01-02"),
    ("not a date", "soon"),
    ("30 February", "2026-02-30"),
    ("year 0", "0000-01-01"),
]
MINUTES = [("negative", -1), ("over a day", 1441), ("a word", "many"), ("1.5", 1.5)]
AWARE = [
    ("no time zone", "2030-01-01T00:00:00"),
    ("not a time", "tomorrow"),
    ("in the past", "2001-01-01T00:00:00Z"),
]
SHARED_FIELDS = [("an unknown field", ["ssn"]), ("a string", "name")]
PROVIDERS = [("101 providers", [f"p{i}" for i in range(101)]), ("an id with SQL", ["x'; --"])]

GOAL = inputs.GOAL.model_dump(mode="json")
ACTION_OWNER = {"kind": "family", "name": "Mona (sister)"}
ACTION_OWNERS = [
    ("an unknown kind", {"kind": "god"}),
    ("a worker without a staff id", {"kind": "worker"}),
    ("a provider without an id", {"kind": "provider"}),
    ("a 201-character name", {"kind": "family", "name": "x" * 201}),
    ("a name with a NUL byte", {"kind": "family", "name": "a\x00b"}),
    ("a bare string", "client"),
]
PLAN = inputs.plan().plan.model_dump(mode="json")
ASSESSMENT = inputs.assessment().assessment.model_dump(mode="json")
EVALUATION = {"goal_id": "housing", "outcome": "met", "reason": "tenancy signed"}

PLAN_VALUES = [
    ("31 goals", {**PLAN, "goals": [{**GOAL, "goal_id": f"g{i}"} for i in range(31)]}),
    ("no goals", {**PLAN, "goals": []}),
    ("a goal due in 2101", {**PLAN, "goals": [{**GOAL, "target_date": "2101-01-01"}]}),
    ("a goal id with SQL", {**PLAN, "goals": [{**GOAL, "goal_id": "g'; --"}]}),
    ("a 10,001-character crisis plan", {**PLAN, "crisis_plan": "x" * 10_001}),
    ("an extra field", {**PLAN, "approved": True}),
]
ASSESSMENT_VALUES = [
    ("a rating of 5", {**ASSESSMENT, "domains": {"housing": {"rating": 5}}}),
    ("an unknown domain", {**ASSESSMENT, "domains": {"astrology": {"rating": 1}}}),
    ("no domains", {**ASSESSMENT, "domains": {}}),
    ("51 strengths", {**ASSESSMENT, "strengths": ["x"] * 51}),
    ("a risk level of its own", {**ASSESSMENT, "risk_level": "low"}),
]
EVALUATION_VALUES = [
    ("31 evaluations", [{**EVALUATION, "goal_id": f"g{i}"} for i in range(31)]),
    ("none", []),
    ("a 201-character reason", [{**EVALUATION, "reason": "x" * 201}]),
    ("an unknown outcome", [{**EVALUATION, "outcome": "sort of"}]),
]
POLICY_VALUES = [
    ("a string", "lenient"),
    ("a review interval of 'forever'", {"review_interval": "forever"}),
    ("a ladder of 11 steps", {"escalation_ladder": [{"notify": "manager", "after": 0}] * 11}),
    ("a negative grace", {"review_grace": -5}),
]
CIRCLE_MEMBER = {"name": "Mona Quennell", "relationship": "sister", "contact": {"phone": "555"}}
CIRCLE_MEMBER_VALUES = [
    ("a 201-character name", {**CIRCLE_MEMBER, "name": "x" * 201}),
    ("no name", {k: v for k, v in CIRCLE_MEMBER.items() if k != "name"}),
    ("a phone with a NUL byte", {**CIRCLE_MEMBER, "contact": {"phone": "555\x00"}}),
    ("10,001 characters of notes", {**CIRCLE_MEMBER, "notes": "x" * 10_001}),
    ("an extra field", {**CIRCLE_MEMBER, "ssn": "078-05-1120"}),
    ("a string", "Mona"),
]
CIRCLE_SHARES = [("an unknown item", ["diary"]), ("a string", "plan"), ("null", None)]
CONFERENCE = {
    "held_on": datetime.now(UTC).date().isoformat(),
    "client_attended": True,
    "participants": {"staff": ["alice"], "circle": []},
    "decisions": ["Mona drives Rosalind to the viewings"],
}
CONFERENCE_VALUES = [
    ("held in 1999", {**CONFERENCE, "held_on": "1999-12-31"}),
    ("held on no date", {**CONFERENCE, "held_on": "soon"}),
    ("31 decisions", {**CONFERENCE, "decisions": ["x"] * 31}),
    ("a 201-character decision", {**CONFERENCE, "decisions": ["x" * 201]}),
    ("a staff id with SQL", {**CONFERENCE, "participants": {"staff": ["x'; --"]}}),
    ("51 circle members", {**CONFERENCE, "participants": {"circle": ["m"] * 51}}),
    (
        "an action without an owner",
        {**CONFERENCE, "actions": [{"goal_id": "housing", "description": "x", "due_at": "x"}]},
    ),
    ("an extra field", {**CONFERENCE, "approved_by": "max"}),
]

Values = list[tuple[str, Json]]


@dataclass(frozen=True)
class Spec:
    update: str
    model: type[c.Command]
    valid: dict[str, Json]
    fields: dict[str, Values]


def _dump(cmd: BaseModel) -> dict[str, Json]:
    return cmd.model_dump(mode="json")


SPECS: list[Spec] = [
    Spec(
        "record_consent",
        c.RecordConsent,
        _dump(inputs.consent()),
        {"shared_fields": SHARED_FIELDS, "providers": PROVIDERS, "preferences": LONG_TEXT},
    ),
    Spec(
        "record_assessment",
        c.RecordAssessment,
        _dump(inputs.assessment()),
        {"assessment": ASSESSMENT_VALUES},
    ),
    Spec("draft_plan", c.DraftPlan, _dump(inputs.plan()), {"plan": PLAN_VALUES}),
    Spec("submit_plan", c.SubmitPlan, {"actor": ACTOR}, {"note": LONG_TEXT}),
    Spec(
        "decide_approval",
        c.DecideApproval,
        {"actor": ACTOR, "kind": "plan", "approve": True},
        {"kind": ENUM, "approve": BOOL, "note": LONG_TEXT, "reasons": SHORT_LIST},
    ),
    Spec(
        "refer",
        c.Refer,
        _dump(inputs.refer()),
        {
            "provider_id": IDENTIFIER,
            "service_id": IDENTIFIER,
            "goal_id": IDENTIFIER,
            "channel_url": URL,
            "shared_fields": SHARED_FIELDS,
            "note": LONG_TEXT,
        },
    ),
    Spec(
        "referral_reply",
        c.ReferralReply,
        {"actor": ACTOR, "referral_id": "referral-1", "outcome": "accepted"},
        {
            "referral_id": IDENTIFIER,
            "outcome": ENUM,
            "reason": SHORT_TEXT[:4],
            "note": LONG_TEXT,
        },
    ),
    Spec(
        "provider_report",
        c.ProviderReport,
        {"actor": ACTOR, "referral_id": "referral-1", "report": "attended intake"},
        {"referral_id": IDENTIFIER, "report": [*LONG_TEXT, ("empty", "")]},
    ),
    Spec(
        "log_contact",
        c.LogContact,
        {"actor": ACTOR, "kind": "phone", "contact_date": IN_A_WEEK.date().isoformat()},
        {
            "kind": ENUM,
            "contact_date": CONTACT_DATE,
            "duration_minutes": MINUTES,
            "notes": LONG_TEXT,
        },
    ),
    Spec(
        "record_progress",
        c.RecordProgress,
        {"actor": ACTOR, "goal_id": "housing", "status": "in_progress"},
        {"goal_id": IDENTIFIER, "status": ENUM, "note": LONG_TEXT},
    ),
    Spec(
        "evaluate",
        c.Evaluate,
        {"actor": ACTOR, "evaluations": [EVALUATION], "next_step": "continue"},
        {"evaluations": EVALUATION_VALUES, "next_step": ENUM},
    ),
    Spec(
        "assign",
        c.Assign,
        {"actor": CAROL.model_dump(mode="json"), "assignee": ACTOR, "reason": "cover"},
        {"assignee": ACTOR_VALUES, "reason": SHORT_TEXT},
    ),
    Spec(
        "request_transfer",
        c.RequestTransfer,
        {"actor": ACTOR, "to_team": "south", "reason": "moved house"},
        {"to_team": IDENTIFIER, "to_worker": ACTOR_VALUES[:4], "reason": SHORT_TEXT},
    ),
    Spec(
        "reply_transfer",
        c.ReplyTransfer,
        {"actor": ACTOR, "accept": False, "reason": "no capacity"},
        {"accept": BOOL, "reason": SHORT_TEXT[:4]},
    ),
    Spec(
        "request_closure",
        c.RequestClosure,
        {"actor": ACTOR, "reason": "goals_met"},
        {"reason": ENUM, "note": LONG_TEXT},
    ),
    Spec(
        "hold",
        c.HoldCase,
        {"actor": ACTOR, "reason": "in hospital", "until": IN_A_WEEK.isoformat()},
        {"reason": SHORT_TEXT, "until": AWARE},
    ),
    Spec("resume", c.ResumeCase, {"actor": ACTOR, "reason": "back home"}, {"reason": SHORT_TEXT}),
    Spec(
        "record_note",
        c.RecordNote,
        {"actor": ACTOR, "text": "called the GP"},
        {"text": [*LONG_TEXT, ("empty", ""), ("only blanks", "   ")]},
    ),
    Spec(
        "forget",
        c.ForgetClient,
        {"actor": MAX.model_dump(mode="json"), "reason": "erasure request"},
        {"reason": SHORT_TEXT},
    ),
    Spec(
        "apply_policy",
        c.ApplyPolicy,
        {"actor": MAX.model_dump(mode="json"), "policy": {}},
        {"policy": POLICY_VALUES},
    ),
    Spec("reopen", c.Reopen, {"actor": ACTOR, "reason": "new crisis"}, {"reason": SHORT_TEXT}),
    Spec(
        "open_advocacy",
        c.OpenAdvocacy,
        _dump(advocacy_inputs.open_advocacy(IN_A_WEEK.date())),
        {
            "barrier": ENUM,
            "organisation": SHORT_TEXT,
            "action": ENUM,
            "consent_by": ENUM,
            "consent_name": SHORT_TEXT,
            "details": LONG_TEXT,
            "next_step": SHORT_TEXT,
            "next_step_date": CONTACT_DATE,
        },
    ),
    Spec(
        "advocacy_step",
        c.RecordAdvocacyStep,
        _dump(advocacy_inputs.appeal("advocacy-1", IN_A_WEEK.date())),
        {
            "advocacy_id": IDENTIFIER,
            "action": ENUM,
            "note": LONG_TEXT,
            "next_step": SHORT_TEXT,
            "next_step_date": CONTACT_DATE,
        },
    ),
    Spec(
        "conclude_advocacy",
        c.ConcludeAdvocacy,
        _dump(advocacy_inputs.won("advocacy-1")),
        {"advocacy_id": IDENTIFIER, "outcome": ENUM, "note": LONG_TEXT},
    ),
    Spec(
        "record_feedback",
        c.RecordFeedback,
        _dump(advocacy_inputs.plan_feedback()),
        {
            "subject": ENUM,
            "rating": [("zero", 0), ("six", 6), ("a word", "good"), ("null", None)],
            "words": LONG_TEXT,
            "referral_id": IDENTIFIER,
            "agrees_with_plan": [v for v in BOOL if v[0] != "null"],
        },
    ),
    Spec(
        "add_action",
        c.AddAction,
        {
            "actor": ACTOR,
            "goal_id": "housing",
            "description": "Bring the tenancy papers",
            "owner": ACTION_OWNER,
            "due_at": IN_A_WEEK.isoformat(),
        },
        {
            "goal_id": IDENTIFIER,
            "description": SHORT_TEXT,
            "owner": ACTION_OWNERS,
            "due_at": AWARE,
            "crisis_plan": BOOL,
            "conference_id": IDENTIFIER,
        },
    ),
    Spec(
        "complete_action",
        c.CompleteAction,
        {"actor": ACTOR, "action_id": "action-1"},
        {"action_id": IDENTIFIER, "note": LONG_TEXT},
    ),
    Spec(
        "drop_action",
        c.DropAction,
        {"actor": ACTOR, "action_id": "action-1", "reason": "the client found a flat"},
        {"action_id": IDENTIFIER, "reason": SHORT_TEXT},
    ),
    Spec(
        "reassign_action",
        c.ReassignAction,
        {
            "actor": ACTOR,
            "action_id": "action-1",
            "owner": ACTION_OWNER,
            "reason": "her sister has a car",
        },
        {
            "action_id": IDENTIFIER,
            "owner": ACTION_OWNERS,
            "due_at": AWARE,
            "reason": SHORT_TEXT,
        },
    ),
    Spec(
        "add_circle_member",
        c.AddCircleMember,
        {"actor": ACTOR, "role": "family_member", "details": CIRCLE_MEMBER},
        {"role": ENUM, "details": CIRCLE_MEMBER_VALUES},
    ),
    Spec(
        "update_circle_member",
        c.UpdateCircleMember,
        {"actor": ACTOR, "member_id": "member-1", "name": "Mona Quennell"},
        {
            "member_id": IDENTIFIER,
            "role": [v for v in ENUM if v[0] != "null"],
            "name": SHORT_TEXT,
            "relationship": SHORT_TEXT,
            "contact": [("a phone with a NUL byte", {"phone": "555\x00"}), ("a string", "x")],
            "notes": LONG_TEXT,
        },
    ),
    Spec(
        "remove_circle_member",
        c.RemoveCircleMember,
        {"actor": ACTOR, "member_id": "member-1", "reason": "moved abroad"},
        {"member_id": IDENTIFIER, "reason": SHORT_TEXT},
    ),
    Spec(
        "record_circle_consent",
        c.RecordCircleConsent,
        {"actor": ACTOR, "member_id": "member-1", "shared": ["plan"]},
        {"member_id": IDENTIFIER, "shared": CIRCLE_SHARES, "note": LONG_TEXT},
    ),
    Spec(
        "share_with_circle",
        c.ShareWithCircle,
        {"actor": ACTOR, "member_id": "member-1", "items": ["plan"]},
        {
            "member_id": IDENTIFIER,
            "items": [*CIRCLE_SHARES, ("none", [])],
            "conference_id": IDENTIFIER,
            "note": LONG_TEXT,
        },
    ),
    Spec(
        "withdraw_referral",
        WithdrawReferral,
        {"actor": ACTOR, "referral_id": "referral-1", "reason": "the client moved away"},
        {"referral_id": IDENTIFIER, "reason": SHORT_TEXT},
    ),
    Spec(
        "record_client_language",
        RecordClientLanguage,
        {"actor": ACTOR, "preferred_language": "pt-BR", "interpreter_needed": True},
        {"preferred_language": LANGUAGE_TAG, "interpreter_needed": BOOL},
    ),
    Spec(
        "attach_document",
        AttachDocument,
        {
            "actor": ACTOR,
            "document_id": "d0c1",
            "kind": "consent_form",
            "title": "Signed consent",
            "filename": "consent.pdf",
            "media_type": "application/pdf",
            "size": 5120,
            "sha256": "ab" * 32,
        },
        {
            "document_id": IDENTIFIER,
            "title": SHORT_TEXT,
            "filename": [
                *SHORT_TEXT,
                ("a path", "../../etc/passwd"),
                ("a Windows path", "C:\\x\\y.pdf"),
                ("dot dot", ".."),
            ],
            "media_type": SHORT_TEXT,
            "size": [("zero", 0), ("negative", -1), ("text", "big")],
            "sha256": [("short", "ab"), ("upper case", "AB" * 32), ("not hex", "zz" * 32)],
            "goal_id": IDENTIFIER,
        },
    ),
    Spec(
        "withdraw_document",
        WithdrawDocument,
        {"actor": ACTOR, "document_id": "d0c1", "reason": "attached to the wrong case"},
        {"document_id": IDENTIFIER, "reason": SHORT_TEXT},
    ),
    Spec(
        "record_conference",
        c.RecordConference,
        {"actor": ACTOR, "conference": CONFERENCE},
        {"conference": CONFERENCE_VALUES},
    ),
]
"""Every Update command of the case workflow (OpenCase starts the workflow: see below)."""

SPECS_BY_UPDATE = {spec.update: spec.valid for spec in SPECS}
"""The valid payload of each Update (the case under attack gets an action from its own)."""

RULED_ON_THE_CASE_CLOCK: dict[type[c.Command], tuple[tuple[str, str], ...]] = {
    c.HoldCase: (("until", "in the past"),),
    c.AddAction: (("due_at", "in the past"),),
    c.ReassignAction: (("due_at", "in the past"),),
}
"""Values only a rule can refuse: "in the past" is the case's clock, not the edge's."""

OPEN_CASE = _dump(inputs.open_case())
CLIENT = OPEN_CASE["client"]
OPEN_CASE_FIELDS: dict[str, Values] = {
    "case_id": [("not a uuid", "not-a-uuid"), ("SQL", "'; DROP TABLE events;--")],
    "client_ref": IDENTIFIER,
    "client": [
        ("a 201-character name", {**CLIENT, "name": "x" * 201}),
        ("born in 1899", {**CLIENT, "date_of_birth": "1899-12-31"}),
        ("11 identifiers", {**CLIENT, "identifiers": {f"id{i}": "x" for i in range(11)}}),
        ("a phone number with a NUL byte", {**CLIENT, "contact": {"phone": "555\x00"}}),
        ("no name", {k: v for k, v in CLIENT.items() if k != "name"}),
        ("a language that is no tag", {**CLIENT, "preferred_language": "Spanish"}),
        ("an interpreter need of 'perhaps'", {**CLIENT, "interpreter_needed": "perhaps"}),
    ],
    "referral_source": ENUM,
    "referring_agency": SHORT_TEXT[:4],
    "assignee": ACTOR_VALUES,
    "presenting_needs": [*SHORT_LIST, ("none", [])],
}


def test_every_update_of_the_command_table_is_spoiled() -> None:
    assert {spec.update for spec in SPECS} == {entry.update for entry in TABLE}


def mutations(
    valid: dict[str, Json], fields: dict[str, Values]
) -> Iterator[tuple[str, str, dict[str, Json]]]:
    """(field, what is wrong, payload) for every hostile value, plus the generic ones."""
    for name, values in {"actor": ACTOR_VALUES, **fields}.items():
        for label, value in values:
            yield name, label, {**valid, name: value}
    yield "admin_override", "an unknown field", {**valid, "admin_override": True}
    yield "actor", "a missing field", {k: v for k, v in valid.items() if k != "actor"}


def failure_text(exc: BaseException) -> str:
    """Every message in the failure's cause chain (the field is named in one of them)."""
    parts: list[str] = []
    cause: BaseException | None = exc
    while cause is not None:
        parts.append(str(getattr(cause, "message", None) or cause))
        cause = cause.__cause__
    return "\n".join(parts)


@dataclass
class Tally:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    edge_checked: int = 0

    def __post_init__(self) -> None:
        self.violations: list[str] = []


async def _history_updates(cases: CaseClient, case_id: uuid.UUID) -> int:
    history = await cases.handle(case_id).fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )


async def test_hostile_input_on_every_command_is_refused_and_writes_nothing(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore, fault_report: FaultReport
) -> None:
    tally = Tally()
    async with (
        ProviderSimulator() as simulator,
        case_harness(time_skipping_env, sealed_store) as cases,
    ):
        store = sealed_store
        # A case with an approved plan and a referral, so that every command has a target.
        case_id = await scenarios.approved_plan(cases)
        await cases.execute(case_id, inputs.refer(url=simulator.provider_url("shelter-1")))
        await cases.execute(
            case_id, c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
        )
        await cases.execute(case_id, c.AddAction.model_validate(SPECS_BY_UPDATE["add_action"]))
        stream = f"case-{case_id}"
        handle = cases.handle(case_id)
        for _ in range(100):  # let the referral's dispatch be recorded first
            if all(r.dispatch_attempts for r in (await cases.state(case_id)).referrals.values()):
                break
            await asyncio.sleep(0.05)
        version_before = await store.stream_version(stream)
        updates_before = await _history_updates(cases, case_id)
        events_before = await store.pool.fetchval("SELECT count(*) FROM events")

        # 1. Raw payloads, one spoiled field at a time, to every Update.
        gate = asyncio.Semaphore(8)

        async def send_raw(spec: Spec, field: str, label: str, payload: dict[str, Json]) -> None:
            async with gate:
                tally.sent += 1
                what = f"{spec.update}: {field} {label}"
                try:
                    await handle.execute_update(spec.update, payload)
                except WorkflowUpdateFailedError as exc:
                    tally.rejected += 1
                    text = failure_text(exc)
                    if field not in text:
                        tally.violations.append(f"{what}: refused without naming it: {text!r}")
                    return
                tally.accepted += 1
                tally.violations.append(f"{what}: ACCEPTED")

        await asyncio.gather(
            *(
                send_raw(spec, field, label, payload)
                for spec in SPECS
                for field, label, payload in mutations(spec.valid, spec.fields)
            )
        )

        # 2. The same payloads at the caller's edge (and OpenCase, which starts a workflow).
        edge: list[tuple[type[c.Command], dict[str, Json], dict[str, Values]]] = [
            *((s.model, s.valid, s.fields) for s in SPECS),
            (c.OpenCase, OPEN_CASE, OPEN_CASE_FIELDS),
        ]
        for model, valid, fields in edge:
            model.model_validate(valid)  # the base payload itself is fine
            for field, label, payload in mutations(valid, fields):
                tally.edge_checked += 1
                try:
                    model.model_validate(payload)
                except ValidationError as exc:
                    named = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                    if field not in named:
                        tally.violations.append(
                            f"{model.__name__}.{field} {label}: error names {named}"
                        )
                    continue
                if (field, label) not in RULED_ON_THE_CASE_CLOCK.get(model, ()):
                    tally.violations.append(f"{model.__name__}.{field} {label}: valid at the edge")

        # 3. Well-typed but wrong: unknown ids, impossible dates, the wrong people.
        wrong: list[tuple[str, c.Command]] = [
            (
                "referral_id",
                c.ReferralReply(actor=ALICE, referral_id="referral-99", outcome="accepted"),
            ),
            ("referral_id", c.ProviderReport(actor=ALICE, referral_id="referral-99", report="x")),
            (
                "goal_id",
                c.RecordProgress(actor=ALICE, goal_id="no-such-goal", status=GoalStatus.MET),
            ),
            (
                "goal_id",
                inputs.refer(url=simulator.provider_url("shelter-1")).model_copy(
                    update={"goal_id": "no-such-goal"}
                ),
            ),
            (
                "provider_id",
                inputs.refer(url=simulator.provider_url("x")).model_copy(
                    update={"provider_id": "no-consent-for-me"}
                ),
            ),
            (
                "evaluations",
                c.Evaluate(
                    actor=ALICE,
                    evaluations=[
                        GoalEvaluation(goal_id="no-such-goal", outcome=GoalOutcome.MET, reason="?")
                    ],
                    next_step=NextStep.CONTINUE,
                ),
            ),
            (
                "contact_date",
                c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=date(2000, 1, 1)),
            ),
            ("assignee", c.Assign(actor=CAROL, assignee=MAX, reason="cover")),
            (
                "to_worker",
                c.RequestTransfer(actor=ALICE, to_team="north", to_worker=ERIN, reason="x"),
            ),
            ("until", c.HoldCase(actor=ALICE, reason="x", until=datetime(2001, 1, 1, tzinfo=UTC))),
            (
                "member_id",
                c.ShareWithCircle.model_validate(
                    {"actor": ACTOR, "member_id": "member-99", "items": ["plan"]}
                ),
            ),
            (
                "conference.held_on",
                c.RecordConference.model_validate(
                    {"actor": ACTOR, "conference": {**CONFERENCE, "held_on": "2099-01-01"}}
                ),
            ),
            (
                "conference.participants.circle",
                c.RecordConference.model_validate(
                    {
                        "actor": ACTOR,
                        "conference": {**CONFERENCE, "participants": {"circle": ["member-9"]}},
                    }
                ),
            ),
        ]
        for field, cmd in wrong:
            tally.sent += 1
            try:
                await cases.execute(case_id, cmd)
            except CaseCommandRejected as exc:
                tally.rejected += 1
                if field not in str(exc):
                    tally.violations.append(f"{type(cmd).__name__}: {exc} (names no {field})")
                continue
            tally.accepted += 1
            tally.violations.append(f"{type(cmd).__name__} with a wrong {field}: ACCEPTED")
        # An unknown case.
        tally.sent += 1
        with pytest.raises(CaseNotFound):
            await cases.execute(uuid.uuid4(), inputs.consent())
        tally.rejected += 1
        # An OpenCase whose assignee cannot hold cases: refused before any workflow starts.
        tally.sent += 1
        with pytest.raises(CaseCommandRejected, match="assignee"):
            await cases.open(inputs.open_case(assignee=MAX))
        tally.rejected += 1
        # A provider's reply signal with garbage: dropped, the case carries on.
        await handle.signal("provider_replied", {"actor": "nobody", "referral_id": 5})

        # Nothing of the above was written, nor entered the workflow's history.
        if await store.stream_version(stream) != version_before:
            tally.violations.append(
                f"{stream} moved from v{version_before} to v{await store.stream_version(stream)}"
            )
        if await _history_updates(cases, case_id) != updates_before:
            tally.violations.append("a refused update entered the workflow history")
        if await store.pool.fetchval("SELECT count(*) FROM events") != events_before:
            tally.violations.append("events were written by refused commands")

        # 4. Legitimate text that looks hostile is accepted and stored byte for byte.
        sql = "Robert'); DROP TABLE events;-- \\ % _ $1 ::text /* */ \"O'Brien\""
        notes = f"{sql}\nline two\ttabbed ü漢字🙂"
        legit: list[c.Command] = [
            c.LogContact(
                actor=ALICE,
                kind=ContactKind.PHONE,
                contact_date=await scenarios.days_after_opening(cases, case_id, 1),
                notes=notes,
            ),
            c.RecordProgress(
                actor=ALICE, goal_id="housing", status=GoalStatus.IN_PROGRESS, note="y" * 10_000
            ),
            c.ProviderReport(actor=ALICE, referral_id="referral-1", report=sql),
        ]
        for cmd in legit:
            tally.sent += 1
            await cases.execute(case_id, cmd)
            tally.accepted += 1
        log = await store.read_stream(stream)
        texts = [
            e.data.get("notes") or e.data.get("note") or e.data.get("report") for e in log[-3:]
        ]
        if texts != [notes.strip(), "y" * 10_000, sql]:
            tally.violations.append(f"legitimate text not stored verbatim: {texts!r}"[:500])
        async with store.pool.acquire() as conn:
            report = await verify_chains(conn)
        if not report.ok:
            tally.violations.append(f"hash chains: {report.findings}")
        events_written = await store.pool.fetchval("SELECT count(*) FROM events") - events_before
        state = await cases.state(case_id)
        if state != fold(log, store.registry):
            tally.violations.append("workflow state differs from the fold of its stream")

    fault_report.record(
        {
            "commands sent": tally.sent,
            "accepted": tally.accepted,
            "rejected": tally.rejected,
            "edge validations": tally.edge_checked,
            "events written": events_written,
            "faults injected": tally.sent - len(legit) + tally.edge_checked,
            "invariant violations": len(tally.violations),
        }
    )
    assert not tally.violations, "\n".join(tally.violations[:40])


# --- the provider portal's answers ---------------------------------------------------------


@dataclass(frozen=True)
class PortalSpec:
    """A provider's answer through the portal (`POST /api/v1/portal/referrals/{case_id}/
    {referral_id}/{action}`, casework/api/portal.py `PortalAnswer`): its body's fields
    spoiled one at a time, sent over HTTP by the referral's own provider."""

    action: str
    valid: dict[str, Json]
    fields: dict[str, Values]


PORTAL_SPECS: list[PortalSpec] = [
    PortalSpec("accept", {"note": "a bed from Monday"}, {"note": LONG_TEXT}),
    PortalSpec(
        "decline",
        {"reason": "no beds left", "note": ""},
        {"reason": [*SHORT_TEXT, ("null", None)], "note": LONG_TEXT},
    ),
    PortalSpec(
        "progress",
        {"note": "moved in"},
        {"note": [*LONG_TEXT, ("empty", ""), ("only blanks", "   ")]},
    ),
    PortalSpec("complete", {"note": "housed"}, {"note": LONG_TEXT}),
]
"""Every answer of the portal (application/provider_portal.py `PortalAction`)."""

PORTAL_PATHS: dict[str, Values] = {
    "referral_id": [
        (label, v) for label, v in IDENTIFIER if isinstance(v, str) and v and "/" not in v
    ],
    "action": [("an unknown answer", "approve"), ("SQL", "accept' OR '1'='1")],
}
"""Spoiled parts of the answer's address (those a URL can carry as one segment)."""


RULED_BY_THE_ANSWER = {
    ("decline", "reason", "null"),
    ("progress", "note", "empty"),
    ("progress", "note", "only blanks"),
}
"""Well-formed bodies only the answer's rule refuses (a decline needs its reason, a
progress report its text: application/provider_portal.py `act`)."""


def test_every_portal_answer_is_spoiled() -> None:
    assert {spec.action for spec in PORTAL_SPECS} == {a.value for a in PortalAction}


def portal_mutations(spec: PortalSpec) -> Iterator[tuple[str, str, Json]]:
    """(field, what is wrong, body) for every hostile value, plus the generic ones."""
    for name, values in spec.fields.items():
        for label, value in values:
            yield name, label, {**spec.valid, name: value}
    yield "admin_override", "an unknown field", {**spec.valid, "admin_override": True}
    yield "actor", "an actor of its own", {**spec.valid, "actor": ACTOR}


async def test_hostile_portal_answers_are_refused_and_write_nothing(
    time_skipping_env: WorkflowEnvironment,
    sealed_store: EventStore,
    channel: str,  # noqa: F811 (the fixture)
    fault_report: FaultReport,
) -> None:
    violations: list[str] = []
    sent = edge_checked = 0
    async with serve(time_skipping_env, sealed_store) as api:
        builder = Builder(
            cases=await api.app.cases(),
            store=api.app.store,
            manager=await api.actor("max"),
            supervisor=await api.actor("carol"),
            worker=await api.actor("alice"),
            other_worker=await api.actor("erin"),
            channel=channel,
        )
        case_id = await builder.referred()  # referral-1 to shelter-1, pia's provider
        pia = await api.sign_in("pia")
        base = f"/api/v1/portal/referrals/{case_id}/referral-1"
        stream = f"case-{case_id}"
        version_before = await sealed_store.stream_version(stream)
        events_before = await sealed_store.pool.fetchval("SELECT count(*) FROM events")

        async def refused(what: str, field: str, url: str, body: Json) -> None:
            nonlocal sent
            sent += 1
            answer = await api.http.post(url, json=body, headers=pia)
            if answer.status_code != 422:
                violations.append(f"{what}: {answer.status_code} {answer.text[:200]}")
                return
            named = {e["field"] for e in answer.json().get("errors", [])}
            if not any(field in n for n in named):
                violations.append(f"{what}: refused naming {named}, not {field}")

        # 1. The bodies, one field spoiled at a time, and bodies that are no object.
        for spec in PORTAL_SPECS:
            for field, label, body in portal_mutations(spec):
                await refused(
                    f"{spec.action}: {field} {label}", field, f"{base}/{spec.action}", body
                )
            for label, body in (("a list", [spec.valid]), ("a string", "accept"), ("a number", 1)):
                await refused(
                    f"{spec.action}: a body that is {label}", "", f"{base}/{spec.action}", body
                )
        # 2. The address: a hostile referral id, an unknown answer.
        for label, value in PORTAL_PATHS["referral_id"]:
            url = f"/api/v1/portal/referrals/{case_id}/{quote(value, safe='')}/accept"
            await refused(f"referral_id {label}", "referral_id", url, {"note": ""})
        for label, value in PORTAL_PATHS["action"]:
            await refused(f"action {label}", "action", f"{base}/{quote(value, safe='')}", {})
        # A case id that is no case: the same answer as another provider's referral.
        for label, value in (("not a uuid", "not-a-uuid"), ("SQL", "x'; DROP TABLE events;--")):
            sent += 1
            answer = await api.http.post(
                f"/api/v1/portal/referrals/{quote(value, safe='')}/referral-1/accept",
                json={}, headers=pia,
            )  # fmt: skip
            if answer.status_code != 404:
                violations.append(f"case_id {label}: {answer.status_code} {answer.text[:200]}")

        # 3. The same bodies at the edge (the API's model of the answer).
        for spec in PORTAL_SPECS:
            PortalAnswer.model_validate(spec.valid)
            for field, label, body in portal_mutations(spec):
                if (spec.action, field, label) in RULED_BY_THE_ANSWER:
                    continue  # well-formed: the answer's rule refuses it (above)
                edge_checked += 1
                try:
                    PortalAnswer.model_validate(body)
                except ValidationError as exc:
                    named = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                    if field not in named:
                        violations.append(f"PortalAnswer.{field} {label}: error names {named}")
                    continue
                violations.append(f"PortalAnswer.{field} {label}: valid at the edge")

        # Nothing of the above was written.
        if await sealed_store.stream_version(stream) != version_before:
            violations.append(f"{stream} moved from v{version_before}")
        if await sealed_store.pool.fetchval("SELECT count(*) FROM events") != events_before:
            violations.append("events were written by refused answers")

        # 4. Legitimate text that looks hostile is accepted and stored byte for byte.
        sql = "Robert'); DROP TABLE events;-- \\ % _ $1 ::text /* */ \"O'Brien\" ü漢字🙂"
        accepted = await api.http.post(f"{base}/accept", json={"note": sql}, headers=pia)
        if accepted.status_code != 200:
            violations.append(f"a legitimate note refused: {accepted.text[:200]}")
        log = await sealed_store.read_stream(stream)
        if (log[-1].event_type, log[-1].data.get("note")) != ("ReferralAccepted", sql):
            violations.append(f"legitimate text not stored verbatim: {log[-1].data!r}"[:300])
        if (log[-1].metadata.actor_id, log[-1].metadata.actor_role) != ("pia", "provider"):
            violations.append(f"the answer's actor: {log[-1].metadata!r}"[:300])

    fault_report.record(
        {
            "portal answers sent": sent + 1,
            "edge validations": edge_checked,
            "invariant violations": len(violations),
        }
    )
    assert not violations, "\n".join(violations[:40])
