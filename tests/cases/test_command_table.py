"""The command table (cases/command_table.py) and one-append batches (cases/batch.py), pure."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from cases import actions, circle, schedule
from cases import command_table as table
from cases import commands as c
from cases import decide as rules
from cases.actors import SYSTEM_ACTOR, Actor, Role
from cases.batch import Batch, batch, follow_ups
from cases.evolve import evolve, open_state
from cases.features.advocacy import (
    decide_advocacy_step,
    decide_conclude_advocacy,
    decide_open_advocacy,
)
from cases.features.client_language import (
    RecordClientLanguage,
    decide_record_client_language,
)
from cases.features.documents import (
    AttachDocument,
    WithdrawDocument,
    decide_attach_document,
    decide_withdraw_document,
)
from cases.features.feedback import decide_feedback
from cases.features.referral_withdrawal import WithdrawReferral, decide_withdraw_referral
from cases.policy import DEFAULT_POLICY, Policy
from cases.scoring import score
from cases.state import CaseState
from events.registry import DomainEvent
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    ApprovalKind,
    AssessmentRecorded,
    CaseOpened,
    CircleRole,
    CircleShare,
    ClosureReason,
    ContactKind,
    DocumentKind,
    EscalationResolved,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    ReviewReason,
    ReviewScheduled,
    RiskLevel,
)
from tests.cases import advocacy_inputs, inputs
from tests.cases.people import ALICE, BOB, CAROL, ERIN, MAX
from tests.cases.test_circle import GP, with_circle
from tests.cases.test_circle import conference as circle_conference
from tests.cases.test_rules import NOW, apply, opened, with_active_plan

ADMIN = Actor(staff_id="root", role=Role.ADMIN)

UPDATE_NAMES = {
    # Recorded histories and running cases name these Updates: they are kept for good.
    c.RecordConsent: "record_consent",
    c.RecordAssessment: "record_assessment",
    c.DraftPlan: "draft_plan",
    c.SubmitPlan: "submit_plan",
    c.DecideApproval: "decide_approval",
    c.Refer: "refer",
    c.ReferralReply: "referral_reply",
    c.ProviderReport: "provider_report",
    c.LogContact: "log_contact",
    c.RecordProgress: "record_progress",
    c.Evaluate: "evaluate",
    c.Assign: "assign",
    c.RequestTransfer: "request_transfer",
    c.ReplyTransfer: "reply_transfer",
    c.RequestClosure: "request_closure",
    c.HoldCase: "hold",
    c.ResumeCase: "resume",
    c.RecordNote: "record_note",
    c.AddAction: "add_action",
    c.CompleteAction: "complete_action",
    c.DropAction: "drop_action",
    c.ReassignAction: "reassign_action",
    c.AddCircleMember: "add_circle_member",
    c.UpdateCircleMember: "update_circle_member",
    c.RemoveCircleMember: "remove_circle_member",
    c.RecordCircleConsent: "record_circle_consent",
    c.ShareWithCircle: "share_with_circle",
    c.RecordConference: "record_conference",
    c.OpenAdvocacy: "open_advocacy",
    c.RecordAdvocacyStep: "advocacy_step",
    c.ConcludeAdvocacy: "conclude_advocacy",
    c.RecordFeedback: "record_feedback",
    c.ForgetClient: "forget",
    c.ApplyPolicy: "apply_policy",
    c.Reopen: "reopen",
    WithdrawReferral: "withdraw_referral",
    AttachDocument: "attach_document",
    WithdrawDocument: "withdraw_document",
    RecordClientLanguage: "record_client_language",
}


def command_types() -> set[type[c.Command]]:
    found: set[type[c.Command]] = set()
    pending: list[type[c.Command]] = [c.Command]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__ == c.__name__ or sub.__module__.startswith("cases.features."):
                found.add(sub)
                pending.append(sub)
    return found


# --- the table ------------------------------------------------------------------------------


def test_every_command_type_has_exactly_one_entry() -> None:
    commands = [entry.command for entry in table.TABLE]
    assert len(commands) == len(set(commands))
    # OpenCase starts a case rather than updating one (decide.decide_open).
    assert set(commands) == command_types() - {c.OpenCase}
    assert set(table.BY_COMMAND) == set(commands)
    with pytest.raises(KeyError):
        table.entry_for(c.OpenCase)


def test_update_names_are_unique_and_unchanged() -> None:
    names = [entry.update for entry in table.TABLE]
    assert len(names) == len(set(names))
    assert {entry.command: entry.update for entry in table.TABLE} == UPDATE_NAMES
    assert all(name.isidentifier() for name in names)
    for entry in table.TABLE:
        assert table.BY_UPDATE[entry.update] is entry
        assert table.entry_for(entry.command) is entry


def test_only_the_expected_commands_need_more_than_a_rule() -> None:
    assert {e.command for e in table.TABLE if e.scoring} == {c.RecordAssessment}
    assert {e.command for e in table.TABLE if e.dispatch_to} == {c.Refer}
    assert {e.command for e in table.TABLE if e.adopts_policy} == {c.ApplyPolicy}
    refer = inputs.refer(url="http://provider.example/in")
    dispatch_to = table.entry_for(c.Refer).dispatch_to
    assert dispatch_to is not None and dispatch_to(refer) == "http://provider.example/in"
    strict = Policy(version=2, review_grace=timedelta(days=1))
    adopt = table.entry_for(c.ApplyPolicy).adopts_policy
    assert adopt is not None and adopt(c.ApplyPolicy(actor=MAX, policy=strict)) == strict


def test_a_table_with_a_command_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = (*table.TABLE, table.TABLE[0])
    monkeypatch.setattr(table, "TABLE", twice)
    with pytest.raises(ValueError, match="RecordConsent has two entries"):
        table._index()
    renamed = table.CaseCommand(
        command=c.ResumeCase,
        update="record_consent",
        action=table.TABLE[0].action,
        decide=table.TABLE[0].decide,
    )
    monkeypatch.setattr(table, "TABLE", (table.TABLE[0], renamed))
    with pytest.raises(ValueError, match="'record_consent' carries two commands"):
        table._index()


# --- each entry decides as its rule always did ------------------------------------------------

Rule = Callable[[CaseState, Any], list[DomainEvent]]


def assessment_checked(state: CaseState, cmd: c.RecordAssessment) -> list[DomainEvent]:
    rules.check_assessment(state, cmd)
    return []


def policy_checked(state: CaseState, cmd: c.ApplyPolicy) -> list[DomainEvent]:
    rules.check_apply_policy(cmd)
    return []


RULES: dict[type[c.Command], Rule] = {
    c.RecordConsent: rules.decide_consent,
    c.DraftPlan: rules.decide_draft_plan,
    c.SubmitPlan: rules.decide_submit_plan,
    c.DecideApproval: rules.decide_approval,
    c.Refer: rules.decide_refer,
    c.ReferralReply: rules.decide_referral_reply,
    c.ProviderReport: rules.decide_provider_report,
    c.LogContact: rules.decide_contact,
    c.RecordProgress: rules.decide_progress,
    c.Evaluate: rules.decide_evaluate,
    c.Assign: rules.decide_assign,
    c.RequestTransfer: rules.decide_transfer,
    c.ReplyTransfer: rules.decide_transfer_reply,
    c.RequestClosure: rules.decide_request_closure,
    c.HoldCase: lambda s, cmd: rules.decide_hold(s, cmd, NOW),
    c.ResumeCase: rules.decide_resume,
    c.RecordNote: rules.decide_note,
    c.ForgetClient: rules.decide_forget,
    c.OpenAdvocacy: lambda s, cmd: decide_open_advocacy(s, cmd, NOW),
    c.RecordAdvocacyStep: lambda s, cmd: decide_advocacy_step(s, cmd, NOW),
    c.ConcludeAdvocacy: decide_conclude_advocacy,
    c.RecordFeedback: decide_feedback,
    c.Reopen: rules.decide_reopen,
    WithdrawReferral: decide_withdraw_referral,
    AttachDocument: decide_attach_document,
    WithdrawDocument: decide_withdraw_document,
    RecordClientLanguage: decide_record_client_language,
    c.AddCircleMember: circle.decide_add_member,
    c.UpdateCircleMember: circle.decide_update_member,
    c.RemoveCircleMember: circle.decide_remove_member,
    c.RecordCircleConsent: circle.decide_circle_consent,
    c.ShareWithCircle: circle.decide_share,
    c.RecordConference: lambda s, cmd: circle.decide_conference(s, cmd, NOW),
    c.AddAction: lambda s, cmd: actions.decide_add_action(s, cmd, NOW),
    c.CompleteAction: lambda s, cmd: actions.decide_complete_action(s, cmd, NOW),
    c.DropAction: lambda s, cmd: actions.decide_drop_action(s, cmd, NOW),
    c.ReassignAction: lambda s, cmd: actions.decide_reassign_action(s, cmd, NOW),
    # The two that yield no events of their own: they only check.
    c.RecordAssessment: assessment_checked,
    c.ApplyPolicy: policy_checked,
}


def states() -> dict[str, CaseState]:
    plan = with_active_plan()
    referred = with_active_plan()
    apply(referred, ALICE, rules.decide_refer(referred, inputs.refer()))
    transfer = with_active_plan()
    apply(
        transfer,
        ALICE,
        rules.decide_transfer(
            transfer, c.RequestTransfer(actor=ALICE, to_team="south", reason="moved")
        ),
    )
    closing = with_active_plan()
    apply(
        closing,
        ALICE,
        rules.decide_request_closure(
            closing, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET)
        ),
    )
    closed = closing.model_copy(deep=True)
    approve = c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True)
    apply(closed, CAROL, rules.decide_approval(closed, approve))
    held = with_active_plan()
    hold = c.HoldCase(actor=ALICE, reason="in hospital", until=NOW + timedelta(days=3))
    apply(held, ALICE, rules.decide_hold(held, hold, NOW))
    drafted = opened()
    assessment = inputs.assessment()
    scored = score(assessment.assessment.domains)
    apply(drafted, ALICE, rules.decide_assessment(drafted, assessment, scored))
    apply(drafted, ALICE, rules.decide_draft_plan(drafted, inputs.plan()))
    submitted = drafted.model_copy(deep=True)
    apply(submitted, ALICE, rules.decide_submit_plan(submitted, c.SubmitPlan(actor=ALICE)))
    return {
        "opened": opened(),
        "plan drafted": drafted,
        "plan submitted": submitted,
        "active plan": plan,
        "referred": referred,
        "transfer pending": transfer,
        "closure pending": closing,
        "closed": closed,
        "on hold": held,
        "advocating": advocating(),
        "with a circle": with_circle(),
        "with an action": with_an_action(),
        "with a document": with_a_document(),
    }


SISTER = ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona")
ADD_ACTION = c.AddAction(
    actor=ALICE,
    goal_id="housing",
    description="bring ID to the housing office",
    owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
    due_at=NOW + timedelta(days=5),
)


def with_a_document() -> CaseState:
    state = opened()
    attach = AttachDocument(
        actor=ALICE,
        document_id="d0c5",
        kind=DocumentKind.IDENTITY,
        title="Passport",
        filename="passport.jpg",
        media_type="image/jpeg",
        size=80_000,
        sha256="ef" * 32,
    )
    return apply(state, ALICE, decide_attach_document(state, attach))


def advocating() -> CaseState:
    state = opened()
    cmd = advocacy_inputs.open_advocacy(NOW.date() + timedelta(days=7))
    return apply(state, ALICE, decide_open_advocacy(state, cmd, NOW))


def with_an_action() -> CaseState:
    state = with_active_plan()
    return apply(state, ALICE, actions.decide_add_action(state, ADD_ACTION, NOW))


EVALUATE = c.Evaluate(
    actor=ALICE,
    evaluations=[GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy")],
    next_step=NextStep.CLOSE,
)

COMMANDS: list[c.Command] = [
    inputs.consent(),
    inputs.consent(actor=ERIN),
    inputs.assessment(),
    inputs.assessment(actor=ERIN),
    inputs.plan(),
    inputs.plan(agreed=False),
    c.SubmitPlan(actor=ALICE),
    c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True),
    c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=False),
    c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True),
    c.DecideApproval(actor=ALICE, kind=ApprovalKind.CLOSURE, approve=True),
    inputs.refer(),
    inputs.refer(provider="food-bank"),
    c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted"),
    c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="declined"),
    c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="completed"),
    c.ProviderReport(actor=ALICE, referral_id="referral-1", report="attended"),
    WithdrawReferral(actor=ALICE, referral_id="referral-1", reason="client moved"),
    WithdrawReferral(actor=ALICE, referral_id="referral-9", reason="client moved"),
    RecordClientLanguage(actor=ALICE, preferred_language="es", interpreter_needed=True),
    RecordClientLanguage(actor=ALICE),
    AttachDocument(
        actor=ALICE,
        document_id="d0c5",
        kind=DocumentKind.CONSENT_FORM,
        title="Signed consent",
        filename="consent.pdf",
        media_type="application/pdf",
        size=1200,
        sha256="ab" * 32,
    ),
    AttachDocument(
        actor=ERIN,
        document_id="d0c6",
        kind=DocumentKind.LETTER,
        title="Letter",
        filename="letter.pdf",
        media_type="application/pdf",
        size=1200,
        sha256="cd" * 32,
        goal_id="nothing",
    ),
    WithdrawDocument(actor=ALICE, document_id="d0c5", reason="wrong case"),
    WithdrawDocument(actor=ALICE, document_id="d0c9", reason="wrong case"),
    c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=NOW.date()),
    c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=NOW.date() - timedelta(9)),
    c.RecordProgress(actor=ALICE, goal_id="housing", status=GoalStatus.MET),
    c.RecordProgress(actor=ALICE, goal_id="nothing", status=GoalStatus.MET),
    EVALUATE,
    c.Assign(actor=CAROL, assignee=BOB, reason="cover"),
    c.Assign(actor=CAROL, assignee=ERIN, reason="cover"),
    c.RequestTransfer(actor=ALICE, to_team="south", reason="moved"),
    c.RequestTransfer(actor=ALICE, to_team="south", to_worker=ERIN, reason="moved"),
    c.ReplyTransfer(actor=ERIN, accept=True),
    c.ReplyTransfer(actor=BOB, accept=True),
    c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET),
    c.HoldCase(actor=ALICE, reason="in hospital", until=NOW + timedelta(days=3)),
    c.HoldCase(actor=ALICE, reason="in hospital", until=NOW - timedelta(days=3)),
    c.ResumeCase(actor=ALICE, reason="back home"),
    c.RecordNote(actor=BOB, text="called the GP"),
    c.RecordNote(actor=ERIN, text="called the GP"),
    c.ForgetClient(actor=ADMIN, reason="erasure request"),
    c.ForgetClient(actor=ALICE, reason="erasure request"),
    c.ApplyPolicy(actor=MAX, policy=DEFAULT_POLICY),
    c.ApplyPolicy(actor=ALICE, policy=DEFAULT_POLICY),
    c.Reopen(actor=CAROL, reason="relapse"),
    c.Reopen(actor=ALICE, reason="relapse"),
    advocacy_inputs.open_advocacy(NOW.date() + timedelta(days=7)),
    advocacy_inputs.open_advocacy(NOW.date() - timedelta(days=1)),
    advocacy_inputs.appeal("advocacy-1", NOW.date() + timedelta(days=30)),
    advocacy_inputs.appeal("advocacy-1", NOW.date() - timedelta(days=1)),
    advocacy_inputs.won("advocacy-1"),
    advocacy_inputs.won("advocacy-2"),
    advocacy_inputs.plan_feedback(),
    advocacy_inputs.referral_feedback(),
    c.AddCircleMember(actor=ALICE, role=CircleRole.GP, details=GP),
    c.AddCircleMember(actor=ERIN, role=CircleRole.GP, details=GP),
    c.UpdateCircleMember(actor=ALICE, member_id="member-1", role=CircleRole.CARER),
    c.UpdateCircleMember(actor=ALICE, member_id="member-9", role=CircleRole.CARER),
    c.RemoveCircleMember(actor=ALICE, member_id="member-1", reason="moved away"),
    c.RemoveCircleMember(actor=ERIN, member_id="member-1", reason="moved away"),
    c.RecordCircleConsent(actor=ALICE, member_id="member-1", shared=[CircleShare.PROGRESS]),
    c.RecordCircleConsent(actor=ALICE, member_id="member-2", shared=[CircleShare.PROGRESS]),
    c.ShareWithCircle(actor=ALICE, member_id="member-1", items=[CircleShare.PLAN]),
    c.ShareWithCircle(actor=ALICE, member_id="member-1", items=[CircleShare.PROGRESS]),
    circle_conference(),
    circle_conference(NOW.date() + timedelta(days=2)),
    ADD_ACTION,
    ADD_ACTION.model_copy(update={"goal_id": "nothing"}),
    c.CompleteAction(actor=BOB, action_id="action-1"),
    c.CompleteAction(actor=ERIN, action_id="action-1"),
    c.DropAction(actor=ALICE, action_id="action-1", reason="moved"),
    c.DropAction(actor=ALICE, action_id="action-2", reason="moved"),
    c.ReassignAction(actor=CAROL, action_id="action-1", owner=SISTER, reason="helps"),
    c.ReassignAction(actor=BOB, action_id="action-1", owner=SISTER, reason="helps"),
]


def outcome(decide: Callable[..., list[DomainEvent]], *args: Any) -> list[DomainEvent] | str:
    try:
        return decide(*args)
    except rules.CommandRejected as exc:
        return f"rejected: {exc}"


def cases() -> Iterator[tuple[str, CaseState, c.Command]]:
    for label, state in states().items():
        for cmd in COMMANDS:
            yield label, state, cmd


def test_every_entry_accepts_and_rejects_as_its_rule() -> None:
    accepted: set[type[c.Command]] = set()
    rejected: set[type[c.Command]] = set()
    for label, state, cmd in cases():
        entry = table.entry_for(type(cmd))
        before = state.model_copy(deep=True)
        got = outcome(entry.decide, state, cmd, NOW)
        want = outcome(RULES[type(cmd)], state, cmd)
        assert got == want, f"{type(cmd).__name__} on a case {label}"
        assert state == before, "deciding changes nothing"
        (rejected if isinstance(got, str) else accepted).add(type(cmd))
    # Every command was seen both ways: the samples exercise every rule.
    assert accepted == set(UPDATE_NAMES)
    assert rejected == set(UPDATE_NAMES)


def test_assessment_is_checked_then_decided_with_its_score() -> None:
    entry = table.entry_for(c.RecordAssessment)
    assert entry.scoring is not None
    cmd = inputs.assessment()
    state = opened()
    assert entry.decide(state, cmd, NOW) == []
    with pytest.raises(rules.CommandRejected, match="erin"):
        entry.decide(state, inputs.assessment(actor=ERIN), NOW)
    assert entry.scoring.assessment(cmd) == cmd.assessment
    scored = score(cmd.assessment.domains)
    [event] = entry.scoring.decide(state, cmd, scored)
    assert event == rules.decide_assessment(state, cmd, scored)[0]
    assert isinstance(event, AssessmentRecorded) and event.risk_level is RiskLevel.HIGH


# --- one append per command: the batch -------------------------------------------------------


def one_group_at_a_time(
    state: CaseState,
    policy: Policy,
    actor: Actor,
    events: Sequence[DomainEvent],
    policy_changed: bool = False,
    at: datetime = NOW,
) -> Batch:
    """What the workflow appended before PATCH_ONE_APPEND, one append per group."""
    appended: Batch = []

    def commit(actor: Actor, events: Sequence[DomainEvent], policy_changed: bool) -> None:
        appended.append((actor, list(events)))
        for event in events:
            evolve(state, event, actor.staff_id, at)
        follow = schedule.reactions(state, policy, events, policy_changed)
        if follow:
            commit(SYSTEM_ACTOR, follow, False)

    if events:
        commit(actor, events, policy_changed)
    else:
        follow = schedule.reactions(state, policy, [], policy_changed)
        if follow:
            commit(SYSTEM_ACTOR, follow, False)
    return appended


def scheduled(state: CaseState) -> CaseState:
    """The state as the workflow holds it: with its reviews scheduled."""
    for _, group in one_group_at_a_time(state, DEFAULT_POLICY, ALICE, []):
        assert all(isinstance(e, ReviewScheduled) for e in group)
    return state


def test_an_assessment_and_the_review_it_moves_form_one_batch() -> None:
    state = scheduled(opened())
    before = state.model_copy(deep=True)
    cmd = inputs.assessment()
    events = rules.decide_assessment(state, cmd, score(cmd.assessment.domains))
    groups = batch(state, DEFAULT_POLICY, ALICE, events, NOW)
    assert state == before, "the state is left as it was"
    assert [(actor, [e.type for e in group]) for actor, group in groups] == [
        (ALICE, ["AssessmentRecorded"]),
        (SYSTEM_ACTOR, ["ReviewScheduled"]),
    ]
    review = groups[1][1][0]
    assert isinstance(review, ReviewScheduled)
    assert review.reason is ReviewReason.ASSESSED
    assert review.due_at == NOW + DEFAULT_POLICY.interval(RiskLevel.HIGH)
    assert groups == one_group_at_a_time(state, DEFAULT_POLICY, ALICE, events)


def test_a_batch_without_reactions_is_the_command_alone() -> None:
    state = scheduled(opened())
    events = rules.decide_consent(state, inputs.consent())
    assert batch(state, DEFAULT_POLICY, ALICE, events, NOW) == [(ALICE, events)]
    cmd = inputs.assessment()
    events = rules.decide_assessment(state, cmd, score(cmd.assessment.domains))
    assert batch(state, DEFAULT_POLICY, ALICE, events, NOW, react=False) == [(ALICE, events)]


def test_a_policy_change_batches_the_review_it_moves_as_the_system() -> None:
    state = scheduled(with_active_plan())
    stricter = Policy(version=2, review_interval={r: timedelta(days=3) for r in RiskLevel})
    groups = batch(state, stricter, MAX, [], NOW, policy_changed=True)
    [(actor, [review])] = groups
    assert actor == SYSTEM_ACTOR and isinstance(review, ReviewScheduled)
    assert review.reason is ReviewReason.POLICY_CHANGED and review.policy_version == 2
    assert batch(state, DEFAULT_POLICY, MAX, [], NOW, policy_changed=True) == []
    assert groups == one_group_at_a_time(state, stricter, MAX, [], policy_changed=True)


def test_a_reassessment_after_an_escalation_resolves_it_and_reschedules() -> None:
    state = scheduled(with_active_plan())
    assert state.next_review_due is not None
    late = state.next_review_due + DEFAULT_POLICY.review_grace + timedelta(hours=1)
    for _ in range(5):  # due, lapsed and escalated
        for event in schedule.due_events(state, DEFAULT_POLICY, late):
            evolve(state, event, SYSTEM_ACTOR.staff_id, late)
    assert state.escalations
    cmd = inputs.assessment(housing=1)
    events = rules.decide_assessment(state, cmd, score(cmd.assessment.domains))
    at = late + timedelta(days=1)
    groups = batch(state, DEFAULT_POLICY, ALICE, events, at)
    types = [[e.type for e in group] for _, group in groups]
    assert types == [["AssessmentRecorded"], ["EscalationResolved", "ReviewScheduled"]]
    resolved = groups[1][1][0]
    assert isinstance(resolved, EscalationResolved) and resolved.resolution == "review recorded"
    old = one_group_at_a_time(state.model_copy(deep=True), DEFAULT_POLICY, ALICE, events, at=at)
    assert old == groups


def test_opening_batches_the_first_review() -> None:
    [opened_event] = rules.decide_open(inputs.open_case())
    assert isinstance(opened_event, CaseOpened)
    state = open_state(opened_event, ALICE.staff_id, NOW)
    [[review]] = follow_ups(state, DEFAULT_POLICY, [opened_event], NOW)
    assert isinstance(review, ReviewScheduled) and review.reason is ReviewReason.OPENED
    assert state.next_review_due == review.due_at, "follow_ups advances the state it is given"
