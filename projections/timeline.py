"""Read model `timeline` (table `case_timeline`): the readable audit trail of each case.

Table created by projections/migrations/0001_read_models.sql, section "projection
timeline"; granted in 0002_role_grants.sql; its column `description_said` added by
0010_timeline_said.sql; tests/projections/test_units.py checks it exists after the
migrations.

Every case event becomes one row with its actor, role, time and a one-line
description. Descriptions are built from codes, ids and counts only: never client
names or personal details, and never free text (notes, reasons, reports), which may
contain them; the full event stays in the log for those allowed to read it. Each line
is a message (cases/said.py): `description` keeps it in English, `description_said`
as its msgid and values, which the case page says in the reader's language
(`timeline_versions`; tests/projections/test_timeline_said.py).

Queries: `timeline` (scoped, paged after a version) and `timeline_versions` (one
page of versions, for a read of the case already allowed: the case page).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from cases.features import TIMELINE as FEATURE_LINES
from cases.said import N_, Said, Value, Word, from_json, ngettext, render, say, to_json
from events.envelope import RecordedEvent
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
    ApprovalGranted,
    ApprovalKind,
    ApprovalRequested,
    ApprovalReturned,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseConferenceRecorded,
    CaseNoteRecorded,
    CaseOnHold,
    CaseOpened,
    CaseReopened,
    CaseResumed,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberRemoved,
    CircleMemberUpdated,
    ClientForgotten,
    ConsentRecorded,
    ContactLogged,
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    GoalOutcome,
    GoalProgressRecorded,
    GoalsEvaluated,
    PlanActivated,
    PlanDrafted,
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralMade,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
    SharedWithCircleMember,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, on
from projections.scope import CaseNotVisible, case_scope

NAME = "timeline"
TABLES = ("case_timeline",)
MIGRATIONS = ("0001_read_models.sql", "0010_timeline_said.sql")
"""The migrations (projections/migrations/) that create TABLES (and add their columns)."""

E = TypeVar("E", bound=DomainEvent)

Say = Callable[[DomainEvent], Said]


# --- descriptions ------------------------------------------------------------------------
#
# Each line is a message (cases/said.py): an English msgid marked with `N_` (or
# `ngettext`), filled with codes, ids, dates and counts. `describe` renders it in English
# (what the `description` column keeps); the console renders `description_said` in the
# reader's language. Whole sentences are msgids: a part that varies is its own sentence
# or a nested message, never English glued to a translation.


def _day(moment: datetime) -> str:
    """The date part of a time as the event wrote it (in its own offset)."""
    return moment.date().isoformat()


def _minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _approval_subject(e: ApprovalRequested) -> Value:
    if e.kind is ApprovalKind.PLAN and e.plan_id:
        return say(N_("plan %(plan)s v%(version)s"), plan=e.plan_id, version=e.plan_version or 0)
    if e.kind is ApprovalKind.CLOSURE and e.closure_reason:
        return say(N_("closure (%(reason)s)"), reason=Word(e.closure_reason))
    return Word(e.kind.value)


def _outcome_count(outcome: GoalOutcome, n: int) -> Said:
    if outcome is GoalOutcome.MET:
        return ngettext("%(num)s met", "%(num)s met", n)
    if outcome is GoalOutcome.PARTLY_MET:
        return ngettext("%(num)s partly met", "%(num)s partly met", n)
    return ngettext("%(num)s not met", "%(num)s not met", n)


def _goals_evaluated(e: GoalsEvaluated) -> Said:
    outcomes = [evaluation.outcome for evaluation in e.evaluations]
    counts = tuple(
        _outcome_count(o, outcomes.count(o))
        for o in (GoalOutcome.MET, GoalOutcome.PARTLY_MET, GoalOutcome.NOT_MET)
        if o in outcomes
    )
    return say(
        N_("Goals evaluated (%(counts)s); next step: %(next_step)s"),
        counts=counts,
        next_step=Word(e.next_step),
    )


_PARTICIPATION: dict[tuple[bool, bool], str] = {
    (True, True): N_("client participated, agreed"),
    (True, False): N_("client participated, did not agree"),
    (False, True): N_("client did not participate, agreed"),
    (False, False): N_("client did not participate, did not agree"),
}


def _plan_drafted(e: PlanDrafted) -> Said:
    """Who else took part in a plan: ids only (staff and circle member ids)."""
    who = (*e.participants.staff, *e.participants.circle)
    params: dict[str, Value] = {
        "plan": e.plan_id,
        "version": e.plan_version,
        "goals": ngettext("%(num)s goal", "%(num)s goals", len(e.goals)),
        "participation": say(
            _PARTICIPATION[(bool(e.participation.participated), bool(e.participation.agreed))]
        ),
    }
    if who:
        return Said(
            N_(
                "Plan %(plan)s v%(version)s drafted with %(goals)s (%(participation)s), "
                "made with %(who)s"
            ),
            {**params, "who": who},
        )
    return Said(N_("Plan %(plan)s v%(version)s drafted with %(goals)s (%(participation)s)"), params)


def _contact(e: ContactLogged) -> Said:
    day = e.contact_date.isoformat()
    if e.duration_minutes:
        return Said(
            N_("%(kind)s contact on %(day)s (%(minutes)s min)"),
            {"kind": Word(e.kind), "day": day, "minutes": e.duration_minutes},
            capitalized=True,
        )
    return Said(
        N_("%(kind)s contact on %(day)s"), {"kind": Word(e.kind), "day": day}, capitalized=True
    )


_REVIEW_REASONS: dict[ReviewReason, str] = {
    ReviewReason.OPENED: N_("Review scheduled for %(day)s (opened)"),
    ReviewReason.ASSESSED: N_("Review scheduled for %(day)s (assessed)"),
    ReviewReason.RISK_CHANGED: N_("Review scheduled for %(day)s (risk changed)"),
    ReviewReason.REOPENED: N_("Review scheduled for %(day)s (reopened)"),
    ReviewReason.RESUMED: N_("Review scheduled for %(day)s (resumed)"),
    ReviewReason.POLICY_CHANGED: N_("Review scheduled for %(day)s (policy changed)"),
}


def _review_scheduled(e: ReviewScheduled) -> Said:
    return say(_REVIEW_REASONS[e.reason], day=_day(e.due_at))


_ESCALATION_SUBJECTS: dict[EscalationSubject, str] = {
    EscalationSubject.REVIEW: N_("review %(id)s"),
    EscalationSubject.APPROVAL: N_("approval %(id)s"),
    EscalationSubject.REFERRAL: N_("referral %(id)s"),
    EscalationSubject.ADVOCACY: N_("advocacy %(id)s"),
    EscalationSubject.ACTION: N_("action %(id)s"),
}


def _escalation_raised(e: EscalationRaised) -> Said:
    return say(
        N_(
            "Escalation %(escalation)s (%(subject)s) at level %(level)s: %(notify)s of team "
            "%(team)s notified"
        ),
        escalation=e.escalation_id,
        subject=say(_ESCALATION_SUBJECTS[e.subject], id=e.subject_id),
        level=e.level,
        notify=Word(e.notify),
        team=e.team,
    )


def _circle_consent(e: CircleConsentRecorded) -> Said:
    if not e.shared:
        return say(N_("Consent to share with %(member)s: nothing"), member=e.member_id)
    return say(
        N_("Consent to share with %(member)s: %(shared)s"),
        member=e.member_id,
        shared=tuple(Word(s) for s in e.shared),
    )


def _conference(e: CaseConferenceRecorded) -> Said:
    params: dict[str, Value] = {
        "conference": e.conference_id,
        "day": e.held_on.isoformat(),
        "staff": ngettext(
            "%(num)s staff member", "%(num)s staff members", len(e.participants.staff)
        ),
        "circle": ngettext(
            "%(num)s circle member", "%(num)s circle members", len(e.participants.circle)
        ),
        "decisions": ngettext("%(num)s decision", "%(num)s decisions", len(e.decisions)),
        "actions": ngettext("%(num)s action", "%(num)s actions", len(e.action_ids)),
    }
    if e.client_attended:
        return Said(
            N_(
                "Case conference %(conference)s held %(day)s: %(staff)s, %(circle)s, client "
                "attended; %(decisions)s, %(actions)s agreed"
            ),
            params,
        )
    return Said(
        N_(
            "Case conference %(conference)s held %(day)s: %(staff)s, %(circle)s, client "
            "absent; %(decisions)s, %(actions)s agreed"
        ),
        params,
    )


def _owner(owner: ActionOwner) -> Value:
    """The owner in a few words, as `ActionOwner.label` says it (no personal data)."""
    if owner.kind is ActionOwnerKind.WORKER:
        return say(N_("worker %(staff)s"), staff=owner.staff_id or "")
    if owner.kind is ActionOwnerKind.PROVIDER:
        return say(N_("provider %(provider)s"), provider=owner.provider_id or "")
    return Word(owner.kind.value)


_ACTION_ADDED: dict[tuple[bool, bool], str] = {
    (False, False): N_("Action %(action)s added to goal %(goal)s for %(owner)s, due %(due)s"),
    (True, False): N_(
        "Action %(action)s added to goal %(goal)s for %(owner)s, due %(due)s (crisis plan)"
    ),
    (False, True): N_(
        "Action %(action)s added to goal %(goal)s for %(owner)s, due %(due)s, agreed at "
        "%(conference)s"
    ),
    (True, True): N_(
        "Action %(action)s added to goal %(goal)s for %(owner)s, due %(due)s (crisis plan), "
        "agreed at %(conference)s"
    ),
}


def _action_added(e: ActionAdded) -> Said:
    return say(
        _ACTION_ADDED[(bool(e.crisis_plan), bool(e.conference_id))],
        action=e.action_id,
        goal=e.goal_id,
        owner=_owner(e.owner),
        due=_minute(e.due_at),
        conference=e.conference_id or "",
    )


def _line(model: type[E], render: Callable[[E], Said]) -> tuple[type[DomainEvent], Say]:
    def line(event: DomainEvent) -> Said:
        if not isinstance(event, model):
            raise TypeError(f"{type(event).__name__} is not a {model.__name__}")
        return render(event)

    return model, line


DESCRIBE: dict[type[DomainEvent], Say] = dict(
    [
        _line(
            CaseOpened,
            lambda e: say(
                N_(
                    "Case opened for client %(client)s (%(source)s), assigned to %(worker)s "
                    "in team %(team)s"
                ),
                client=e.client_ref,
                source=Word(e.referral_source),
                worker=e.assigned_worker,
                team=e.team,
            ),
        ),
        _line(
            ConsentRecorded,
            lambda e: say(
                N_("Consent recorded: %(fields)s may be shared with %(providers)s"),
                fields=ngettext("%(num)s field", "%(num)s fields", len(e.shared_fields)),
                providers=ngettext("%(num)s provider", "%(num)s providers", len(e.providers)),
            ),
        ),
        _line(
            AssessmentRecorded,
            lambda e: say(
                N_("Reassessment %(assessment)s recorded: risk %(risk)s, %(domains)s rated")
                if e.reassessment
                else N_("Assessment %(assessment)s recorded: risk %(risk)s, %(domains)s rated"),
                assessment=e.assessment_id,
                risk=Word(e.risk_level),
                domains=ngettext("%(num)s domain", "%(num)s domains", len(e.domains)),
            ),
        ),
        _line(PlanDrafted, _plan_drafted),
        _line(
            ApprovalRequested,
            lambda e: say(
                N_("Approval %(approval)s requested for %(subject)s"),
                approval=e.approval_id,
                subject=_approval_subject(e),
            ),
        ),
        _line(
            ApprovalGranted,
            lambda e: say(
                N_("Approval %(approval)s (%(kind)s) granted"),
                approval=e.approval_id,
                kind=Word(e.kind),
            ),
        ),
        _line(
            ApprovalReturned,
            lambda e: say(
                N_("Approval %(approval)s (%(kind)s) returned with %(reasons)s"),
                approval=e.approval_id,
                kind=Word(e.kind),
                reasons=ngettext("%(num)s reason", "%(num)s reasons", len(e.reasons)),
            ),
        ),
        _line(
            PlanActivated,
            lambda e: say(
                N_("Plan %(plan)s v%(version)s activated"), plan=e.plan_id, version=e.plan_version
            ),
        ),
        _line(
            ReferralMade,
            lambda e: say(
                N_(
                    "Referral %(referral)s made to provider %(provider)s (service %(service)s, "
                    "goal %(goal)s)"
                ),
                referral=e.referral_id,
                provider=e.provider_id,
                service=e.service_id,
                goal=e.goal_id,
            ),
        ),
        _line(
            ReferralDispatched,
            lambda e: say(
                N_("Referral %(referral)s sent by %(channel)s (attempt %(attempt)s)"),
                referral=e.referral_id,
                channel=Word(e.channel),
                attempt=e.attempts,
            ),
        ),
        _line(
            ReferralDispatchFailed,
            lambda e: say(
                N_("Referral %(referral)s could not be sent (attempt %(attempt)s)"),
                referral=e.referral_id,
                attempt=e.attempts,
            ),
        ),
        _line(
            ReferralAccepted,
            lambda e: say(
                N_("Referral %(referral)s accepted by the provider"), referral=e.referral_id
            ),
        ),
        _line(
            ReferralDeclined,
            lambda e: say(
                N_("Referral %(referral)s declined by the provider"), referral=e.referral_id
            ),
        ),
        _line(
            ReferralCompleted,
            lambda e: say(N_("Referral %(referral)s completed"), referral=e.referral_id),
        ),
        _line(
            ProviderReportReceived,
            lambda e: say(
                N_("Provider report received for referral %(referral)s"), referral=e.referral_id
            ),
        ),
        _line(ContactLogged, _contact),
        _line(
            GoalProgressRecorded,
            lambda e: say(
                N_("Progress on goal %(goal)s: %(status)s"), goal=e.goal_id, status=Word(e.status)
            ),
        ),
        _line(GoalsEvaluated, _goals_evaluated),
        _line(
            CaseAssigned,
            lambda e: say(
                N_("Case assigned to %(worker)s in team %(team)s"), worker=e.worker, team=e.team
            ),
        ),
        _line(
            TransferRequested,
            lambda e: (
                say(
                    N_("Transfer %(transfer)s requested to team %(team)s (worker %(worker)s)"),
                    transfer=e.transfer_id,
                    team=e.to_team,
                    worker=e.to_worker,
                )
                if e.to_worker
                else say(
                    N_("Transfer %(transfer)s requested to team %(team)s"),
                    transfer=e.transfer_id,
                    team=e.to_team,
                )
            ),
        ),
        _line(
            TransferAccepted,
            lambda e: say(
                N_("Transfer %(transfer)s accepted: case now with %(worker)s in team %(team)s"),
                transfer=e.transfer_id,
                worker=e.worker,
                team=e.team,
            ),
        ),
        _line(
            TransferRejected,
            lambda e: say(N_("Transfer %(transfer)s rejected"), transfer=e.transfer_id),
        ),
        _line(CaseClosed, lambda e: say(N_("Case closed: %(reason)s"), reason=Word(e.reason))),
        _line(CaseReopened, lambda e: say(N_("Case reopened"))),
        _line(ReviewScheduled, _review_scheduled),
        _line(
            ReviewDue,
            lambda e: say(N_("Review due: a task for %(worker)s"), worker=e.assigned_worker),
        ),
        _line(
            ReviewLapsed,
            lambda e: say(
                N_("Review due %(due)s lapsed: grace period ended %(ended)s"),
                due=_day(e.due_at),
                ended=_day(e.grace_ended_at),
            ),
        ),
        _line(EscalationRaised, _escalation_raised),
        _line(
            EscalationResolved,
            lambda e: say(N_("Escalation %(escalation)s resolved"), escalation=e.escalation_id),
        ),
        _line(CaseOnHold, lambda e: say(N_("Case on hold until %(day)s"), day=_day(e.until))),
        _line(CaseResumed, lambda e: say(N_("Case resumed"))),
        _line(
            ReferralFollowUpDue,
            lambda e: say(
                N_("Referral %(referral)s needs a follow-up: no reply since %(day)s"),
                referral=e.referral_id,
                day=_day(e.waiting_since),
            ),
        ),
        _line(
            CaseNoteRecorded,
            lambda e: say(N_("Case note %(note)s recorded"), note=e.note_id),
        ),
        _line(
            CircleMemberAdded,
            lambda e: say(
                N_("Circle of support: %(member)s added (%(role)s)"),
                member=e.member_id,
                role=Word(e.role),
            ),
        ),
        _line(
            CircleMemberUpdated,
            lambda e: say(
                N_("Circle of support: %(member)s updated (%(role)s)"),
                member=e.member_id,
                role=Word(e.role),
            ),
        ),
        _line(
            CircleMemberRemoved,
            lambda e: say(N_("Circle of support: %(member)s removed"), member=e.member_id),
        ),
        _line(CircleConsentRecorded, _circle_consent),
        _line(
            SharedWithCircleMember,
            lambda e: say(
                N_("Shared with %(member)s: %(items)s"),
                member=e.member_id,
                items=tuple(Word(s) for s in e.items),
            ),
        ),
        _line(CaseConferenceRecorded, _conference),
        _line(ActionAdded, _action_added),
        _line(
            ActionCompleted,
            lambda e: say(
                N_("Action %(action)s done (late)") if e.late else N_("Action %(action)s done"),
                action=e.action_id,
            ),
        ),
        _line(ActionDropped, lambda e: say(N_("Action %(action)s dropped"), action=e.action_id)),
        _line(
            ActionReassigned,
            lambda e: say(
                N_("Action %(action)s reassigned to %(owner)s, due %(due)s"),
                action=e.action_id,
                owner=_owner(e.owner),
                due=_minute(e.due_at),
            ),
        ),
        _line(
            ActionReminderDue,
            lambda e: say(
                N_("Action %(action)s due %(due)s: %(worker)s reminded"),
                action=e.action_id,
                due=_minute(e.due_at),
                worker=e.worker,
            ),
        ),
        _line(
            ActionOverdue,
            lambda e: say(
                N_("Action %(action)s overdue (due %(due)s)"),
                action=e.action_id,
                due=_minute(e.due_at),
            ),
        ),
        _line(
            ClientForgotten,
            lambda e: say(
                N_("Client %(client)s forgotten: personal details erased"), client=e.client_ref
            ),
        ),
    ]
)
"""One line per event type, by model (PolicyApplied is not a case event: no line)."""


def said(event: DomainEvent) -> Said:
    """The line about a decoded event, as a message to render in the reader's language
    (free of personal details); an event type with no line is said as its type."""
    line = DESCRIBE.get(type(event)) or FEATURE_LINES.get(type(event))
    if line is None:
        return Said("%(type)s", {"type": event.type})
    return line(event)


def describe(event: DomainEvent) -> str:
    """One line about a decoded event, free of personal details, in English (the read
    model's `description`)."""
    return render(said(event))


# --- handler -------------------------------------------------------------------------------


async def record(conn: asyncpg.Connection, event: DomainEvent, envelope: RecordedEvent) -> None:
    case_id = case_id_of(envelope)
    if case_id is None:
        return
    line = said(event)
    await conn.execute(
        """INSERT INTO case_timeline (case_id, stream_version, global_position, event_id,
               event_type, actor_id, actor_role, occurred_at, recorded_at, description,
               description_said)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)""",
        case_id,
        envelope.stream_version,
        envelope.global_position,
        envelope.event_id,
        envelope.event_type,
        envelope.metadata.actor_id,
        envelope.metadata.actor_role,
        envelope.occurred_at,
        envelope.recorded_at,
        render(line),
        json.dumps(to_json(line), sort_keys=True),
    )


HANDLERS = handler_map(*(on(model, record) for model in (*DESCRIBE, *FEATURE_LINES)))
"""Every event with a line: the vocabulary's here, the features' in their slices."""

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),  # PolicyApplied: the `policy` stream, not a case
)


# --- query ---------------------------------------------------------------------------------


class TimelineEntry(BaseModel):
    stream_version: int
    event_id: UUID
    event_type: str
    actor_id: str
    actor_role: str
    occurred_at: datetime
    recorded_at: datetime
    description: str


@dataclass(frozen=True)
class SaidEntry:
    """A line of the case page: the entry (its `description` in English) and the line as
    a message to say in the reader's language (cases/said.py); `said` is None for a row
    recorded before 0010_timeline_said.sql, which only knows its English."""

    entry: TimelineEntry
    said: Said | None


def _said_of(value: object) -> Said | None:
    if isinstance(value, str):
        value = json.loads(value)
    return from_json(value) if isinstance(value, dict) else None


async def timeline(
    pool: asyncpg.Pool,
    actor: Actor,
    case_id: str | UUID,
    *,
    after_version: int = 0,
    limit: int = 1000,
) -> list[TimelineEntry]:
    """The case's events in order, each with actor, role, time and a one-line description.

    Asks `case_summary` (another projection, with its own checkpoint) whether the
    actor may see the case, then reads `case_timeline` alone: safe, because only the
    scope comes from case_summary and visibility has one source for every query
    (projections/scope.py, "Joining case_summary"). A case case_summary has not yet
    projected is "not visible" until it has, for the projector's lag.
    """
    args: list[object] = [str(case_id)]
    where = case_scope(actor).sql("cs", args)
    visible = await pool.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM case_summary cs WHERE cs.case_id = $1 AND {where})", *args
    )
    if not visible:
        raise CaseNotVisible(str(case_id))
    rows = await pool.fetch(
        """SELECT stream_version, event_id, event_type, actor_id, actor_role, occurred_at,
                  recorded_at, description
             FROM case_timeline WHERE case_id = $1 AND stream_version > $2
            ORDER BY stream_version LIMIT $3""",
        str(case_id),
        after_version,
        limit,
    )
    return [TimelineEntry.model_validate(dict(r)) for r in rows]


async def timeline_versions(
    pool: asyncpg.Pool, case_id: str | UUID, *, first: int, last: int
) -> list[SaidEntry]:
    """The case's lines of stream versions `first` … `last`, the newest first: one page of
    its timeline, read through the primary key (case_id, stream_version) whatever the
    case's length.

    No scope check: only for a read of the case already allowed by the access table and
    recorded in the access log (the case page, application/case_view.py, whose access
    check locates the case by its workflow, not by `case_summary`). A version the read
    model has not (yet) recorded is simply absent: the caller fills it from the log. Each
    line comes with its message (`SaidEntry.said`) for the page to say in its language.
    """
    rows = await pool.fetch(
        """SELECT stream_version, event_id, event_type, actor_id, actor_role, occurred_at,
                  recorded_at, description, description_said
             FROM case_timeline WHERE case_id = $1 AND stream_version BETWEEN $2 AND $3
            ORDER BY stream_version DESC""",
        str(case_id),
        first,
        last,
    )
    return [
        SaidEntry(
            TimelineEntry.model_validate({k: v for k, v in r.items() if k != "description_said"}),
            _said_of(r["description_said"]),
        )
        for r in rows
    ]
