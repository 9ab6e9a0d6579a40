"""The case event vocabulary (schema versions in each model's `schema_version`).

Names follow the field: a case is opened from a referral, consent is recorded, the
client is assessed, a plan with client-centred goals is drafted, submitted and
approved or returned, referrals go to providers, contacts and progress are logged,
goals are evaluated, the case is closed and may be reopened or transferred.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from events.fields import (
    Identifier,
    PersonalField,
    PersonalShortText,
    PersonalText,
    ShortList,
    ShortText,
)
from events.registry import DomainEvent


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- enumerations --------------------------------------------------------------------


class ReferralSource(StrEnum):
    AGENCY_REFERRAL = "agency_referral"
    OUTREACH = "outreach"
    SELF_REFERRAL = "self_referral"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRISIS = "crisis"


class Domain(StrEnum):
    """Assessment domains, grouped biopsychosocial / sociocultural / financial."""

    MENTAL_HEALTH = "mental_health"
    PHYSICAL_HEALTH = "physical_health"
    SUBSTANCE_USE = "substance_use"
    FAMILY = "family"
    SOCIAL_SUPPORT = "social_support"
    CULTURE = "culture"
    INCOME = "income"
    BENEFITS = "benefits"
    HOUSING = "housing"
    EMPLOYMENT = "employment"


class GoalTerm(StrEnum):
    SHORT = "short"
    LONG = "long"


class GoalKind(StrEnum):
    LOGISTICAL = "logistical"
    WELLBEING = "wellbeing"


class GoalStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    MET = "met"
    NOT_MET = "not_met"


class GoalOutcome(StrEnum):
    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"


class ContactKind(StrEnum):
    HOME_VISIT = "home_visit"
    PHONE = "phone"
    OFFICE = "office"
    OUTREACH = "outreach"


class ClosureReason(StrEnum):
    GOALS_MET = "goals_met"
    CLIENT_WITHDREW = "client_withdrew"
    MOVED_AWAY = "moved_away"
    UNABLE_TO_CONTACT = "unable_to_contact"
    TRANSFERRED_OUT = "transferred_out"


class ApprovalKind(StrEnum):
    PLAN = "plan"
    CLOSURE = "closure"


class SharedField(StrEnum):
    """What a client may consent to share with a provider."""

    NAME = "name"
    CONTACT = "contact"
    DATE_OF_BIRTH = "date_of_birth"
    PRESENTING_NEEDS = "presenting_needs"
    ASSESSMENT_SUMMARY = "assessment_summary"
    HEALTH = "health"
    FINANCIAL = "financial"


class NextStep(StrEnum):
    REVISE_PLAN = "revise_plan"
    CONTINUE = "continue"
    CLOSE = "close"


class AdvocacyBarrier(StrEnum):
    """What stood between the client and a service (issue 16, advocacy)."""

    SERVICE_REFUSED = "service_refused"
    BENEFIT_DENIED = "benefit_denied"
    BENEFIT_STOPPED = "benefit_stopped"
    ELIGIBILITY_DISPUTE = "eligibility_dispute"
    DISCRIMINATION = "discrimination"
    WAITING_LIST = "waiting_list"
    OTHER = "other"


class AdvocacyAction(StrEnum):
    """What the worker did on the client's behalf."""

    REQUEST = "request"
    COMPLAINT = "complaint"
    APPEAL = "appeal"
    HEARING = "hearing"
    """Representation at a hearing."""
    ESCALATION = "escalation"
    """Escalation to a manager at the organisation."""


class AdvocacyOutcome(StrEnum):
    RESOLVED = "resolved"
    PARTLY_RESOLVED = "partly_resolved"
    NOT_RESOLVED = "not_resolved"
    WITHDRAWN = "withdrawn"


class ConsentGiver(StrEnum):
    """Whose consent the worker acts on."""

    CLIENT = "client"
    GUARDIAN = "guardian"
    REPRESENTATIVE = "representative"
    """A legal representative (power of attorney, appointee)."""


class FeedbackSubject(StrEnum):
    """What the client gave their opinion of."""

    SERVICE = "service"
    REFERRAL = "referral"
    PLAN = "plan"


# --- parts ------------------------------------------------------------------------------


class ClientContact(_Part):
    phone: ShortText | None = None
    email: ShortText | None = None
    address: ShortText | None = None


class ClientDetails(_Part):
    """Confidential personal details: every field is personal data (encrypted at rest)."""

    name: PersonalShortText
    date_of_birth: Annotated[date | None, PersonalField()] = Field(
        default=None, ge=date(1900, 1, 1), le=date(2100, 1, 1)
    )
    contact: Annotated[ClientContact, PersonalField()] = ClientContact()
    identifiers: Annotated[dict[ShortText, ShortText], PersonalField()] = Field(
        default_factory=dict, max_length=10
    )
    notes: PersonalText = ""


class DomainRating(_Part):
    """0 = no concern … 4 = severe / immediate need."""

    rating: int = Field(ge=0, le=4)
    notes: PersonalText = ""


class DomainNeed(_Part):
    domain: Domain
    need: Literal["none", "low", "moderate", "high", "urgent"]


class Goal(_Part):
    goal_id: Identifier
    client_words: PersonalShortText = Field(description="The goal in the client's own words")
    domain: Domain
    term: GoalTerm
    kind: GoalKind
    objective: ShortText = Field(description="Measurable objective")
    target_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    interventions: ShortList = Field(default_factory=list)
    strategies: ShortList = Field(default_factory=list)


class ClientParticipation(_Part):
    participated: bool
    agreed: bool
    client_comment: PersonalText = ""


class Participants(_Part):
    """Who besides the client took part (in a plan, a case conference): staff by staff id,
    members of the client's circle of support by member id (their names are in the
    circle, sealed with the client's key)."""

    staff: list[Identifier] = Field(default_factory=list, max_length=50)
    circle: list[Identifier] = Field(default_factory=list, max_length=50)


class GoalEvaluation(_Part):
    goal_id: Identifier
    outcome: GoalOutcome
    reason: ShortText


class ActionOwnerKind(StrEnum):
    """Who carries out a plan's action."""

    CASEWORKER = "caseworker"
    """The case's assigned worker."""
    CLIENT = "client"
    FAMILY = "family"
    """A family member (named in `ActionOwner.name`)."""
    PROVIDER = "provider"
    """A provider (`ActionOwner.provider_id`)."""
    WORKER = "worker"
    """Another worker of the agency (`ActionOwner.staff_id`)."""


class ActionOwner(_Part):
    kind: ActionOwnerKind
    staff_id: Identifier | None = None
    provider_id: Identifier | None = None
    name: Annotated[ShortText | None, PersonalField()] = None
    """Who, in words (a family member's name, say): personal data."""

    def model_post_init(self, __context: Any) -> None:
        if self.kind is ActionOwnerKind.WORKER and self.staff_id is None:
            raise ValueError("owner.staff_id: an action owned by another worker names the worker")
        if self.kind is ActionOwnerKind.PROVIDER and self.provider_id is None:
            raise ValueError("owner.provider_id: an action owned by a provider names the provider")

    def label(self) -> str:
        """The owner in a few words (no personal data)."""
        if self.kind is ActionOwnerKind.WORKER:
            return f"worker {self.staff_id}"
        if self.kind is ActionOwnerKind.PROVIDER:
            return f"provider {self.provider_id}"
        return self.kind.value


# --- events -------------------------------------------------------------------------------


class CaseOpened(DomainEvent):
    type: Literal["CaseOpened"] = "CaseOpened"
    case_id: UUID
    client_ref: Identifier
    client: ClientDetails
    referral_source: ReferralSource
    referring_agency: ShortText | None = None
    assigned_worker: Identifier
    team: Identifier
    presenting_needs: ShortList = Field(min_length=1)


class ConsentRecorded(DomainEvent):
    type: Literal["ConsentRecorded"] = "ConsentRecorded"
    shared_fields: list[SharedField] = Field(default_factory=list)
    providers: list[Identifier] = Field(default_factory=list, max_length=100)
    preferences: PersonalText = ""


class AssessmentRecorded(DomainEvent):
    type: Literal["AssessmentRecorded"] = "AssessmentRecorded"
    assessment_id: Identifier
    reassessment: bool = False
    domains: dict[Domain, DomainRating] = Field(min_length=1)
    strengths: ShortList = Field(default_factory=list)
    resources: ShortList = Field(default_factory=list)
    barriers: ShortList = Field(default_factory=list)
    client_priorities: ShortList = Field(default_factory=list)
    needs: list[DomainNeed]
    risk_level: RiskLevel
    scoring_rules: ShortText


class PlanDrafted(DomainEvent):
    """A new plan version (the first draft, or a revision of a returned or active plan)."""

    schema_version: ClassVar[int] = 2
    """v2 added `participants` (v1 plans read as made by no one recorded besides the
    client: `upcast_plan_drafted_v1`)."""

    type: Literal["PlanDrafted"] = "PlanDrafted"
    plan_id: Identifier
    plan_version: int = Field(ge=1)
    goals: list[Goal] = Field(min_length=1, max_length=30)
    crisis_plan: PersonalText = ""
    participation: ClientParticipation
    participants: Participants = Participants()
    """Who else took part in making the plan (staff, members of the circle of support)."""


def upcast_plan_drafted_v1(data: dict[str, Any]) -> dict[str, Any]:
    """PlanDrafted v1 → v2: no participants were recorded besides the client."""
    return {**data, "participants": {"staff": [], "circle": []}}


class ApprovalRequested(DomainEvent):
    type: Literal["ApprovalRequested"] = "ApprovalRequested"
    approval_id: Identifier
    kind: ApprovalKind
    plan_id: Identifier | None = None
    plan_version: int | None = None
    closure_reason: ClosureReason | None = None
    note: PersonalText = ""


class ApprovalGranted(DomainEvent):
    type: Literal["ApprovalGranted"] = "ApprovalGranted"
    approval_id: Identifier
    kind: ApprovalKind
    note: PersonalText = ""


class ApprovalReturned(DomainEvent):
    type: Literal["ApprovalReturned"] = "ApprovalReturned"
    approval_id: Identifier
    kind: ApprovalKind
    reasons: ShortList = Field(min_length=1)


class PlanActivated(DomainEvent):
    type: Literal["PlanActivated"] = "PlanActivated"
    plan_id: Identifier
    plan_version: int


class ReferralMade(DomainEvent):
    type: Literal["ReferralMade"] = "ReferralMade"
    referral_id: Identifier
    provider_id: Identifier
    service_id: Identifier
    goal_id: Identifier
    shared_fields: list[SharedField] = Field(default_factory=list)
    note: PersonalText = ""


class ReferralDispatched(DomainEvent):
    type: Literal["ReferralDispatched"] = "ReferralDispatched"
    referral_id: Identifier
    channel: ShortText
    attempts: int = Field(ge=1)


class ReferralDispatchFailed(DomainEvent):
    type: Literal["ReferralDispatchFailed"] = "ReferralDispatchFailed"
    referral_id: Identifier
    attempts: int = Field(ge=1)
    error: ShortText


class ReferralAccepted(DomainEvent):
    type: Literal["ReferralAccepted"] = "ReferralAccepted"
    referral_id: Identifier
    note: PersonalText = ""


class ReferralDeclined(DomainEvent):
    type: Literal["ReferralDeclined"] = "ReferralDeclined"
    referral_id: Identifier
    reason: ShortText


class ReferralCompleted(DomainEvent):
    type: Literal["ReferralCompleted"] = "ReferralCompleted"
    referral_id: Identifier
    outcome: PersonalText = ""


class ReferralWithdrawn(DomainEvent):
    """The case's worker withdrew a referral the provider had not completed (the feature
    cases/features/referral_withdrawal.py); the provider is told through its webhook."""

    type: Literal["ReferralWithdrawn"] = "ReferralWithdrawn"
    referral_id: Identifier
    provider_id: Identifier
    reason: PersonalShortText


class ProviderReportReceived(DomainEvent):
    type: Literal["ProviderReportReceived"] = "ProviderReportReceived"
    referral_id: Identifier
    report: PersonalText


class ContactLogged(DomainEvent):
    type: Literal["ContactLogged"] = "ContactLogged"
    contact_id: Identifier
    kind: ContactKind
    contact_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    duration_minutes: int = Field(default=0, ge=0, le=24 * 60)
    notes: PersonalText = ""


class GoalProgressRecorded(DomainEvent):
    type: Literal["GoalProgressRecorded"] = "GoalProgressRecorded"
    goal_id: Identifier
    status: GoalStatus
    note: PersonalText = ""


class GoalsEvaluated(DomainEvent):
    type: Literal["GoalsEvaluated"] = "GoalsEvaluated"
    evaluation_id: Identifier
    evaluations: list[GoalEvaluation] = Field(min_length=1)
    next_step: NextStep


class CaseAssigned(DomainEvent):
    type: Literal["CaseAssigned"] = "CaseAssigned"
    worker: Identifier
    team: Identifier
    reason: ShortText


class TransferRequested(DomainEvent):
    type: Literal["TransferRequested"] = "TransferRequested"
    transfer_id: Identifier
    to_worker: Identifier | None = None
    to_team: Identifier
    reason: ShortText


class TransferAccepted(DomainEvent):
    type: Literal["TransferAccepted"] = "TransferAccepted"
    transfer_id: Identifier
    worker: Identifier
    team: Identifier


class TransferRejected(DomainEvent):
    type: Literal["TransferRejected"] = "TransferRejected"
    transfer_id: Identifier
    reason: ShortText


class CaseClosed(DomainEvent):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: ClosureReason
    note: PersonalText = ""


class CaseReopened(DomainEvent):
    type: Literal["CaseReopened"] = "CaseReopened"
    reason: ShortText


# --- timed reassessment and escalation ------------------------------------------------------


class ReviewReason(StrEnum):
    OPENED = "opened"
    ASSESSED = "assessed"
    RISK_CHANGED = "risk_changed"
    REOPENED = "reopened"
    RESUMED = "resumed"
    POLICY_CHANGED = "policy_changed"


class EscalationSubject(StrEnum):
    REVIEW = "review"
    APPROVAL = "approval"
    REFERRAL = "referral"
    ADVOCACY = "advocacy"
    ACTION = "action"


class ReviewScheduled(DomainEvent):
    type: Literal["ReviewScheduled"] = "ReviewScheduled"
    due_at: datetime
    reason: ReviewReason
    risk_level: RiskLevel | None = None
    policy_version: int = Field(ge=1)


class ReviewDue(DomainEvent):
    """The review became a task for the assigned worker."""

    type: Literal["ReviewDue"] = "ReviewDue"
    due_at: datetime
    assigned_worker: Identifier


class ReviewLapsed(DomainEvent):
    type: Literal["ReviewLapsed"] = "ReviewLapsed"
    due_at: datetime
    grace_ended_at: datetime


class EscalationRaised(DomainEvent):
    """An escalation raised to `level` (level 1 opens it; later levels climb the ladder)."""

    type: Literal["EscalationRaised"] = "EscalationRaised"
    escalation_id: Identifier
    subject: EscalationSubject
    subject_id: Identifier
    level: int = Field(ge=1, le=10)
    notify: Literal["worker", "supervisor", "manager"]
    team: Identifier
    reason: ShortText


class EscalationResolved(DomainEvent):
    type: Literal["EscalationResolved"] = "EscalationResolved"
    escalation_id: Identifier
    resolution: ShortText


class ReferralFollowUpDue(DomainEvent):
    type: Literal["ReferralFollowUpDue"] = "ReferralFollowUpDue"
    referral_id: Identifier
    waiting_since: datetime


class CaseOnHold(DomainEvent):
    type: Literal["CaseOnHold"] = "CaseOnHold"
    reason: ShortText
    until: datetime


class CaseResumed(DomainEvent):
    type: Literal["CaseResumed"] = "CaseResumed"
    reason: ShortText


class PolicyApplied(DomainEvent):
    """A new agency policy (stream `policy`); the body is validated by cases.policy.Policy."""

    type: Literal["PolicyApplied"] = "PolicyApplied"
    version: int = Field(ge=1)
    policy: dict[str, Any]
    open_cases_notified: int = Field(default=0, ge=0)


class CaseNoteRecorded(DomainEvent):
    """A free-text note on the case (a phone call with the client's GP, a concern to
    follow up): the caseworker's own words, personal data."""

    type: Literal["CaseNoteRecorded"] = "CaseNoteRecorded"
    note_id: Identifier
    text: PersonalText


# --- advocacy and the client's feedback (issue 16) -------------------------------------------


class AdvocacyOpened(DomainEvent):
    """The worker takes up a barrier with an organisation on the client's behalf.

    `next_step` and `next_step_date`: what happens next and by when; the case follows it
    up (`AdvocacyFollowUpDue`) once that day has passed with nothing recorded."""

    type: Literal["AdvocacyOpened"] = "AdvocacyOpened"
    advocacy_id: Identifier
    barrier: AdvocacyBarrier
    organisation: ShortText
    action: AdvocacyAction
    consent_by: ConsentGiver
    consent_name: PersonalShortText | None = None
    """Who consented when it was not the client (a guardian's name): personal data."""
    details: PersonalText = ""
    next_step: PersonalShortText
    next_step_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))


class AdvocacyStepRecorded(DomainEvent):
    """A further step with the organisation (an appeal, a hearing) and the next one."""

    type: Literal["AdvocacyStepRecorded"] = "AdvocacyStepRecorded"
    advocacy_id: Identifier
    step: int = Field(ge=2)
    action: AdvocacyAction
    note: PersonalText = ""
    next_step: PersonalShortText
    next_step_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))


class AdvocacyConcluded(DomainEvent):
    type: Literal["AdvocacyConcluded"] = "AdvocacyConcluded"
    advocacy_id: Identifier
    outcome: AdvocacyOutcome
    note: PersonalText = ""


class AdvocacyFollowUpDue(DomainEvent):
    """An advocacy's next step passed its date with nothing recorded."""

    type: Literal["AdvocacyFollowUpDue"] = "AdvocacyFollowUpDue"
    advocacy_id: Identifier
    step: int = Field(ge=1)
    next_step_date: date


class ClientFeedbackRecorded(DomainEvent):
    """The client's opinion of a service, a referral or their plan: a rating (1 poor … 5
    very good) and their own words (personal data). On the plan, whether they agree with
    it (the version they were asked about)."""

    type: Literal["ClientFeedbackRecorded"] = "ClientFeedbackRecorded"
    feedback_id: Identifier
    subject: FeedbackSubject
    referral_id: Identifier | None = None
    provider_id: Identifier | None = None
    service_id: Identifier | None = None
    plan_id: Identifier | None = None
    plan_version: int | None = Field(default=None, ge=1)
    rating: int = Field(ge=1, le=5)
    words: PersonalText = ""
    agrees_with_plan: bool | None = None


# --- plan actions ---------------------------------------------------------------------------


class ActionAdded(DomainEvent):
    """An action towards a goal: who does it, by when. Added to a plan by a worker or agreed
    at a case conference (`conference_id`)."""

    type: Literal["ActionAdded"] = "ActionAdded"
    action_id: Identifier
    goal_id: Identifier
    description: PersonalShortText
    owner: ActionOwner
    due_at: datetime
    crisis_plan: bool = False
    """Part of the crisis plan (the policy's `critical_actions` may make it critical)."""
    conference_id: Identifier | None = None


class ActionCompleted(DomainEvent):
    type: Literal["ActionCompleted"] = "ActionCompleted"
    action_id: Identifier
    late: bool = False
    """Done after its due date."""
    note: PersonalText = ""


class ActionDropped(DomainEvent):
    type: Literal["ActionDropped"] = "ActionDropped"
    action_id: Identifier
    reason: PersonalShortText
    """Why it no longer needs doing: often about the client or their family, so personal."""


class ActionReassigned(DomainEvent):
    """Another owner, and the due date from now on (a new one re-arms its reminder)."""

    type: Literal["ActionReassigned"] = "ActionReassigned"
    action_id: Identifier
    owner: ActionOwner
    due_at: datetime
    reason: PersonalShortText


class ActionReminderDue(DomainEvent):
    """The action falls due soon: a reminder to the owner's worker."""

    type: Literal["ActionReminderDue"] = "ActionReminderDue"
    action_id: Identifier
    due_at: datetime
    worker: Identifier


class ActionOverdue(DomainEvent):
    type: Literal["ActionOverdue"] = "ActionOverdue"
    action_id: Identifier
    due_at: datetime
    worker: Identifier


# --- the circle of support and case conferences ---------------------------------------------


class CircleRole(StrEnum):
    """How a member of the client's circle of support stands to them."""

    FAMILY_MEMBER = "family_member"
    CARER = "carer"
    FRIEND = "friend"
    ADVOCATE = "advocate"
    GP = "gp"
    TEACHER = "teacher"
    PROBATION_OFFICER = "probation_officer"
    AGENCY_WORKER = "agency_worker"
    """A worker of another agency or service (another discipline or organisation)."""
    OTHER_PROFESSIONAL = "other_professional"
    OTHER = "other"


class CircleShare(StrEnum):
    """What a client may consent to share with a member of their circle of support."""

    PLAN = "plan"
    """The active plan: goals in the client's words, objectives, target dates."""
    CONFERENCE_DECISIONS = "conference_decisions"
    """Decisions and agreed actions of case conferences."""
    ASSESSMENT_SUMMARY = "assessment_summary"
    """Risk level and need level per domain."""
    PROGRESS = "progress"
    """Progress on the goals of the active plan."""
    CONTACT_DETAILS = "contact_details"
    """The client's own phone, email and address."""


class CircleMemberDetails(_Part):
    """Who a member of the circle is: personal data, sealed with the client's data key and
    erased when the client is forgotten, like the client's own details."""

    name: PersonalShortText
    relationship: Annotated[ShortText | None, PersonalField()] = None
    """In the client's words ("older sister", "key worker at the day centre")."""
    organisation: Annotated[ShortText | None, PersonalField()] = None
    contact: Annotated[ClientContact, PersonalField()] = ClientContact()
    notes: PersonalText = ""


class CircleMemberAdded(DomainEvent):
    """A person or professional around the client joined the circle of support."""

    type: Literal["CircleMemberAdded"] = "CircleMemberAdded"
    member_id: Identifier
    role: CircleRole
    details: CircleMemberDetails


class CircleMemberUpdated(DomainEvent):
    """A member's role or details changed (the event carries them whole)."""

    type: Literal["CircleMemberUpdated"] = "CircleMemberUpdated"
    member_id: Identifier
    role: CircleRole
    details: CircleMemberDetails


class CircleMemberRemoved(DomainEvent):
    type: Literal["CircleMemberRemoved"] = "CircleMemberRemoved"
    member_id: Identifier
    reason: PersonalShortText


class CircleConsentRecorded(DomainEvent):
    """What the client consents to share with one member (replaces what it was; empty:
    nothing, consent withdrawn)."""

    type: Literal["CircleConsentRecorded"] = "CircleConsentRecorded"
    member_id: Identifier
    shared: list[CircleShare] = Field(default_factory=list)
    note: PersonalText = ""


class SharedWithCircleMember(DomainEvent):
    """Information was shared with a member of the circle, within the client's consent."""

    type: Literal["SharedWithCircleMember"] = "SharedWithCircleMember"
    member_id: Identifier
    items: list[CircleShare] = Field(min_length=1)
    plan_id: Identifier | None = None
    """The plan shared (when `items` has `plan`)."""
    conference_id: Identifier | None = None
    """The conference whose decisions were shared (when `items` has
    `conference_decisions`)."""
    note: PersonalText = ""


class CaseConferenceRecorded(DomainEvent):
    """A case conference: who took part, what was decided, which actions were agreed."""

    type: Literal["CaseConferenceRecorded"] = "CaseConferenceRecorded"
    conference_id: Identifier
    held_on: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    client_attended: bool
    participants: Participants
    decisions: list[PersonalShortText] = Field(default_factory=list, max_length=30)
    action_ids: list[Identifier] = Field(default_factory=list, max_length=30)
    """The actions agreed, recorded as the case's actions in the same append."""
    notes: PersonalText = ""


class ClientForgotten(DomainEvent):
    """The client's data key was destroyed: their personal fields read as erased from now on.

    Appended to every stream of the client by `casework client forget`; it carries no
    personal data, and the events before it stay in the log, chained and countable.
    """

    type: Literal["ClientForgotten"] = "ClientForgotten"
    client_ref: Identifier
    reason: ShortText


CaseEvent = Annotated[
    CaseOpened
    | ConsentRecorded
    | AssessmentRecorded
    | PlanDrafted
    | ApprovalRequested
    | ApprovalGranted
    | ApprovalReturned
    | PlanActivated
    | ReferralMade
    | ReferralDispatched
    | ReferralDispatchFailed
    | ReferralAccepted
    | ReferralDeclined
    | ReferralCompleted
    | ProviderReportReceived
    | ContactLogged
    | GoalProgressRecorded
    | GoalsEvaluated
    | CaseAssigned
    | TransferRequested
    | TransferAccepted
    | TransferRejected
    | CaseClosed
    | CaseReopened
    | ReviewScheduled
    | ReviewDue
    | ReviewLapsed
    | EscalationRaised
    | EscalationResolved
    | ReferralFollowUpDue
    | CaseOnHold
    | CaseResumed
    | ClientForgotten
    | CaseNoteRecorded
    | CircleMemberAdded
    | CircleMemberUpdated
    | CircleMemberRemoved
    | CircleConsentRecorded
    | SharedWithCircleMember
    | CaseConferenceRecorded
    | ActionAdded
    | ActionCompleted
    | ActionDropped
    | ActionReassigned
    | ActionReminderDue
    | ActionOverdue
    | AdvocacyOpened
    | AdvocacyStepRecorded
    | AdvocacyConcluded
    | AdvocacyFollowUpDue
    | ClientFeedbackRecorded
    | ReferralWithdrawn,
    Field(discriminator="type"),
]
"""Every case event, discriminated on `type`."""

case_event_adapter: TypeAdapter[CaseEvent] = TypeAdapter(CaseEvent)

CASE_EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    CaseOpened,
    ConsentRecorded,
    AssessmentRecorded,
    PlanDrafted,
    ApprovalRequested,
    ApprovalGranted,
    ApprovalReturned,
    PlanActivated,
    ReferralMade,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralAccepted,
    ReferralDeclined,
    ReferralCompleted,
    ProviderReportReceived,
    ContactLogged,
    GoalProgressRecorded,
    GoalsEvaluated,
    CaseAssigned,
    TransferRequested,
    TransferAccepted,
    TransferRejected,
    CaseClosed,
    CaseReopened,
    ReviewScheduled,
    ReviewDue,
    ReviewLapsed,
    EscalationRaised,
    EscalationResolved,
    ReferralFollowUpDue,
    CaseOnHold,
    CaseResumed,
    PolicyApplied,
    ClientForgotten,
    CaseNoteRecorded,
    CircleMemberAdded,
    CircleMemberUpdated,
    CircleMemberRemoved,
    CircleConsentRecorded,
    SharedWithCircleMember,
    CaseConferenceRecorded,
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionReassigned,
    ActionReminderDue,
    ActionOverdue,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    ClientFeedbackRecorded,
    ReferralWithdrawn,
)
