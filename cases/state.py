"""The case as the workflow and the rules see it: a plain, serialisable model.

`evolve(state, recorded)` folds one event into the state; `fold(events)` rebuilds a
case from its stream. The workflow keeps exactly this state, so a test can check
that a running case equals the fold of its log.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.fields import PersonalShortText, PersonalText
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ApprovalKind,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientDetails,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    DocumentKind,
    Domain,
    DomainNeed,
    EscalationSubject,
    Goal,
    GoalOutcome,
    GoalStatus,
    Participants,
    ReferralSource,
    RiskLevel,
    SharedField,
)


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PlanStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class FoldError(ValueError):
    """An event that cannot follow the state it is applied to."""


class ReferralStatus(StrEnum):
    MADE = "made"
    DISPATCHED = "dispatched"
    DISPATCH_FAILED = "dispatch_failed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


OPEN_REFERRAL_STATUSES = frozenset(
    {ReferralStatus.MADE, ReferralStatus.DISPATCHED, ReferralStatus.ACCEPTED}
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Consent(_Model):
    shared_fields: list[SharedField] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    preferences: PersonalText = ""
    recorded_at: datetime | None = None


class AssessmentSummary(_Model):
    assessment_id: str
    reassessment: bool
    recorded_at: datetime
    recorded_by: str
    risk_level: RiskLevel
    needs: list[DomainNeed]
    client_priorities: list[str]


class PlanVersion(_Model):
    plan_id: str
    plan_version: int
    goals: list[Goal]
    crisis_plan: PersonalText
    client_agreed: bool
    drafted_by: str
    drafted_at: datetime
    status: PlanStatus = PlanStatus.DRAFT
    submitted_by: str | None = None
    returned_reasons: list[str] = Field(default_factory=list)
    participants: Participants = Participants()
    """Who besides the client took part in making it (staff, circle members)."""


class CircleMember(_Model):
    """A person or professional around the client (their details are personal data)."""

    member_id: str
    role: CircleRole
    details: CircleMemberDetails
    consent: list[CircleShare] = Field(default_factory=list)
    """What the client consents to share with them (nothing until recorded)."""
    consent_recorded_at: datetime | None = None
    added_at: datetime
    added_by: str
    removed_at: datetime | None = None
    removed_reason: str | None = None
    shared: int = 0
    """How many times something was shared with them."""

    @property
    def active(self) -> bool:
        return self.removed_at is None


class Conference(_Model):
    """A case conference as recorded (its decisions are personal data)."""

    conference_id: str
    held_on: date
    client_attended: bool
    participants: Participants
    decisions: list[PersonalShortText] = Field(default_factory=list)
    action_ids: list[str] = Field(default_factory=list)
    recorded_at: datetime
    recorded_by: str


class PendingApproval(_Model):
    approval_id: str
    kind: ApprovalKind
    requested_by: str
    requested_at: datetime
    plan_id: str | None = None
    plan_version: int | None = None
    closure_reason: ClosureReason | None = None


class Referral(_Model):
    referral_id: str
    provider_id: str
    service_id: str
    goal_id: str
    shared_fields: list[SharedField]
    status: ReferralStatus
    made_at: datetime
    made_by: str
    updated_at: datetime
    reason: str | None = None
    dispatch_attempts: int = 0
    followed_up: bool = False

    @property
    def waiting_for_reply(self) -> bool:
        return self.status in (
            ReferralStatus.MADE,
            ReferralStatus.DISPATCHED,
            ReferralStatus.DISPATCH_FAILED,
        )


class Escalation(_Model):
    escalation_id: str
    subject: EscalationSubject
    subject_id: str
    level: int
    notify: str
    reason: str
    raised_at: datetime
    level_raised_at: datetime


class Hold(_Model):
    reason: str
    since: datetime
    until: datetime


class Advocacy(_Model):
    """An advocacy on the client's behalf: the barrier, the organisation, the steps taken.

    Open until concluded; while open its next step is followed up (cases/schedule.py)."""

    advocacy_id: str
    barrier: AdvocacyBarrier
    organisation: str
    actions: list[AdvocacyAction]
    """Every action taken, in order (the first is the opening one)."""
    consent_by: ConsentGiver
    step: int = 1
    next_step: PersonalShortText
    next_step_date: date
    follow_up_at: datetime
    """When the next step is overdue (the day after its date, shifted by any hold)."""
    followed_up: bool = False
    opened_at: datetime
    opened_by: str
    outcome: AdvocacyOutcome | None = None
    concluded_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.outcome is None

    @property
    def step_subject(self) -> str:
        """The escalation subject id of the current step (each step escalates once)."""
        return f"{self.advocacy_id}.step-{self.step}"


class ActionStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    """Still to do, past its due date."""
    DONE = "done"
    DROPPED = "dropped"


OPEN_ACTION_STATUSES = frozenset({ActionStatus.OPEN, ActionStatus.OVERDUE})


class PlanAction(_Model):
    """An action towards a goal of the plan (cases/actions.py; timers in cases/schedule.py)."""

    action_id: str
    goal_id: str
    description: PersonalShortText
    owner: ActionOwner
    due_at: datetime
    crisis_plan: bool = False
    conference_id: str | None = None
    status: ActionStatus = ActionStatus.OPEN
    added_at: datetime
    added_by: str
    reminded: bool = False
    overdue_at: datetime | None = None
    closed_at: datetime | None = None
    """When it was done or dropped."""
    late: bool = False
    drop_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_STATUSES

    def worker(self, assigned_worker: str) -> str:
        """The worker who answers for it: the owning worker, else the case's worker."""
        if self.owner.kind is ActionOwnerKind.WORKER and self.owner.staff_id is not None:
            return self.owner.staff_id
        return assigned_worker


class Document(_Model):
    """A document on the case (cases/features/documents.py); its bytes are kept apart,
    encrypted with the client's data key, and deleted when it is withdrawn."""

    document_id: str
    kind: DocumentKind
    title: PersonalShortText
    filename: PersonalShortText
    media_type: str
    size: int
    sha256: str
    goal_id: str | None = None
    referral_id: str | None = None
    conference_id: str | None = None
    added_by: str
    added_at: datetime
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: PersonalShortText | None = None

    @property
    def readable(self) -> bool:
        return self.withdrawn_at is None


class PendingTransfer(_Model):
    transfer_id: str
    to_worker: str | None
    to_team: str
    reason: str
    requested_by: str
    requested_at: datetime


class CaseState(_Model):
    case_id: UUID
    stream_version: int = 0
    status: CaseStatus = CaseStatus.OPEN
    client_ref: str
    client: ClientDetails
    referral_source: ReferralSource
    assigned_worker: str
    team: str
    presenting_needs: list[str]
    opened_at: datetime
    opened_by: str
    consent: Consent = Consent()
    assessments: list[AssessmentSummary] = Field(default_factory=list)
    risk_level: RiskLevel | None = None
    draft_plan: PlanVersion | None = None
    active_plan: PlanVersion | None = None
    plan_versions: int = 0
    approvals: dict[str, PendingApproval] = Field(default_factory=dict)
    approvals_requested: int = 0
    referrals: dict[str, Referral] = Field(default_factory=dict)
    goal_progress: dict[str, GoalStatus] = Field(default_factory=dict)
    goal_outcomes: dict[str, GoalOutcome] = Field(default_factory=dict)
    contacts: int = 0
    notes: int = 0
    """Case notes recorded (the next is note-<notes + 1>)."""
    last_contact: date | None = None
    last_contact_kind: ContactKind | None = None
    evaluations: int = 0
    transfers_requested: int = 0
    pending_transfer: PendingTransfer | None = None
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    reopened: int = 0
    review_base_at: datetime | None = None
    """When the review clock last started: opening, an assessment, reopening."""
    next_review_due: datetime | None = None
    reviews_scheduled: int = 0
    review_due_raised: bool = False
    review_lapsed_at: datetime | None = None
    hold: Hold | None = None
    escalations: dict[str, Escalation] = Field(default_factory=dict)
    escalations_raised: int = 0
    escalated_subjects: list[str] = Field(default_factory=list)
    advocacy: dict[str, Advocacy] = Field(default_factory=dict)
    """Advocacy on the client's behalf, by id (advocacy-<n>), open and concluded."""
    actions: dict[str, PlanAction] = Field(default_factory=dict)
    """The plan's actions, by id (action-<n>), open and closed."""
    actions_added: int = 0
    feedback: int = 0
    """The client's feedback recorded (the next is feedback-<feedback + 1>)."""
    circle: dict[str, CircleMember] = Field(default_factory=dict)
    """The client's circle of support by member id (member-<n>), removed members kept."""
    conferences: dict[str, Conference] = Field(default_factory=dict)
    """Case conferences by id (conference-<n>)."""
    documents: dict[str, Document] = Field(default_factory=dict)
    """Documents attached to the case by id, withdrawn ones kept (cases/features/documents.py)."""
    forgotten: bool = False
    """The client's personal data was erased: personal fields read as erased."""
    forgotten_at: datetime | None = None
    """When (ClientForgotten): personal details can no longer be recorded from then on."""
    """`subject:subject_id` of every escalation ever opened (each is raised once)."""

    @property
    def stream_id(self) -> str:
        return stream_id_for(self.case_id)

    @property
    def is_open(self) -> bool:
        return self.status is CaseStatus.OPEN

    def pending(self, kind: ApprovalKind) -> PendingApproval | None:
        return next((a for a in self.approvals.values() if a.kind is kind), None)

    def active_goal(self, goal_id: str) -> Goal | None:
        if self.active_plan is None:
            return None
        return next((g for g in self.active_plan.goals if g.goal_id == goal_id), None)

    def needs_by_domain(self) -> dict[Domain, str]:
        if not self.assessments:
            return {}
        return {n.domain: n.need for n in self.assessments[-1].needs}


def stream_id_for(case_id: UUID | str) -> str:
    return f"case-{case_id}"


def workflow_id_for(case_id: UUID | str) -> str:
    return f"case-{case_id}"
