"""The case event vocabulary (schema versions in each model's `schema_version`).

Names follow the field: a case is opened from a referral, consent is recorded, the
client is assessed, a plan with client-centred goals is drafted, submitted and
approved or returned, referrals go to providers, contacts and progress are logged,
goals are evaluated, the case is closed and may be reopened or transferred.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
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


class GoalEvaluation(_Part):
    goal_id: Identifier
    outcome: GoalOutcome
    reason: ShortText


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

    type: Literal["PlanDrafted"] = "PlanDrafted"
    plan_id: Identifier
    plan_version: int = Field(ge=1)
    goals: list[Goal] = Field(min_length=1, max_length=30)
    crisis_plan: PersonalText = ""
    participation: ClientParticipation


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
    | CaseNoteRecorded,
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
)
