"""The case event vocabulary (schema versions in each model's `schema_version`).

Names follow the field: a case is opened from a referral, consent is recorded, the
client is assessed, a plan with client-centred goals is drafted, submitted and
approved or returned, referrals go to providers, contacts and progress are logged,
goals are evaluated, the case is closed and may be reopened or transferred.

The models live in one module per sub-domain of the case, and every name is
re-exported here (import them from `events.vocabulary`):

* `common.py`: the enumerations and parts several sub-domains share;
* `intake.py`: opening, consent, assessment;
* `plans.py`: plans and their (and a closure's) approval;
* `referrals.py`: referrals to providers and their follow-up;
* `monitoring.py`: contacts, goal progress, evaluation;
* `lifecycle.py`: assignment, transfers, closure and reopening, holds;
* `reviews.py`: reviews, escalations and the agency policy;
* `actions.py`: a plan's actions;
* `advocacy.py`: advocacy and the client's feedback;
* `circle.py`: the circle of support and case conferences;
* `notes.py`: case notes and a forgotten client.

This module makes the whole: `CaseEvent`, the union discriminated on `type`,
`case_event_adapter` and `CASE_EVENT_MODELS` (in the registry's order).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from events.choices import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ApprovalKind,
    CircleRole,
    CircleShare,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    DocumentKind,
    Domain,
    FeedbackSubject,
    GoalStatus,
    ReferralSource,
    SharedField,
)
from events.registry import DomainEvent
from events.vocabulary.actions import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
)
from events.vocabulary.advocacy import (
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    ClientFeedbackRecorded,
)
from events.vocabulary.circle import (
    CaseConferenceRecorded,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleMemberRemoved,
    CircleMemberUpdated,
    SharedWithCircleMember,
)
from events.vocabulary.common import (
    ClientContact,
    Participants,
    RiskLevel,
)
from events.vocabulary.documents import DocumentAttached, DocumentWithdrawn
from events.vocabulary.intake import (
    AssessmentRecorded,
    CaseOpened,
    ClientDetails,
    ClientLanguageRecorded,
    ClientMatchesReviewed,
    ConsentRecorded,
    DomainNeed,
    DomainRating,
    LanguageTag,
)
from events.vocabulary.lifecycle import (
    CaseAssigned,
    CaseClosed,
    CaseOnHold,
    CaseReopened,
    CaseResumed,
    TransferAccepted,
    TransferRejected,
    TransferRequested,
)
from events.vocabulary.monitoring import (
    ContactLogged,
    GoalEvaluation,
    GoalOutcome,
    GoalProgressRecorded,
    GoalsEvaluated,
    NextStep,
)
from events.vocabulary.notes import CaseNoteRecorded, ClientForgotten
from events.vocabulary.plans import (
    ApprovalGranted,
    ApprovalRequested,
    ApprovalReturned,
    ClientParticipation,
    Goal,
    GoalKind,
    GoalTerm,
    PlanActivated,
    PlanDrafted,
    upcast_plan_drafted_v1,
)
from events.vocabulary.referrals import (
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralMade,
    ReferralWithdrawn,
)
from events.vocabulary.reviews import (
    EscalationRaised,
    EscalationResolved,
    EscalationSubject,
    PolicyApplied,
    ReviewDue,
    ReviewLapsed,
    ReviewReason,
    ReviewScheduled,
)

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
    | ReferralWithdrawn
    | DocumentAttached
    | DocumentWithdrawn
    | ClientMatchesReviewed
    | ClientLanguageRecorded,
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
    DocumentAttached,
    DocumentWithdrawn,
    ClientMatchesReviewed,
    ClientLanguageRecorded,
)

__all__ = [
    "CASE_EVENT_MODELS",
    "ActionAdded",
    "ActionCompleted",
    "ActionDropped",
    "ActionOverdue",
    "ActionOwner",
    "ActionOwnerKind",
    "ActionReassigned",
    "ActionReminderDue",
    "AdvocacyAction",
    "AdvocacyBarrier",
    "AdvocacyConcluded",
    "AdvocacyFollowUpDue",
    "AdvocacyOpened",
    "AdvocacyOutcome",
    "AdvocacyStepRecorded",
    "ApprovalGranted",
    "ApprovalKind",
    "ApprovalRequested",
    "ApprovalReturned",
    "AssessmentRecorded",
    "CaseAssigned",
    "CaseClosed",
    "CaseConferenceRecorded",
    "CaseEvent",
    "CaseNoteRecorded",
    "CaseOnHold",
    "CaseOpened",
    "CaseReopened",
    "CaseResumed",
    "CircleConsentRecorded",
    "CircleMemberAdded",
    "CircleMemberDetails",
    "CircleMemberRemoved",
    "CircleMemberUpdated",
    "CircleRole",
    "CircleShare",
    "ClientContact",
    "ClientDetails",
    "ClientFeedbackRecorded",
    "ClientForgotten",
    "ClientLanguageRecorded",
    "ClientMatchesReviewed",
    "ClientParticipation",
    "ClosureReason",
    "ConsentGiver",
    "ConsentRecorded",
    "ContactKind",
    "ContactLogged",
    "DocumentAttached",
    "DocumentKind",
    "DocumentWithdrawn",
    "Domain",
    "DomainNeed",
    "DomainRating",
    "EscalationRaised",
    "EscalationResolved",
    "EscalationSubject",
    "FeedbackSubject",
    "Goal",
    "GoalEvaluation",
    "GoalKind",
    "GoalOutcome",
    "GoalProgressRecorded",
    "GoalStatus",
    "GoalTerm",
    "GoalsEvaluated",
    "LanguageTag",
    "NextStep",
    "Participants",
    "PlanActivated",
    "PlanDrafted",
    "PolicyApplied",
    "ProviderReportReceived",
    "ReferralAccepted",
    "ReferralCompleted",
    "ReferralDeclined",
    "ReferralDispatchFailed",
    "ReferralDispatched",
    "ReferralFollowUpDue",
    "ReferralMade",
    "ReferralSource",
    "ReferralWithdrawn",
    "ReviewDue",
    "ReviewLapsed",
    "ReviewReason",
    "ReviewScheduled",
    "RiskLevel",
    "SharedField",
    "SharedWithCircleMember",
    "TransferAccepted",
    "TransferRejected",
    "TransferRequested",
    "case_event_adapter",
    "upcast_plan_drafted_v1",
]
