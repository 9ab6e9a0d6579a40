"""Commands: what staff ask of a case. Each carries the acting staff member.

The engine's edge (CLI, API) resolves staff ids and directory entries into the
plain values here (an `Actor`, a provider's channel), so the rules and the
workflow's validators decide without I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
)

from cases.actors import Actor
from cases.policy import Policy
from events.fields import Identifier, LongText, ShortList, ShortText
from events.vocabulary import (
    ActionOwner,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ApprovalKind,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientContact,
    ClientDetails,
    ClientParticipation,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    Domain,
    DomainRating,
    FeedbackSubject,
    Goal,
    GoalEvaluation,
    GoalStatus,
    NextStep,
    Participants,
    ReferralSource,
    SharedField,
)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Actor
    expected_version: int | None = Field(default=None, ge=0)
    """The case's version the sender saw (HTTP If-Match): refused if it moved on since.
    None: no check (the command line, the engine's own commands)."""


class IntakeReview(BaseModel):
    """The duplicate check's matches the caseworker saw before confirming a new client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: list[Identifier] = Field(default_factory=list, max_length=50)
    hidden: int = Field(default=0, ge=0)


class OpenCase(Command):
    case_id: UUID
    client_ref: Identifier
    client: ClientDetails
    referral_source: ReferralSource
    referring_agency: ShortText | None = None
    assignee: Actor
    presenting_needs: ShortList = Field(min_length=1)
    intake_review: IntakeReview | None = None
    """Set when the duplicate check found matches and a new client was confirmed: the
    opening records it (ClientMatchesReviewed)."""


class RecordConsent(Command):
    shared_fields: list[SharedField] = Field(default_factory=list)
    providers: list[Identifier] = Field(default_factory=list, max_length=100)
    preferences: LongText = ""


class AssessmentInput(BaseModel):
    """What the worker records; scoring adds needs and the risk level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: dict[Domain, DomainRating] = Field(min_length=1)
    strengths: ShortList = Field(default_factory=list)
    resources: ShortList = Field(default_factory=list)
    barriers: ShortList = Field(default_factory=list)
    client_priorities: ShortList = Field(default_factory=list)


class RecordAssessment(Command):
    assessment: AssessmentInput


class PlanInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    goals: list[Goal] = Field(min_length=1, max_length=30)
    crisis_plan: LongText = ""
    participation: ClientParticipation
    participants: Participants = Participants()
    """Who besides the client took part in making the plan: staff ids, circle member ids."""


class DraftPlan(Command):
    plan: PlanInput


class SubmitPlan(Command):
    note: LongText = ""


class DecideApproval(Command):
    kind: ApprovalKind
    approve: bool
    note: LongText = ""
    reasons: ShortList = Field(default_factory=list)


class Refer(Command):
    provider_id: Identifier
    service_id: Identifier
    goal_id: Identifier
    channel_url: HttpUrl
    shared_fields: list[SharedField] = Field(default_factory=list)
    note: LongText = ""


class ReferralReply(Command):
    referral_id: Identifier
    outcome: Literal["accepted", "declined", "completed"]
    reason: ShortText | None = None
    note: LongText = ""


class ProviderReport(Command):
    referral_id: Identifier
    report: LongText = Field(min_length=1)


class LogContact(Command):
    kind: ContactKind
    contact_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    duration_minutes: int = Field(default=0, ge=0, le=24 * 60)
    notes: LongText = ""


class RecordProgress(Command):
    goal_id: Identifier
    status: GoalStatus
    note: LongText = ""


class Evaluate(Command):
    evaluations: list[GoalEvaluation] = Field(min_length=1, max_length=30)
    next_step: NextStep


class Assign(Command):
    assignee: Actor
    reason: ShortText


class RequestTransfer(Command):
    to_team: Identifier
    to_worker: Actor | None = None
    reason: ShortText


class ReplyTransfer(Command):
    accept: bool
    reason: ShortText | None = None


class RequestClosure(Command):
    reason: ClosureReason
    note: LongText = ""


class Reopen(Command):
    reason: ShortText


class HoldCase(Command):
    """Pause the review clock (the client is in hospital, for example) until a date."""

    reason: ShortText
    until: AwareDatetime


class ResumeCase(Command):
    reason: ShortText


class RecordNote(Command):
    """A free-text note on the case, by anyone of its team."""

    text: Annotated[LongText, StringConstraints(min_length=1)]


class ForgetClient(Command):
    """Record that the client's personal data was erased (their data key destroyed)."""

    reason: ShortText


class ApplyPolicy(Command):
    policy: Policy


# --- advocacy and the client's feedback (issue 16) ------------------------------------------


class OpenAdvocacy(Command):
    """Take up a barrier with an organisation on the client's behalf, with consent."""

    barrier: AdvocacyBarrier
    organisation: ShortText
    action: AdvocacyAction
    consent_by: ConsentGiver
    consent_name: ShortText | None = None
    """Who consented, when not the client (required then)."""
    details: LongText = ""
    next_step: ShortText
    next_step_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))


class RecordAdvocacyStep(Command):
    advocacy_id: Identifier
    action: AdvocacyAction
    note: LongText = ""
    next_step: ShortText
    next_step_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))


class ConcludeAdvocacy(Command):
    advocacy_id: Identifier
    outcome: AdvocacyOutcome
    note: LongText = ""


class RecordFeedback(Command):
    """The client's opinion of a service (`provider_id`, `service_id`), a referral
    (`referral_id`) or their plan (`agrees_with_plan` required)."""

    subject: FeedbackSubject
    referral_id: Identifier | None = None
    provider_id: Identifier | None = None
    service_id: Identifier | None = None
    rating: int = Field(ge=1, le=5)
    words: LongText = ""
    agrees_with_plan: bool | None = None


# --- plan actions (cases/actions.py) ---------------------------------------------------------


def _end_of_day(value: Any) -> Any:
    """A due date given as a day is due at the end of that day (23:59 UTC)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(23, 59), tzinfo=UTC)
    return value


DueAt = Annotated[AwareDatetime, BeforeValidator(_end_of_day)]
"""When an action is due: a time with its UTC offset, or a day (due at 23:59 UTC)."""


class ActionInput(BaseModel):
    """One action towards a goal: what, who, by when (a case conference agrees several)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    goal_id: Identifier
    description: ShortText
    owner: ActionOwner
    due_at: DueAt
    crisis_plan: bool = False
    """Part of the crisis plan (the policy may make it critical: escalated when neglected)."""


class AddAction(Command):
    goal_id: Identifier
    description: ShortText
    owner: ActionOwner
    due_at: DueAt
    crisis_plan: bool = False
    conference_id: Identifier | None = None
    """Set when the action was agreed at a case conference."""

    def input(self) -> ActionInput:
        return ActionInput(
            goal_id=self.goal_id,
            description=self.description,
            owner=self.owner,
            due_at=self.due_at,
            crisis_plan=self.crisis_plan,
        )


class CompleteAction(Command):
    action_id: Identifier
    note: LongText = ""


class DropAction(Command):
    action_id: Identifier
    reason: ShortText


class ReassignAction(Command):
    """Another owner for an action, and a new due date if given (else the same one)."""

    action_id: Identifier
    owner: ActionOwner
    due_at: DueAt | None = None
    reason: ShortText


# --- the circle of support and case conferences (issue 16, part 3) ---------------------------


class AddCircleMember(Command):
    """Add a person or professional around the client to their circle of support."""

    role: CircleRole
    details: CircleMemberDetails


class UpdateCircleMember(Command):
    """Change a member's role or details: the fields given replace the recorded ones."""

    member_id: Identifier
    role: CircleRole | None = None
    name: ShortText | None = None
    relationship: ShortText | None = None
    organisation: ShortText | None = None
    contact: ClientContact | None = None
    notes: LongText | None = None


class RemoveCircleMember(Command):
    member_id: Identifier
    reason: ShortText


class RecordCircleConsent(Command):
    """What the client consents to share with one member of their circle (replaces what
    was recorded; an empty list withdraws consent)."""

    member_id: Identifier
    shared: list[CircleShare] = Field(default_factory=list)
    note: LongText = ""


class ShareWithCircle(Command):
    """Share the plan, a conference's decisions, … with a member of the circle: refused
    unless the client consented to share each item with them."""

    member_id: Identifier
    items: list[CircleShare] = Field(min_length=1)
    conference_id: Identifier | None = None
    """Which conference's decisions (default: the latest)."""
    note: LongText = ""


class ConferenceInput(BaseModel):
    """A case conference as recorded (CLI file, console form, API body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    held_on: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    client_attended: bool = False
    participants: Participants = Participants()
    decisions: list[ShortText] = Field(default_factory=list, max_length=30)
    actions: list[ActionInput] = Field(default_factory=list, max_length=30)
    """The actions agreed: they become actions of the case (cases/actions.py)."""
    notes: LongText = ""


class RecordConference(Command):
    """Record a case conference: who took part, decisions, and the actions agreed."""

    conference: ConferenceInput
