"""Every cell of the authorisation policy (cases/access.py) against the real rules.

Commands: each role, standing in each relation to a case (its assigned worker, a
member of its team, outside it; team-less roles from the agency), tries every command
through the pure rules of cases/decide.py (and the policy and directory rules) on a
case state built so that only the permission can refuse it. The outcome must be the
table's. Queries: the same actors against `case_scope` (in Python and as SQL) and the
query-permission functions. And docs/security.md shows the table the module renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import pytest

from cases import actions, circle
from cases import commands as c
from cases import decide as rules
from cases.access import (
    BREAK_GLASS_ROLES,
    CASE_DATA_QUERIES,
    COMMANDS,
    QUERIES,
    AccessDenied,
    Action,
    BreakGlassRefused,
    CaseNotVisible,
    Grant,
    Query,
    decide_read,
    query_relation,
    render_markdown,
)
from cases.actors import SYSTEM_ACTOR, Actor, Role
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
from cases.features.feedback import decide_feedback
from cases.features.referral_withdrawal import WithdrawReferral, decide_withdraw_referral
from cases.policy import DEFAULT_POLICY
from cases.scoring import score
from cases.state import CaseState
from directory import StaffDirectory, decide_add_team
from directory.errors import DirectoryError
from events.registry import DomainEvent
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    ApprovalKind,
    CaseOpened,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClosureReason,
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    Participants,
)
from projections.scope import case_scope
from tests.cases import advocacy_inputs, inputs
from tests.conftest import ROOT

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BUILDER = Actor(staff_id="builder", role=Role.MANAGER)
"""Does the work that puts a case into the state a command needs (never under test)."""

ACTORS: dict[Role, Actor] = {
    Role.CASEWORKER: Actor(staff_id="alice", role=Role.CASEWORKER, team="north"),
    Role.SUPERVISOR: Actor(staff_id="carol", role=Role.SUPERVISOR, team="north"),
    Role.MANAGER: Actor(staff_id="max", role=Role.MANAGER),
    Role.AUDITOR: Actor(staff_id="audrey", role=Role.AUDITOR),
    Role.ADMIN: Actor(staff_id="root", role=Role.ADMIN),
    Role.OPERATOR: Actor(staff_id="otto", role=Role.OPERATOR),
    Role.SYSTEM: SYSTEM_ACTOR,
    Role.PROVIDER: Actor(staff_id="pia", role=Role.PROVIDER, provider_id="shelter-1"),
}
OTHER_PROVIDER = Actor(staff_id="otis", role=Role.PROVIDER, provider_id="pantry-2")
"""A provider the case's referral (to shelter-1, tests/cases/inputs.py `refer`) is not for."""


class Position(StrEnum):
    OWN = "own"
    """The case is assigned to the actor (in the actor's team)."""
    TEAM = "team"
    """The case is in the actor's team, assigned to a colleague."""
    OTHER = "other"
    """The case is in another team."""
    AGENCY = "agency"
    """A team-less role (manager, auditor, admin, the engine) and a case of a team."""
    REFERRED = "referred"
    """A provider, and a case whose referral is to the provider's organisation."""
    OTHER_PROVIDER = "other_provider"
    """A provider, and a case whose referral is to another organisation."""


def positions(role: Role) -> list[Position]:
    if role is Role.PROVIDER:
        return [Position.REFERRED, Position.OTHER_PROVIDER]
    if ACTORS[role].team is None:
        return [Position.AGENCY]
    return [Position.OWN, Position.TEAM, Position.OTHER]


@dataclass(frozen=True)
class Subject:
    """The team and worker a command's permission is judged against."""

    team: str
    worker: Actor
    referral_provider: str = "shelter-1"
    """The provider the case's referral (referral-1) is to."""


def actor_at(role: Role, position: Position) -> Actor:
    """Who stands in `position`: the role's actor, or for OTHER_PROVIDER another provider."""
    return OTHER_PROVIDER if position is Position.OTHER_PROVIDER else ACTORS[role]


def subject(actor: Actor, position: Position) -> Subject:
    if position is Position.OWN:
        assert actor.team is not None
        return Subject(actor.team, actor)
    if position is Position.OTHER:
        return Subject("south", Actor(staff_id="erin", role=Role.CASEWORKER, team="south"))
    return Subject("north", Actor(staff_id="frank", role=Role.CASEWORKER, team="north"))


def allowed_by_table(relation: str | None, actor: Actor, s: Subject) -> bool:
    if relation is None:
        return False
    if relation == "any":
        return True
    if relation == "referred":
        return actor.provider_id is not None and actor.provider_id == s.referral_provider
    in_team = actor.team == s.team
    if relation == "team":
        return in_team
    return in_team and actor.staff_id == s.worker.staff_id


# --- building case states -------------------------------------------------------------------


def apply(state: CaseState, actor: Actor, events: list[DomainEvent]) -> CaseState:
    for event in events:
        state = evolve(state, event, actor.staff_id, NOW)
    return state


def opened(team: str, worker: Actor) -> CaseState:
    [event] = rules.decide_open(inputs.open_case(actor=BUILDER, assignee=worker))
    assert isinstance(event, CaseOpened) and event.team == team
    return open_state(event, BUILDER.staff_id, NOW)


def supervisor_of(state: CaseState) -> Actor:
    return Actor(staff_id="sup-x", role=Role.SUPERVISOR, team=state.team)


def assessed(s: Subject) -> CaseState:
    state = opened(s.team, s.worker)
    state = apply(state, BUILDER, rules.decide_consent(state, inputs.consent(actor=BUILDER)))
    cmd = inputs.assessment(actor=BUILDER)
    return apply(state, BUILDER, rules.decide_assessment(state, cmd, score(cmd.assessment.domains)))


def drafted(s: Subject) -> CaseState:
    state = assessed(s)
    return apply(state, BUILDER, rules.decide_draft_plan(state, inputs.plan(actor=BUILDER)))


def submitted(s: Subject) -> CaseState:
    state = drafted(s)
    return apply(state, BUILDER, rules.decide_submit_plan(state, c.SubmitPlan(actor=BUILDER)))


def active(s: Subject) -> CaseState:
    state = submitted(s)
    sup = supervisor_of(state)
    grant = c.DecideApproval(actor=sup, kind=ApprovalKind.PLAN, approve=True)
    return apply(state, sup, rules.decide_approval(state, grant))


def referred(s: Subject) -> CaseState:
    state = active(s)
    return apply(state, BUILDER, rules.decide_refer(state, inputs.refer(actor=BUILDER)))


def on_hold(s: Subject) -> CaseState:
    state = opened(s.team, s.worker)
    hold = c.HoldCase(actor=BUILDER, reason="in hospital", until=NOW + timedelta(days=10))
    return apply(state, BUILDER, rules.decide_hold(state, hold, NOW))


def closure_requested(s: Subject) -> CaseState:
    state = opened(s.team, s.worker)
    ask = c.RequestClosure(actor=BUILDER, reason=ClosureReason.GOALS_MET)
    return apply(state, BUILDER, rules.decide_request_closure(state, ask))


def closed(s: Subject) -> CaseState:
    state = closure_requested(s)
    sup = supervisor_of(state)
    grant = c.DecideApproval(actor=sup, kind=ApprovalKind.CLOSURE, approve=True)
    return apply(state, sup, rules.decide_approval(state, grant))


def transfer_pending(s: Subject) -> CaseState:
    """A case of another team, being transferred TO the subject's team and worker."""
    state = opened("east", Actor(staff_id="gina", role=Role.CASEWORKER, team="east"))
    ask = c.RequestTransfer(actor=BUILDER, to_team=s.team, to_worker=s.worker, reason="moved")
    return apply(state, BUILDER, rules.decide_transfer(state, ask))


def just_opened(s: Subject) -> CaseState:
    return opened(s.team, s.worker)


def in_circle(s: Subject) -> CaseState:
    """An active plan, a circle member (member-1) the client consented to share it with."""
    state = active(s)
    add = c.AddCircleMember(
        actor=BUILDER, role=CircleRole.FAMILY_MEMBER, details=CircleMemberDetails(name="Mona")
    )
    state = apply(state, BUILDER, circle.decide_add_member(state, add))
    agree = c.RecordCircleConsent(actor=BUILDER, member_id="member-1", shared=[CircleShare.PLAN])
    return apply(state, BUILDER, circle.decide_circle_consent(state, agree))


def conference(actor: Actor) -> c.RecordConference:
    return c.RecordConference(
        actor=actor,
        conference=c.ConferenceInput(
            held_on=NOW.date(),
            client_attended=True,
            participants=Participants(staff=[actor.staff_id], circle=["member-1"]),
            decisions=["Mona joins the housing viewings"],
        ),
    )


def with_action(s: Subject) -> CaseState:
    state = active(s)
    add = c.AddAction(
        actor=BUILDER,
        goal_id="housing",
        description="bring ID",
        owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
        due_at=NOW + timedelta(days=3),
    )
    return apply(state, BUILDER, actions.decide_add_action(state, add, NOW))


def advocating(s: Subject) -> CaseState:
    state = opened(s.team, s.worker)
    cmd = advocacy_inputs.open_advocacy(NOW.date(), actor=BUILDER)
    return apply(state, BUILDER, decide_open_advocacy(state, cmd, NOW))


# --- the commands -----------------------------------------------------------------------------

Run = Callable[[Subject, Actor], Any]


def on(build: Callable[[Subject], CaseState], decide: Callable[[CaseState, Actor], Any]) -> Run:
    return lambda s, actor: decide(build(s), actor)


def apply_policy(actor: Actor) -> bool:
    rules.check_apply_policy(c.ApplyPolicy(actor=actor, policy=DEFAULT_POLICY))
    return True


COMMAND_CASES: dict[str, tuple[Action, Run]] = {
    "open": (
        Action.OPEN,
        lambda s, actor: rules.decide_open(inputs.open_case(actor=actor, assignee=s.worker)),
    ),
    "consent": (
        Action.WORK,
        on(just_opened, lambda st, a: rules.decide_consent(st, inputs.consent(actor=a))),
    ),
    "assessment": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: rules.decide_assessment(
                st, inputs.assessment(actor=a), score(inputs.assessment().assessment.domains)
            ),
        ),
    ),
    "draft plan": (
        Action.WORK,
        on(assessed, lambda st, a: rules.decide_draft_plan(st, inputs.plan(actor=a))),
    ),
    "submit plan": (
        Action.WORK,
        on(drafted, lambda st, a: rules.decide_submit_plan(st, c.SubmitPlan(actor=a))),
    ),
    "refer": (Action.WORK, on(active, lambda st, a: rules.decide_refer(st, inputs.refer(actor=a)))),
    "contact": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: rules.decide_contact(
                st, c.LogContact(actor=a, kind=ContactKind.PHONE, contact_date=NOW.date())
            ),
        ),
    ),
    "progress": (
        Action.WORK,
        on(
            active,
            lambda st, a: rules.decide_progress(
                st, c.RecordProgress(actor=a, goal_id="housing", status=GoalStatus.IN_PROGRESS)
            ),
        ),
    ),
    "evaluate": (
        Action.WORK,
        on(
            active,
            lambda st, a: rules.decide_evaluate(
                st,
                c.Evaluate(
                    actor=a,
                    evaluations=[
                        GoalEvaluation(goal_id="housing", outcome=GoalOutcome.MET, reason="x")
                    ],
                    next_step=NextStep.CLOSE,
                ),
            ),
        ),
    ),
    "request transfer": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: rules.decide_transfer(
                st, c.RequestTransfer(actor=a, to_team="east", reason="moving away")
            ),
        ),
    ),
    "request closure": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: rules.decide_request_closure(
                st, c.RequestClosure(actor=a, reason=ClosureReason.GOALS_MET)
            ),
        ),
    ),
    "hold": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: rules.decide_hold(
                st,
                c.HoldCase(actor=a, reason="in hospital", until=NOW + timedelta(days=5)),
                NOW,
            ),
        ),
    ),
    "resume": (
        Action.WORK,
        on(on_hold, lambda st, a: rules.decide_resume(st, c.ResumeCase(actor=a, reason="home"))),
    ),
    "approve plan": (
        Action.APPROVE,
        on(
            submitted,
            lambda st, a: rules.decide_approval(
                st, c.DecideApproval(actor=a, kind=ApprovalKind.PLAN, approve=True)
            ),
        ),
    ),
    "return plan": (
        Action.APPROVE,
        on(
            submitted,
            lambda st, a: rules.decide_approval(
                st,
                c.DecideApproval(
                    actor=a, kind=ApprovalKind.PLAN, approve=False, reasons=["add a goal"]
                ),
            ),
        ),
    ),
    "approve closure": (
        Action.APPROVE,
        on(
            closure_requested,
            lambda st, a: rules.decide_approval(
                st, c.DecideApproval(actor=a, kind=ApprovalKind.CLOSURE, approve=True)
            ),
        ),
    ),
    "assign": (
        Action.ASSIGN,
        on(
            just_opened,
            lambda st, a: rules.decide_assign(
                st,
                c.Assign(
                    actor=a,
                    assignee=Actor(staff_id="hana", role=Role.CASEWORKER, team=st.team),
                    reason="leave",
                ),
            ),
        ),
    ),
    "accept transfer": (
        Action.TRANSFER_REPLY,
        on(
            transfer_pending,
            lambda st, a: rules.decide_transfer_reply(st, c.ReplyTransfer(actor=a, accept=True)),
        ),
    ),
    "reject transfer": (
        Action.TRANSFER_REPLY,
        on(
            transfer_pending,
            lambda st, a: rules.decide_transfer_reply(
                st, c.ReplyTransfer(actor=a, accept=False, reason="no capacity")
            ),
        ),
    ),
    "reopen": (
        Action.REOPEN,
        on(closed, lambda st, a: rules.decide_reopen(st, c.Reopen(actor=a, reason="relapse"))),
    ),
    "referral reply": (
        Action.PROVIDER_REPLY,
        on(
            referred,
            lambda st, a: rules.decide_referral_reply(
                st, c.ReferralReply(actor=a, referral_id="referral-1", outcome="accepted")
            ),
        ),
    ),
    "provider report": (
        Action.PROVIDER_REPLY,
        on(
            referred,
            lambda st, a: rules.decide_provider_report(
                st, c.ProviderReport(actor=a, referral_id="referral-1", report="first visit")
            ),
        ),
    ),
    "withdraw referral": (
        Action.WORK,
        on(
            referred,
            lambda st, a: decide_withdraw_referral(
                st, WithdrawReferral(actor=a, referral_id="referral-1", reason="moved away")
            ),
        ),
    ),
    "record client language": (
        Action.WORK,
        on(
            just_opened,
            lambda st, a: decide_record_client_language(
                st, RecordClientLanguage(actor=a, preferred_language="es", interpreter_needed=True)
            ),
        ),
    ),
    "add circle member": (
        Action.CIRCLE,
        on(
            just_opened,
            lambda st, a: circle.decide_add_member(
                st,
                c.AddCircleMember(
                    actor=a, role=CircleRole.GP, details=CircleMemberDetails(name="Dr Okafor")
                ),
            ),
        ),
    ),
    "update circle member": (
        Action.CIRCLE,
        on(
            in_circle,
            lambda st, a: circle.decide_update_member(
                st, c.UpdateCircleMember(actor=a, member_id="member-1", role=CircleRole.CARER)
            ),
        ),
    ),
    "remove circle member": (
        Action.CIRCLE,
        on(
            in_circle,
            lambda st, a: circle.decide_remove_member(
                st, c.RemoveCircleMember(actor=a, member_id="member-1", reason="moved away")
            ),
        ),
    ),
    "circle consent": (
        Action.CIRCLE_CONSENT,
        on(
            in_circle,
            lambda st, a: circle.decide_circle_consent(
                st, c.RecordCircleConsent(actor=a, member_id="member-1", shared=[])
            ),
        ),
    ),
    "share with circle": (
        Action.SHARE_WITH_CIRCLE,
        on(
            in_circle,
            lambda st, a: circle.decide_share(
                st, c.ShareWithCircle(actor=a, member_id="member-1", items=[CircleShare.PLAN])
            ),
        ),
    ),
    "case conference": (
        Action.CONFERENCE,
        on(in_circle, lambda st, a: circle.decide_conference(st, conference(a), NOW)),
    ),
    "case note": (
        Action.NOTE,
        on(
            just_opened,
            lambda st, a: rules.decide_note(st, c.RecordNote(actor=a, text="called the GP")),
        ),
    ),
    "add action": (
        Action.PLAN_ACTIONS,
        on(
            active,
            lambda st, a: actions.decide_add_action(
                st,
                c.AddAction(
                    actor=a,
                    goal_id="housing",
                    description="bring ID",
                    owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
                    due_at=NOW + timedelta(days=3),
                ),
                NOW,
            ),
        ),
    ),
    "drop action": (
        Action.PLAN_ACTIONS,
        on(
            with_action,
            lambda st, a: actions.decide_drop_action(
                st, c.DropAction(actor=a, action_id="action-1", reason="moved"), NOW
            ),
        ),
    ),
    "reassign action": (
        Action.PLAN_ACTIONS,
        on(
            with_action,
            lambda st, a: actions.decide_reassign_action(
                st,
                c.ReassignAction(
                    actor=a,
                    action_id="action-1",
                    owner=ActionOwner(kind=ActionOwnerKind.FAMILY),
                    reason="sister helps",
                ),
                NOW,
            ),
        ),
    ),
    "complete action": (
        Action.COMPLETE_ACTION,
        on(
            with_action,
            lambda st, a: actions.decide_complete_action(
                st, c.CompleteAction(actor=a, action_id="action-1"), NOW
            ),
        ),
    ),
    "open advocacy": (
        Action.ADVOCACY,
        on(
            just_opened,
            lambda st, a: decide_open_advocacy(
                st, advocacy_inputs.open_advocacy(NOW.date(), actor=a), NOW
            ),
        ),
    ),
    "advocacy step": (
        Action.ADVOCACY,
        on(
            advocating,
            lambda st, a: decide_advocacy_step(
                st, advocacy_inputs.appeal("advocacy-1", NOW.date(), actor=a), NOW
            ),
        ),
    ),
    "conclude advocacy": (
        Action.ADVOCACY,
        on(
            advocating,
            lambda st, a: decide_conclude_advocacy(st, advocacy_inputs.won("advocacy-1", actor=a)),
        ),
    ),
    "client feedback": (
        Action.FEEDBACK,
        on(
            referred,
            lambda st, a: decide_feedback(st, advocacy_inputs.referral_feedback(actor=a)),
        ),
    ),
    "forget client": (
        Action.ERASE,
        on(
            just_opened,
            lambda st, a: rules.decide_forget(st, c.ForgetClient(actor=a, reason="asked")),
        ),
    ),
    "apply policy": (
        Action.POLICY,
        lambda s, actor: apply_policy(actor),
    ),
    "change directory": (
        Action.DIRECTORY,
        lambda s, actor: decide_add_team(StaffDirectory(), actor, "west", "West"),
    ),
}


def command_cells() -> list[Any]:
    return [
        pytest.param(name, role, position, id=f"{name}-{role.value}-{position.value}")
        for name in COMMAND_CASES
        for role in Role
        for position in positions(role)
    ]


def test_every_command_is_walked() -> None:
    assert {action for action, _ in COMMAND_CASES.values()} == set(Action) == set(COMMANDS)


@pytest.mark.parametrize(("name", "role", "position"), command_cells())
def test_command_cell(name: str, role: Role, position: Position) -> None:
    action, run = COMMAND_CASES[name]
    actor = actor_at(role, position)
    s = subject(actor, position)
    expected = allowed_by_table(COMMANDS[action].get(role), actor, s)
    if expected:
        assert run(s, actor), f"{name}: no events"
        return
    with pytest.raises((rules.CommandRejected, DirectoryError)) as refused:
        run(s, actor)
    # Refused for who the actor is, not for the state of the case.
    assert str(refused.value).startswith(f"{actor.staff_id} "), str(refused.value)


# --- separation of duties and the policy's promises -------------------------------------------


def test_auditors_change_nothing_and_admins_see_no_case_data() -> None:
    assert all(Role.AUDITOR not in cells for cells in COMMANDS.values())
    assert all(Role.ADMIN not in QUERIES[q] for q in CASE_DATA_QUERIES)
    assert Role.ADMIN not in BREAK_GLASS_ROLES
    readable = set(Query) - {Query.DIRECTORIES, Query.PAYLOADS}
    assert all(Role.AUDITOR in QUERIES[q] for q in readable)


def test_operators_decode_payloads_inspect_workflows_and_nothing_else() -> None:
    assert all(Role.OPERATOR not in cells for cells in COMMANDS.values())
    assert {q for q in Query if Role.OPERATOR in QUERIES[q]} == {
        Query.DIRECTORIES,
        Query.WORKFLOWS,
        Query.PAYLOADS,
    }
    assert QUERIES[Query.WORKFLOWS][Role.OPERATOR] == "any"
    assert Role.ADMIN not in QUERIES[Query.WORKFLOWS]
    assert Role.OPERATOR not in BREAK_GLASS_ROLES
    assert set(QUERIES[Query.PAYLOADS]) == {Role.OPERATOR, Role.ADMIN}
    with pytest.raises(AccessDenied, match="operators run the servers"):
        query_relation(ACTORS[Role.OPERATOR], Query.CASE_DETAILS)


@pytest.mark.parametrize("kind", [ApprovalKind.PLAN, ApprovalKind.CLOSURE])
def test_no_approving_what_one_wrote_or_requested(kind: ApprovalKind) -> None:
    carol = ACTORS[Role.SUPERVISOR]
    state = opened("north", Actor(staff_id="frank", role=Role.CASEWORKER, team="north"))
    if kind is ApprovalKind.PLAN:
        state = apply(state, carol, rules.decide_consent(state, inputs.consent(actor=carol)))
        cmd = inputs.assessment(actor=carol)
        state = apply(
            state, carol, rules.decide_assessment(state, cmd, score(cmd.assessment.domains))
        )
        state = apply(state, carol, rules.decide_draft_plan(state, inputs.plan(actor=carol)))
        state = apply(state, carol, rules.decide_submit_plan(state, c.SubmitPlan(actor=carol)))
    else:
        ask = c.RequestClosure(actor=carol, reason=ClosureReason.GOALS_MET)
        state = apply(state, carol, rules.decide_request_closure(state, ask))
    with pytest.raises(rules.CommandRejected, match=r"carol .*may not"):
        rules.decide_approval(state, c.DecideApproval(actor=carol, kind=kind, approve=True))
    dan = Actor(staff_id="dan", role=Role.SUPERVISOR, team="north")
    assert rules.decide_approval(state, c.DecideApproval(actor=dan, kind=kind, approve=True))


# --- the queries ------------------------------------------------------------------------------


def query_cells() -> list[Any]:
    return [
        pytest.param(query, role, position, id=f"{query.value}-{role.value}-{position.value}")
        for query in Query
        for role in Role
        for position in positions(role)
    ]


@pytest.mark.parametrize(("query", "role", "position"), query_cells())
def test_query_cell(query: Query, role: Role, position: Position) -> None:
    actor = actor_at(role, position)
    s = subject(actor, position)
    relation = QUERIES[query].get(role)
    if relation is None:
        with pytest.raises(AccessDenied):
            query_relation(actor, query)
        if query in CASE_DATA_QUERIES:
            with pytest.raises(AccessDenied):
                case_scope(actor, query)
            with pytest.raises(AccessDenied):
                decide_read(actor, query, "c-1", team=s.team, worker=s.worker.staff_id)
            with pytest.raises(AccessDenied):  # no emergency access either
                decide_read(
                    actor, query, "c-1", team=s.team, worker=s.worker.staff_id, break_glass="x"
                )
        return
    assert query_relation(actor, query) == relation
    if query not in CASE_DATA_QUERIES:
        return
    # Reads see the case by its worker (own caseload), its team, or everything.
    visible = relation == "any" or (
        actor.staff_id == s.worker.staff_id if relation == "assigned" else actor.team == s.team
    )
    assert case_scope(actor, query).admits(s.team, s.worker.staff_id) is visible
    kwargs: dict[str, Any] = {"team": s.team, "worker": s.worker.staff_id}
    if visible:
        assert decide_read(actor, query, "c-1", **kwargs).grant is Grant.IN_SCOPE
        granted = decide_read(actor, query, "c-1", **kwargs, break_glass="checking")
        assert granted.grant is Grant.IN_SCOPE and granted.reason == "checking"
        return
    with pytest.raises(CaseNotVisible):
        decide_read(actor, query, "c-1", **kwargs, reason="curious")
    if role in BREAK_GLASS_ROLES:
        granted = decide_read(actor, query, "c-1", **kwargs, break_glass="client at risk")
        assert granted.grant is Grant.BREAK_GLASS and granted.reason == "client at risk"
        with pytest.raises(BreakGlassRefused):
            decide_read(actor, query, "c-1", **kwargs, break_glass="   ")
        with pytest.raises(CaseNotVisible):  # no such case: the same answer as not visible
            decide_read(actor, query, "c-1", team=None, worker=None, break_glass="at risk")
    else:
        with pytest.raises(BreakGlassRefused):
            decide_read(actor, query, "c-1", **kwargs, break_glass="client at risk")


@pytest.mark.parametrize("role", list(Role))
async def test_the_sql_scope_is_the_python_scope(role: Role, pool: asyncpg.Pool) -> None:
    actor = ACTORS[role]
    where = [p for p in (Position.OWN, Position.TEAM, Position.OTHER) if actor.team or p != "own"]
    cases = [
        (position.value, s.team, s.worker.staff_id)
        for position in where
        for s in [subject(actor, position)]
    ]
    try:
        scope = case_scope(actor)
    except AccessDenied:
        assert role in (Role.ADMIN, Role.OPERATOR, Role.PROVIDER)
        return
    args: list[object] = []
    predicate = scope.sql("cs", args)
    values = ", ".join(
        f"(${len(args) + 3 * i + 1}::text, ${len(args) + 3 * i + 2}::text, "
        f"${len(args) + 3 * i + 3}::text)"
        for i in range(len(cases))
    )
    rows = await pool.fetch(
        f"SELECT cs.case_id FROM (VALUES {values}) AS cs(case_id, team, worker) WHERE {predicate}",
        *args,
        *[v for case in cases for v in case],
    )
    assert {r["case_id"] for r in rows} == {
        case_id for case_id, team, worker in cases if scope.admits(team, worker)
    }


def test_providers_answer_their_referrals_and_see_no_case() -> None:
    """A provider is in one command row (its own referrals) and one query row, and its
    case scope is nothing: pinned by hand, so the walk above cannot pass vacuously."""
    pia = ACTORS[Role.PROVIDER]
    assert {a for a, cells in COMMANDS.items() if Role.PROVIDER in cells} == {Action.PROVIDER_REPLY}
    assert {q for q in Query if Role.PROVIDER in QUERIES[q]} == {
        Query.DIRECTORIES,
        Query.PROVIDER_REFERRALS,
    }
    s = Subject("north", Actor(staff_id="frank", role=Role.CASEWORKER, team="north"))
    reply = c.ReferralReply(actor=pia, referral_id="referral-1", outcome="accepted")
    assert rules.decide_referral_reply(referred(s), reply)
    other = reply.model_copy(update={"actor": OTHER_PROVIDER})
    with pytest.raises(rules.CommandRejected, match=r"otis .*is not the provider"):
        rules.decide_referral_reply(referred(s), other)
    missing = reply.model_copy(update={"referral_id": "referral-9"})
    with pytest.raises(rules.CommandRejected, match=r"pia .*is not the provider"):
        rules.decide_referral_reply(referred(s), missing)  # no such referral: not theirs
    with pytest.raises(AccessDenied, match="providers see only the referrals sent to them"):
        query_relation(pia, Query.CASE_DETAILS)
    assert case_scope(pia, Query.PROVIDER_REFERRALS).sql("cs", []) == "FALSE"
    with pytest.raises(ValueError, match="provider_id"):
        Actor(staff_id="pia", role=Role.PROVIDER)
    with pytest.raises(ValueError, match="provider_id"):
        Actor(staff_id="alice", role=Role.CASEWORKER, team="north", provider_id="shelter-1")
    # Other actors serialise as before (workflow histories stay byte-identical).
    assert "provider_id" not in ACTORS[Role.CASEWORKER].model_dump_json()
    assert '"provider_id":"shelter-1"' in pia.model_dump_json()


# --- the document -------------------------------------------------------------------------------


def test_the_docs_show_the_table_the_module_renders() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert render_markdown() in text, (
        "docs/security.md is out of date: paste cases.access.render_markdown() into "
        "'Roles and permissions'"
    )
