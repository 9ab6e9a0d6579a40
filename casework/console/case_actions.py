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
from datetime import date, datetime

from cases.access import Action, approval_refusal_on, judged_location, may
from cases.actors import Actor
from cases.command_table import BY_UPDATE
from cases.features.referral_withdrawal import WITHDRAWABLE
from cases.state import CaseState, PlanAction, PlanStatus, Referral
from casework import i18n
from casework.console.circle_forms import circle_forms, plan_participant_inputs
from casework.console.forms import CHOOSE, ActionForm, Choice, Input, words
from casework.console.forms import enum_choices as _choices
from casework.i18n import N_, _
from directory import ResourceDirectory
from events.vocabulary import (
    ActionOwner,
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

YES_NO = (Choice("", CHOOSE), Choice("true", N_("yes")), Choice("false", N_("no")))
"""A yes/no select's choices, as marked strings (`translated` gives them per request)."""
RATING_WORDS = (N_("no concern"), N_("low"), N_("moderate"), N_("high"), N_("severe / immediate"))
FEEDBACK_WORDS = (N_("poor"), N_("fair"), N_("good"), N_("very good"), N_("excellent"))
FORM_WORDS = (
    N_("provider"), N_("worker"), N_("short"), N_("long"), N_("logistical"), N_("wellbeing"),
    N_("partly met"), N_("revise plan"), N_("continue"), N_("close"),
)  # fmt: skip
"""The words of the values of the forms' enumerations defined outside the vocabulary's
modules the catalog reads (events/vocabulary/*: who owns an action, a goal's term and
kind, an evaluation's outcome and next step), for `words` to find them translated."""


def translated(choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
    """Choices whose labels are marked strings, in the current language."""
    return tuple(Choice(c.value, i18n.raw_gettext(c.label)) for c in choices)


def _ratings() -> tuple[Choice, ...]:
    return (
        Choice("", _("not assessed")),
        *tuple(Choice(str(n), f"{n} — {_(w)}") for n, w in enumerate(RATING_WORDS)),
    )


def _pick(*choices: Choice) -> tuple[Choice, ...]:
    """A select's choices after the blank "— choose —"."""
    return (Choice("", _(CHOOSE)), *choices)


def _as_written(value: object) -> str:
    """A value as English has always shown it (raw), as words in other languages."""
    if i18n.current() == i18n.DEFAULT:
        return str(getattr(value, "value", value))
    return words(str(getattr(value, "value", value)))


def _goal_rows(state: CaseState) -> tuple[Input, ...]:
    draft = state.draft_plan if state.draft_plan is not None else state.active_plan
    rows = max(GOAL_ROWS, (len(draft.goals) + 1) if draft else 0)
    out: list[Input] = []
    for n in range(rows):
        goal = draft.goals[n] if draft and n < len(draft.goals) else None
        group = _("Goal %(n)s", n=n + 1)
        p = f"plan.goals.{n}"
        out += [
            Input(f"{p}.goal_id", _("Goal id"), "hidden", default=goal.goal_id if goal else f"goal-{n + 1}", group=group),  # noqa: E501
            Input(f"{p}.client_words", _("In the client's own words"), "text", group=group,
                  default=goal.client_words if goal else ""),
            Input(f"{p}.objective", _("Measurable objective"), "text", group=group,
                  default=goal.objective if goal else ""),
            Input(f"{p}.domain", _("Domain"), "select", _choices(Domain), group=group,
                  default=goal.domain.value if goal else ""),
            Input(f"{p}.term", _("Term"), "select", _choices(GoalTerm), group=group,
                  default=goal.term.value if goal else ""),
            Input(f"{p}.kind", _("Kind"), "select", _choices(GoalKind), group=group,
                  default=goal.kind.value if goal else ""),
            Input(f"{p}.target_date", _("Target date"), "date", group=group,
                  default=goal.target_date.isoformat() if goal else ""),
            Input(f"{p}.interventions", _("Interventions (one a line)"), "lines", group=group,
                  default="\n".join(goal.interventions) if goal else ""),
            Input(f"{p}.strategies", _("Strategies (one a line)"), "lines", group=group,
                  default="\n".join(goal.strategies) if goal else ""),
        ]  # fmt: skip
    return tuple(out)


def _active_goals(state: CaseState) -> tuple[Choice, ...]:
    if state.active_plan is None:
        return ()
    return tuple(Choice(g.goal_id, f"{g.goal_id}: {g.objective}") for g in state.active_plan.goals)


def _day(value: date | datetime) -> str:
    """A calendar day as the page's language writes it (ISO in English)."""
    return i18n.format_day(value.date() if isinstance(value, datetime) else value)


def _referral_choice(referral: Referral) -> Choice:
    return Choice(
        referral.referral_id,
        _("%(referral)s to %(provider)s (%(status)s)", referral=referral.referral_id,
          provider=referral.provider_id, status=words(referral.status)),
    )  # fmt: skip


def _owner_words(owner: ActionOwner) -> str:
    """Who owns an action, in a few words (`ActionOwner.label`, in the page's language)."""
    if i18n.current() == i18n.DEFAULT:
        return owner.label()
    if owner.kind is ActionOwnerKind.WORKER:
        return _("worker %(staff)s", staff=owner.staff_id)
    if owner.kind is ActionOwnerKind.PROVIDER:
        return _("provider %(provider)s", provider=owner.provider_id)
    return words(owner.kind)


def _action_words(action: PlanAction) -> dict[str, str]:
    return {
        "action": action.action_id,
        "goal": action.goal_id,
        "description": action.description,
        "owner": _owner_words(action.owner),
        "day": _day(action.due_at),
    }


def _providers(resources: ResourceDirectory) -> tuple[tuple[Choice, ...], tuple[Choice, ...]]:
    providers = [p for p in resources.providers.values() if p.active]
    return (
        _pick(
            *tuple(Choice(p.provider_id, p.name) for p in sorted(providers, key=lambda p: p.name))
        ),
        _pick(
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
                ActionForm("reopen", _("Reopen the case"), _("Reopen"),
                           (Input("reason", _("Why reopen it"), "text"),))
            )  # fmt: skip
        return forms
    draft = state.draft_plan
    if allowed("record_consent"):
        forms.append(
            ActionForm(
                "record_consent", _("Record consent"), _("Record consent"),
                (
                    Input("shared_fields", _("What the client agrees to share"), "checkboxes",
                          _choices(SharedField, None),
                          default=tuple(f.value for f in state.consent.shared_fields)),
                    Input("providers", _("With which providers (provider ids, one a line)"),
                          "lines", default="\n".join(state.consent.providers)),
                    Input("preferences", _("Confidentiality preferences"), "textarea",
                          optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_client_language"):
        client = state.client
        forms.append(
            ActionForm(
                "record_client_language", _("Record the client's language"),
                _("Record the language"),
                (
                    Input("preferred_language", _("Preferred language"), "text", optional=True,
                          hint=_("A language tag: es, pt-BR, ar. Leave it empty if not known."),
                          default=client.preferred_language or ""),
                    Input("interpreter_needed", _("Needs an interpreter"), "select",
                          translated(YES_NO),
                          default="true" if client.interpreter_needed else "false"),
                ),
            )
        )  # fmt: skip
    if allowed("record_assessment"):
        domain_inputs: list[Input] = []
        ratings = _ratings()
        domains_group = _("Domains (0 no concern … 4 severe)")
        for d in Domain:
            label = words(d).capitalize()
            domain_inputs += [
                Input(f"assessment.domains.{d.value}.rating",
                      _("%(domain)s: rating", domain=label), "select",
                      ratings, group=domains_group),
                Input(f"assessment.domains.{d.value}.notes",
                      _("%(domain)s: notes", domain=label), "text",
                      optional=True, group=domains_group),
            ]  # fmt: skip
        forms.append(
            ActionForm(
                "record_assessment",
                _("Reassess") if state.assessments else _("Record an assessment"),
                _("Record assessment"),
                (
                    *domain_inputs,
                    Input("assessment.strengths", _("Strengths (one a line)"), "lines"),
                    Input("assessment.resources", _("Resources (one a line)"), "lines"),
                    Input("assessment.barriers", _("Barriers (one a line)"), "lines"),
                    Input("assessment.client_priorities",
                          _("The client's own priorities (one a line)"), "lines"),
                ),
                intro=_("Rate the domains you assessed; leave the others as not assessed."),
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
                _("Revise the plan") if draft or state.active_plan else _("Draft the plan"),
                _("Save the draft"),
                (
                    *_goal_rows(state),
                    Input("plan.crisis_plan", _("Crisis plan"), "textarea", optional=True,
                          group=_("With the client")),
                    Input("plan.participation.participated",
                          _("The client took part in writing it"), "select", translated(YES_NO),
                          group=_("With the client")),
                    Input("plan.participation.agreed", _("The client agrees to it"), "select",
                          translated(YES_NO), group=_("With the client")),
                    Input("plan.participation.client_comment", _("The client's comment"),
                          "textarea", optional=True, group=_("With the client")),
                    *plan_participant_inputs(state),
                ),
                intro=_("Write each goal in the client's own words beside its measurable "
                        "objective. Leave spare goal rows empty."),
            )
        )  # fmt: skip
    if allowed("submit_plan") and draft is not None and draft.status is PlanStatus.DRAFT:
        forms.append(
            ActionForm("submit_plan",
                       _("Submit plan v%(version)s for approval", version=draft.plan_version),
                       _("Submit for approval"),
                       (Input("note", _("Note for the supervisor"), "textarea", optional=True),))
        )  # fmt: skip
    for pending in state.approvals.values():
        if allowed("decide_approval") and approval_refusal_on(actor, state, pending) is None:
            title = (
                _("Approve or return the plan v%(version)s", version=pending.plan_version)
                if pending.plan_version
                else _("Approve or return the closure (%(reason)s)",
                       reason=_as_written(pending.closure_reason))
            )  # fmt: skip
            forms.append(
                ActionForm(
                    "decide_approval", title, _("Send the decision"),
                    (
                        Input("kind", _("What"), "hidden", default=pending.kind.value),
                        Input("approve", _("Decision"), "select",
                              _pick(Choice("true", _("approve")), Choice("false", _("return")))),
                        Input("reasons", _("Reasons for returning it (one a line)"), "lines"),
                        Input("note", _("Note"), "textarea", optional=True),
                    ),
                )
            )  # fmt: skip
    if allowed("refer") and state.active_plan is not None:
        providers, services = _providers(resources)
        forms.append(
            ActionForm(
                "refer", _("Refer to a provider"), _("Refer"),
                (
                    Input("provider_id", _("Provider"), "select", providers),
                    Input("service_id", _("Service"), "select", services),
                    Input("goal_id", _("For goal"), "select", _pick(*_active_goals(state))),
                    Input("shared_fields", _("Share (within the client's consent)"),
                          "checkboxes", _choices(SharedField, None)),
                    Input("note", _("Note to the provider"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    waiting = [r for r in state.referrals.values() if r.status.value in ("made", "dispatched",
               "dispatch_failed", "accepted")]  # fmt: skip
    if allowed("referral_reply") and waiting:
        forms.append(
            ActionForm(
                "referral_reply", _("Record a provider's reply"), _("Record the reply"),
                (
                    Input("referral_id", _("Referral"), "select",
                          _pick(*(_referral_choice(r) for r in waiting))),
                    Input("outcome", _("Reply"), "select",
                          _pick(Choice("accepted", words("accepted")),
                                Choice("declined", words("declined")),
                                Choice("completed", words("completed")))),
                    Input("reason", _("Reason (for a decline)"), "text", optional=True),
                    Input("note", _("Note"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    withdrawable = [r for r in state.referrals.values() if r.status in WITHDRAWABLE]
    if allowed("withdraw_referral") and withdrawable:
        forms.append(
            ActionForm(
                "withdraw_referral", _("Withdraw a referral"), _("Withdraw it"),
                (
                    Input("referral_id", _("Referral"), "select",
                          _pick(*(_referral_choice(r) for r in withdrawable))),
                    Input("reason", _("Why (the provider is told it is withdrawn, not why)"),
                          "text"),
                ),
            )
        )  # fmt: skip
    readable = [d for d in state.documents.values() if d.readable]
    if allowed("withdraw_document") and readable:
        forms.append(
            ActionForm(
                "withdraw_document", _("Withdraw a document"), _("Withdraw it"),
                (
                    Input("document_id", _("Document"), "select",
                          _pick(*(Choice(d.document_id, _(
                              "%(title)s (%(kind)s, added %(day)s)", title=d.title,
                              kind=words(d.kind), day=_day(d.added_at))) for d in readable))),
                    Input("reason", _("Why (its bytes are deleted; the record stays)"), "text"),
                ),
            )
        )  # fmt: skip
    if allowed("log_contact"):
        forms.append(
            ActionForm(
                "log_contact", _("Log a contact"), _("Log the contact"),
                (
                    Input("kind", _("Kind"), "select", _choices(ContactKind)),
                    Input("contact_date", _("Date"), "date"),
                    Input("duration_minutes", _("Minutes"), "number", optional=True),
                    Input("notes", _("Notes"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    goals = _active_goals(state)
    if allowed("record_progress") and goals:
        forms.append(
            ActionForm(
                "record_progress", _("Record progress on a goal"), _("Record progress"),
                (
                    Input("goal_id", _("Goal"), "select", _pick(*goals)),
                    Input("status", _("Status"), "select", _choices(GoalStatus)),
                    Input("note", _("Note"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("evaluate") and state.active_plan is not None:
        rows: list[Input] = []
        for n, goal in enumerate(state.active_plan.goals):
            group = _("Goal %(goal)s: %(objective)s", goal=goal.goal_id, objective=goal.objective)
            rows += [
                Input(f"evaluations.{n}.goal_id", _("Goal id"), "hidden", default=goal.goal_id,
                      group=group),
                Input(f"evaluations.{n}.outcome", _("Outcome"), "select",
                      _choices(GoalOutcome), group=group),
                Input(f"evaluations.{n}.reason", _("Why"), "text", group=group),
            ]  # fmt: skip
        forms.append(
            ActionForm(
                "evaluate", _("Evaluate the goals"), _("Record the evaluation"),
                (*rows, Input("next_step", _("Next step"), "select", _choices(NextStep))),
                intro=_("Evaluate the goals you reviewed; leave the others blank."),
            )
        )  # fmt: skip
    if allowed("hold") and state.hold is None:
        forms.append(
            ActionForm("hold", _("Put the case on hold"), _("Hold"),
                       (Input("reason", _("Why"), "text"), Input("until", _("Until"), "date")))
        )  # fmt: skip
    if allowed("resume") and state.hold is not None:
        forms.append(
            ActionForm(
                "resume", _("Resume the case"), _("Resume"), (Input("reason", _("Why"), "text"),)
            )
        )
    if allowed("assign"):
        forms.append(
            ActionForm("assign", _("Assign to another worker"), _("Assign"),
                       (Input("assignee", _("Staff id"), "text", staff=True),
                        Input("reason", _("Why"), "text")))
        )  # fmt: skip
    if allowed("request_transfer") and state.pending_transfer is None:
        forms.append(
            ActionForm(
                "request_transfer", _("Transfer the case"), _("Ask for the transfer"),
                (
                    Input("to_team", _("To team"), "text"),
                    Input("to_worker", _("To worker (staff id, optional)"), "text",
                          optional=True, staff=True),
                    Input("reason", _("Why"), "text"),
                ),
            )
        )  # fmt: skip
    if state.pending_transfer is not None and allowed("reply_transfer"):
        forms.append(
            ActionForm(
                "reply_transfer",
                _("Answer the transfer to %(team)s", team=state.pending_transfer.to_team),
                _("Send the answer"),
                (
                    Input("accept", _("Answer"), "select",
                          _pick(Choice("true", _("accept")), Choice("false", _("reject")))),
                    Input("reason", _("Reason (needed to reject)"), "text", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("request_closure") and not any(
        a.kind.value == "closure" for a in state.approvals.values()
    ):
        forms.append(
            ActionForm(
                "request_closure", _("Ask to close the case"), _("Ask to close"),
                (
                    Input("reason", _("Reason"), "select", _choices(ClosureReason)),
                    Input("note", _("Note"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_note"):
        forms.append(
            ActionForm("record_note", _("Write a case note"), _("Save the note"),
                       (Input("text", _("Note"), "textarea"),))
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
        providers, _services = _providers(resources)
        forms.append(
            ActionForm(
                "add_action", _("Add an action to a goal"), _("Add the action"),
                (
                    Input("goal_id", _("Goal"), "select", _pick(*goals)),
                    Input("description", _("What is to be done"), "text"),
                    Input("owner.kind", _("Who does it"), "select", _choices(ActionOwnerKind)),
                    Input("owner.name", _("Their name (a family member)"), "text",
                          optional=True),
                    Input("owner.staff_id", _("The worker (another worker)"), "text",
                          optional=True),
                    Input("owner.provider_id", _("The provider"), "select", providers,
                          optional=True),
                    Input("due_at", _("Due by"), "date",
                          hint=_("Due at the end of that day (UTC).")),
                    Input("crisis_plan", _("Part of the crisis plan"), "select",
                          translated(YES_NO), optional=True),
                ),
                intro=_("The owner's worker is reminded before the due date; an action "
                        "of the crisis plan left overdue escalates."),
            )
        )  # fmt: skip
    open_actions = tuple(
        Choice(a.action_id, (
            _("%(action)s (%(goal)s): %(description)s, %(owner)s, due %(day)s — overdue",
              **_action_words(a))
            if a.status.value == "overdue"
            else _("%(action)s (%(goal)s): %(description)s, %(owner)s, due %(day)s",
                   **_action_words(a))
        ))
        for a in state.actions.values() if a.is_open
    )  # fmt: skip
    if allowed("complete_action") and open_actions:
        forms.append(
            ActionForm(
                "complete_action", _("Mark an action done"), _("Mark it done"),
                (
                    Input("action_id", _("Action"), "select", _pick(*open_actions)),
                    Input("note", _("How it went"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("drop_action") and open_actions:
        forms.append(
            ActionForm(
                "drop_action", _("Drop an action"), _("Drop it"),
                (
                    Input("action_id", _("Action"), "select", _pick(*open_actions)),
                    Input("reason", _("Why"), "text"),
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
        Choice(a.advocacy_id, _(
            "%(advocacy)s: %(barrier)s, %(organisation)s (next step due %(day)s)",
            advocacy=a.advocacy_id, barrier=words(a.barrier), organisation=a.organisation,
            day=_day(a.next_step_date)))
        for a in state.advocacy.values() if a.is_open
    )  # fmt: skip
    if allowed("open_advocacy"):
        forms.append(
            ActionForm(
                "open_advocacy", _("Advocate for the client"), _("Open the advocacy"),
                (
                    Input("barrier", _("Barrier met"), "select", _choices(AdvocacyBarrier)),
                    Input("organisation", _("Organisation"), "text"),
                    Input("action", _("What you did on the client's behalf"), "select",
                          _choices(AdvocacyAction)),
                    Input("consent_by", _("With whose consent"), "select",
                          _choices(ConsentGiver), default=ConsentGiver.CLIENT.value),
                    Input("consent_name", _("Who consented (when not the client)"), "text",
                          optional=True),
                    Input("details", _("What happened"), "textarea", optional=True),
                    Input("next_step", _("Next step"), "text"),
                    Input("next_step_date", _("Next step by"), "date"),
                ),
                intro=_("The case follows the next step up the day after its date."),
            )
        )  # fmt: skip
    if allowed("advocacy_step") and open_ones:
        forms.append(
            ActionForm(
                "advocacy_step", _("Record an advocacy step"), _("Record the step"),
                (
                    Input("advocacy_id", _("Advocacy"), "select", _pick(*open_ones)),
                    Input("action", _("What you did"), "select", _choices(AdvocacyAction)),
                    Input("note", _("What happened"), "textarea", optional=True),
                    Input("next_step", _("Next step"), "text"),
                    Input("next_step_date", _("Next step by"), "date"),
                ),
            )
        )  # fmt: skip
    if allowed("conclude_advocacy") and open_ones:
        forms.append(
            ActionForm(
                "conclude_advocacy", _("Record an advocacy's outcome"), _("Record the outcome"),
                (
                    Input("advocacy_id", _("Advocacy"), "select", _pick(*open_ones)),
                    Input("outcome", _("Outcome"), "select", _choices(AdvocacyOutcome)),
                    Input("note", _("What was decided"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_feedback"):
        providers, services = _providers(resources)
        referrals = tuple(
            Choice(
                r.referral_id,
                _(
                    "%(referral)s to %(provider)s/%(service)s",
                    referral=r.referral_id,
                    provider=r.provider_id,
                    service=r.service_id,
                ),
            )
            for r in state.referrals.values()
        )
        forms.append(
            ActionForm(
                "record_feedback", _("Record the client's feedback"), _("Save the feedback"),
                (
                    Input("subject", _("About"), "select", _choices(FeedbackSubject)),
                    Input("referral_id", _("Referral (feedback on a referral)"), "select",
                          (Choice("", "—"), *referrals), optional=True),
                    Input("provider_id", _("Provider (feedback on a service)"), "select",
                          providers, optional=True),
                    Input("service_id", _("Service (feedback on a service)"), "select",
                          services, optional=True),
                    Input("rating", _("Rating"), "select",
                          _pick(*(Choice(str(n), f"{n} — {_(w)}")
                                  for n, w in enumerate(FEEDBACK_WORDS, start=1)))),
                    Input("words", _("In the client's own words"), "textarea", optional=True),
                    Input("agrees_with_plan", _("Agrees with the plan (feedback on the plan)"),
                          "select", translated(YES_NO), optional=True),
                ),
            )
        )  # fmt: skip
    return forms
