"""Which actions a staff member may take on a case, each as a form.

The one access table (cases/access.py) decides who may, by the command table's `action`
of each form's command (cases/command_table.py; a form is named by its command's update),
and the one approval rule (`approval_refusal_on`: never one's own request or plan); the
case's state decides what makes sense now (a plan to submit, an approval waiting,
referrals awaiting a reply). The rules still decide in the end (cases/decide.py): a
form shown is an offer, the command sent is checked again by the case's workflow.
"""

from __future__ import annotations

from collections.abc import Callable

from cases.access import Action, approval_refusal_on, judged_location, may
from cases.actors import Actor
from cases.command_table import BY_UPDATE
from cases.features.referral_withdrawal import WITHDRAWABLE
from cases.state import CaseState, PlanStatus
from casework.console.circle_forms import circle_forms, plan_participant_inputs
from casework.console.forms import ActionForm, Choice, Input
from casework.console.forms import enum_choices as _choices
from directory import ResourceDirectory
from events.vocabulary import (
    ActionOwnerKind,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    Domain,
    FeedbackSubject,
    GoalKind,
    GoalOutcome,
    GoalStatus,
    GoalTerm,
    NextStep,
    SharedField,
)

GOAL_ROWS = 3
"""Goal rows on the plan form (blank rows are left out; a revision shows every goal of
the draft and one spare row)."""

YES_NO = (Choice("", "— choose —"), Choice("true", "yes"), Choice("false", "no"))
RATINGS = (
    Choice("", "not assessed"),
    *tuple(
        Choice(str(n), f"{n} — {w}")
        for n, w in enumerate(("no concern", "low", "moderate", "high", "severe / immediate"))
    ),
)


def _goal_rows(state: CaseState) -> tuple[Input, ...]:
    draft = state.draft_plan if state.draft_plan is not None else state.active_plan
    rows = max(GOAL_ROWS, (len(draft.goals) + 1) if draft else 0)
    out: list[Input] = []
    for n in range(rows):
        goal = draft.goals[n] if draft and n < len(draft.goals) else None
        group = f"Goal {n + 1}"
        p = f"plan.goals.{n}"
        out += [
            Input(f"{p}.goal_id", "Goal id", "hidden", default=goal.goal_id if goal else f"goal-{n + 1}", group=group),  # noqa: E501
            Input(f"{p}.client_words", "In the client's own words", "text", group=group,
                  default=goal.client_words if goal else ""),
            Input(f"{p}.objective", "Measurable objective", "text", group=group,
                  default=goal.objective if goal else ""),
            Input(f"{p}.domain", "Domain", "select", _choices(Domain), group=group,
                  default=goal.domain.value if goal else ""),
            Input(f"{p}.term", "Term", "select", _choices(GoalTerm), group=group,
                  default=goal.term.value if goal else ""),
            Input(f"{p}.kind", "Kind", "select", _choices(GoalKind), group=group,
                  default=goal.kind.value if goal else ""),
            Input(f"{p}.target_date", "Target date", "date", group=group,
                  default=goal.target_date.isoformat() if goal else ""),
            Input(f"{p}.interventions", "Interventions (one a line)", "lines", group=group,
                  default="\n".join(goal.interventions) if goal else ""),
            Input(f"{p}.strategies", "Strategies (one a line)", "lines", group=group,
                  default="\n".join(goal.strategies) if goal else ""),
        ]  # fmt: skip
    return tuple(out)


def _active_goals(state: CaseState) -> tuple[Choice, ...]:
    if state.active_plan is None:
        return ()
    return tuple(Choice(g.goal_id, f"{g.goal_id}: {g.objective}") for g in state.active_plan.goals)


def _providers(resources: ResourceDirectory) -> tuple[tuple[Choice, ...], tuple[Choice, ...]]:
    providers = [p for p in resources.providers.values() if p.active]
    return (
        (
            Choice("", "— choose —"),
            *tuple(Choice(p.provider_id, p.name) for p in sorted(providers, key=lambda p: p.name)),
        ),
        (
            Choice("", "— choose —"),
            *tuple(
                Choice(s.service_id, f"{s.name} ({p.name})")
                for p in providers
                for s in p.services
                if s.active
            ),
        ),
    )


def forms_for(state: CaseState, actor: Actor, resources: ResourceDirectory) -> list[ActionForm]:
    """The forms of every action `actor` may take on the case as it stands."""

    def allowed(update: str) -> bool:
        """The access table's answer for the command table's `action` of `update`."""
        access = BY_UPDATE[update].action
        if access is Action.TRANSFER_REPLY and state.pending_transfer is None:
            return False
        team, worker = judged_location(actor, access, state)
        return may(actor, access, team=team, assigned_worker=worker)

    forms: list[ActionForm] = []
    if not state.is_open:
        if allowed("reopen"):
            forms.append(
                ActionForm("reopen", "Reopen the case", "Reopen",
                           (Input("reason", "Why reopen it", "text"),))
            )  # fmt: skip
        return forms
    draft = state.draft_plan
    if allowed("record_consent"):
        forms.append(
            ActionForm(
                "record_consent", "Record consent", "Record consent",
                (
                    Input("shared_fields", "What the client agrees to share", "checkboxes",
                          _choices(SharedField, None),
                          default=tuple(f.value for f in state.consent.shared_fields)),
                    Input("providers", "With which providers (provider ids, one a line)",
                          "lines", default="\n".join(state.consent.providers)),
                    Input("preferences", "Confidentiality preferences", "textarea",
                          optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_assessment"):
        domain_inputs: list[Input] = []
        for d in Domain:
            label = d.value.replace("_", " ").capitalize()
            domain_inputs += [
                Input(f"assessment.domains.{d.value}.rating", f"{label}: rating", "select",
                      RATINGS, group="Domains (0 no concern … 4 severe)"),
                Input(f"assessment.domains.{d.value}.notes", f"{label}: notes", "text",
                      optional=True, group="Domains (0 no concern … 4 severe)"),
            ]  # fmt: skip
        forms.append(
            ActionForm(
                "record_assessment",
                "Reassess" if state.assessments else "Record an assessment",
                "Record assessment",
                (
                    *domain_inputs,
                    Input("assessment.strengths", "Strengths (one a line)", "lines"),
                    Input("assessment.resources", "Resources (one a line)", "lines"),
                    Input("assessment.barriers", "Barriers (one a line)", "lines"),
                    Input("assessment.client_priorities",
                          "The client's own priorities (one a line)", "lines"),
                ),
                intro="Rate the domains you assessed; leave the others as not assessed.",
            )
        )  # fmt: skip
    if (
        allowed("draft_plan")
        and state.assessments
        and not (draft is not None and draft.status is PlanStatus.SUBMITTED)
    ):
        forms.append(
            ActionForm(
                "draft_plan",
                "Revise the plan" if draft or state.active_plan else "Draft the plan",
                "Save the draft",
                (
                    *_goal_rows(state),
                    Input("plan.crisis_plan", "Crisis plan", "textarea", optional=True,
                          group="With the client"),
                    Input("plan.participation.participated",
                          "The client took part in writing it", "select", YES_NO,
                          group="With the client"),
                    Input("plan.participation.agreed", "The client agrees to it", "select",
                          YES_NO, group="With the client"),
                    Input("plan.participation.client_comment", "The client's comment",
                          "textarea", optional=True, group="With the client"),
                    *plan_participant_inputs(state),
                ),
                intro="Write each goal in the client's own words beside its measurable "
                "objective. Leave spare goal rows empty.",
            )
        )  # fmt: skip
    if allowed("submit_plan") and draft is not None and draft.status is PlanStatus.DRAFT:
        forms.append(
            ActionForm("submit_plan", f"Submit plan v{draft.plan_version} for approval",
                       "Submit for approval",
                       (Input("note", "Note for the supervisor", "textarea", optional=True),))
        )  # fmt: skip
    for pending in state.approvals.values():
        if allowed("decide_approval") and approval_refusal_on(actor, state, pending) is None:
            what = (
                f"plan v{pending.plan_version}"
                if pending.plan_version
                else f"closure ({pending.closure_reason})"
            )
            forms.append(
                ActionForm(
                    "decide_approval", f"Approve or return the {what}", "Send the decision",
                    (
                        Input("kind", "What", "hidden", default=pending.kind.value),
                        Input("approve", "Decision", "select",
                              (Choice("", "— choose —"), Choice("true", "approve"),
                               Choice("false", "return")), ),
                        Input("reasons", "Reasons for returning it (one a line)", "lines"),
                        Input("note", "Note", "textarea", optional=True),
                    ),
                )
            )  # fmt: skip
    if allowed("refer") and state.active_plan is not None:
        providers, services = _providers(resources)
        forms.append(
            ActionForm(
                "refer", "Refer to a provider", "Refer",
                (
                    Input("provider_id", "Provider", "select", providers),
                    Input("service_id", "Service", "select", services),
                    Input("goal_id", "For goal", "select",
                          (Choice("", "— choose —"), *_active_goals(state))),
                    Input("shared_fields", "Share (within the client's consent)",
                          "checkboxes", _choices(SharedField, None)),
                    Input("note", "Note to the provider", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    waiting = [r for r in state.referrals.values() if r.status.value in ("made", "dispatched",
               "dispatch_failed", "accepted")]  # fmt: skip
    if allowed("referral_reply") and waiting:
        forms.append(
            ActionForm(
                "referral_reply", "Record a provider's reply", "Record the reply",
                (
                    Input("referral_id", "Referral", "select",
                          (Choice("", "— choose —"),
                           *(Choice(r.referral_id, f"{r.referral_id} to {r.provider_id} "
                                    f"({r.status.value.replace('_', ' ')})") for r in waiting))),
                    Input("outcome", "Reply", "select",
                          (Choice("", "— choose —"), Choice("accepted", "accepted"),
                           Choice("declined", "declined"), Choice("completed", "completed"))),
                    Input("reason", "Reason (for a decline)", "text", optional=True),
                    Input("note", "Note", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    withdrawable = [r for r in state.referrals.values() if r.status in WITHDRAWABLE]
    if allowed("withdraw_referral") and withdrawable:
        forms.append(
            ActionForm(
                "withdraw_referral", "Withdraw a referral", "Withdraw it",
                (
                    Input("referral_id", "Referral", "select",
                          (Choice("", "— choose —"),
                           *(Choice(r.referral_id, f"{r.referral_id} to {r.provider_id} "
                                    f"({r.status.value.replace('_', ' ')})")
                             for r in withdrawable))),
                    Input("reason", "Why (the provider is told it is withdrawn, not why)",
                          "text"),
                ),
            )
        )  # fmt: skip
    readable = [d for d in state.documents.values() if d.readable]
    if allowed("withdraw_document") and readable:
        forms.append(
            ActionForm(
                "withdraw_document", "Withdraw a document", "Withdraw it",
                (
                    Input("document_id", "Document", "select",
                          (Choice("", "— choose —"),
                           *(Choice(d.document_id, f"{d.title} ({d.kind.value.replace('_', ' ')}, "
                                    f"added {d.added_at:%Y-%m-%d})") for d in readable))),
                    Input("reason", "Why (its bytes are deleted; the record stays)", "text"),
                ),
            )
        )  # fmt: skip
    if allowed("log_contact"):
        forms.append(
            ActionForm(
                "log_contact", "Log a contact", "Log the contact",
                (
                    Input("kind", "Kind", "select", _choices(ContactKind)),
                    Input("contact_date", "Date", "date"),
                    Input("duration_minutes", "Minutes", "number", optional=True),
                    Input("notes", "Notes", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    goals = _active_goals(state)
    if allowed("record_progress") and goals:
        forms.append(
            ActionForm(
                "record_progress", "Record progress on a goal", "Record progress",
                (
                    Input("goal_id", "Goal", "select", (Choice("", "— choose —"), *goals)),
                    Input("status", "Status", "select", _choices(GoalStatus)),
                    Input("note", "Note", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("evaluate") and state.active_plan is not None:
        rows: list[Input] = []
        for n, goal in enumerate(state.active_plan.goals):
            group = f"Goal {goal.goal_id}: {goal.objective}"
            rows += [
                Input(f"evaluations.{n}.goal_id", "Goal id", "hidden", default=goal.goal_id,
                      group=group),
                Input(f"evaluations.{n}.outcome", "Outcome", "select", _choices(GoalOutcome),
                      group=group),
                Input(f"evaluations.{n}.reason", "Why", "text", group=group),
            ]  # fmt: skip
        forms.append(
            ActionForm(
                "evaluate", "Evaluate the goals", "Record the evaluation",
                (*rows, Input("next_step", "Next step", "select", _choices(NextStep))),
                intro="Evaluate the goals you reviewed; leave the others blank.",
            )
        )  # fmt: skip
    if allowed("hold") and state.hold is None:
        forms.append(
            ActionForm("hold", "Put the case on hold", "Hold",
                       (Input("reason", "Why", "text"), Input("until", "Until", "date")))
        )  # fmt: skip
    if allowed("resume") and state.hold is not None:
        forms.append(
            ActionForm("resume", "Resume the case", "Resume", (Input("reason", "Why", "text"),))
        )
    if allowed("assign"):
        forms.append(
            ActionForm("assign", "Assign to another worker", "Assign",
                       (Input("assignee", "Staff id", "text", staff=True),
                        Input("reason", "Why", "text")))
        )  # fmt: skip
    if allowed("request_transfer") and state.pending_transfer is None:
        forms.append(
            ActionForm(
                "request_transfer", "Transfer the case", "Ask for the transfer",
                (
                    Input("to_team", "To team", "text"),
                    Input("to_worker", "To worker (staff id, optional)", "text",
                          optional=True, staff=True),
                    Input("reason", "Why", "text"),
                ),
            )
        )  # fmt: skip
    if state.pending_transfer is not None and allowed("reply_transfer"):
        forms.append(
            ActionForm(
                "reply_transfer", f"Answer the transfer to {state.pending_transfer.to_team}",
                "Send the answer",
                (
                    Input("accept", "Answer", "select",
                          (Choice("", "— choose —"), Choice("true", "accept"),
                           Choice("false", "reject"))),
                    Input("reason", "Reason (needed to reject)", "text", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("request_closure") and not any(
        a.kind.value == "closure" for a in state.approvals.values()
    ):
        forms.append(
            ActionForm(
                "request_closure", "Ask to close the case", "Ask to close",
                (
                    Input("reason", "Reason", "select", _choices(ClosureReason)),
                    Input("note", "Note", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_note"):
        forms.append(
            ActionForm("record_note", "Write a case note", "Save the note",
                       (Input("text", "Note", "textarea"),))
        )  # fmt: skip
    forms += _plan_action_forms(state, resources, allowed)
    forms += _advocacy_and_feedback_forms(state, resources, allowed)
    forms += circle_forms(state, allowed)
    return forms


def _plan_action_forms(
    state: CaseState, resources: ResourceDirectory, allowed: Callable[[str], bool]
) -> list[ActionForm]:
    """A plan's actions: add one to a goal, mark one done, drop one (issue 16)."""
    forms: list[ActionForm] = []
    goals = _active_goals(state)
    if allowed("add_action") and goals:
        providers, _ = _providers(resources)
        forms.append(
            ActionForm(
                "add_action", "Add an action to a goal", "Add the action",
                (
                    Input("goal_id", "Goal", "select", (Choice("", "— choose —"), *goals)),
                    Input("description", "What is to be done", "text"),
                    Input("owner.kind", "Who does it", "select", _choices(ActionOwnerKind)),
                    Input("owner.name", "Their name (a family member)", "text", optional=True),
                    Input("owner.staff_id", "The worker (another worker)", "text",
                          optional=True),
                    Input("owner.provider_id", "The provider", "select", providers,
                          optional=True),
                    Input("due_at", "Due by", "date", hint="Due at the end of that day (UTC)."),
                    Input("crisis_plan", "Part of the crisis plan", "select", YES_NO,
                          optional=True),
                ),
                intro="The owner's worker is reminded before the due date; an action "
                "of the crisis plan left overdue escalates.",
            )
        )  # fmt: skip
    open_actions = tuple(
        Choice(a.action_id, f"{a.action_id} ({a.goal_id}): {a.description}, "
               f"{a.owner.label()}, due {a.due_at:%Y-%m-%d}"
               + (" — overdue" if a.status.value == "overdue" else ""))
        for a in state.actions.values() if a.is_open
    )  # fmt: skip
    if allowed("complete_action") and open_actions:
        forms.append(
            ActionForm(
                "complete_action", "Mark an action done", "Mark it done",
                (
                    Input("action_id", "Action", "select",
                          (Choice("", "— choose —"), *open_actions)),
                    Input("note", "How it went", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("drop_action") and open_actions:
        forms.append(
            ActionForm(
                "drop_action", "Drop an action", "Drop it",
                (
                    Input("action_id", "Action", "select",
                          (Choice("", "— choose —"), *open_actions)),
                    Input("reason", "Why", "text"),
                ),
            )
        )  # fmt: skip
    return forms


def _advocacy_and_feedback_forms(
    state: CaseState, resources: ResourceDirectory, allowed: Callable[[str], bool]
) -> list[ActionForm]:
    """Advocacy on the client's behalf and the client's feedback (issue 16)."""
    forms: list[ActionForm] = []
    open_ones = tuple(
        Choice(a.advocacy_id, f"{a.advocacy_id}: {a.barrier.value.replace('_', ' ')}, "
               f"{a.organisation} (next step due {a.next_step_date})")
        for a in state.advocacy.values() if a.is_open
    )  # fmt: skip
    if allowed("open_advocacy"):
        forms.append(
            ActionForm(
                "open_advocacy", "Advocate for the client", "Open the advocacy",
                (
                    Input("barrier", "Barrier met", "select", _choices(AdvocacyBarrier)),
                    Input("organisation", "Organisation", "text"),
                    Input("action", "What you did on the client's behalf", "select",
                          _choices(AdvocacyAction)),
                    Input("consent_by", "With whose consent", "select",
                          _choices(ConsentGiver), default=ConsentGiver.CLIENT.value),
                    Input("consent_name", "Who consented (when not the client)", "text",
                          optional=True),
                    Input("details", "What happened", "textarea", optional=True),
                    Input("next_step", "Next step", "text"),
                    Input("next_step_date", "Next step by", "date"),
                ),
                intro="The case follows the next step up the day after its date.",
            )
        )  # fmt: skip
    if allowed("advocacy_step") and open_ones:
        forms.append(
            ActionForm(
                "advocacy_step", "Record an advocacy step", "Record the step",
                (
                    Input("advocacy_id", "Advocacy", "select",
                          (Choice("", "— choose —"), *open_ones)),
                    Input("action", "What you did", "select", _choices(AdvocacyAction)),
                    Input("note", "What happened", "textarea", optional=True),
                    Input("next_step", "Next step", "text"),
                    Input("next_step_date", "Next step by", "date"),
                ),
            )
        )  # fmt: skip
    if allowed("conclude_advocacy") and open_ones:
        forms.append(
            ActionForm(
                "conclude_advocacy", "Record an advocacy's outcome", "Record the outcome",
                (
                    Input("advocacy_id", "Advocacy", "select",
                          (Choice("", "— choose —"), *open_ones)),
                    Input("outcome", "Outcome", "select", _choices(AdvocacyOutcome)),
                    Input("note", "What was decided", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_feedback"):
        providers, services = _providers(resources)
        referrals = tuple(
            Choice(r.referral_id, f"{r.referral_id} to {r.provider_id}/{r.service_id}")
            for r in state.referrals.values()
        )
        forms.append(
            ActionForm(
                "record_feedback", "Record the client's feedback", "Save the feedback",
                (
                    Input("subject", "About", "select", _choices(FeedbackSubject)),
                    Input("referral_id", "Referral (feedback on a referral)", "select",
                          (Choice("", "—"), *referrals), optional=True),
                    Input("provider_id", "Provider (feedback on a service)", "select",
                          providers, optional=True),
                    Input("service_id", "Service (feedback on a service)", "select",
                          services, optional=True),
                    Input("rating", "Rating", "select",
                          (Choice("", "— choose —"), *(Choice(str(n), f"{n} — {w}") for n, w in
                           enumerate(("poor", "fair", "good", "very good", "excellent"),
                                     start=1)))),
                    Input("words", "In the client's own words", "textarea", optional=True),
                    Input("agrees_with_plan", "Agrees with the plan (feedback on the plan)",
                          "select", YES_NO, optional=True),
                ),
            )
        )  # fmt: skip
    return forms
