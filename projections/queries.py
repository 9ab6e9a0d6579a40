"""Every read-model query under one name, for the entry points that call several.

Each query lives beside its read model (its tables and handlers); this module only
re-exports them, so `from projections import queries; queries.caseload(...)` keeps
working. Add a query to its read model's module, then name it here.
"""

from __future__ import annotations

from projections.actions import (
    ActionRow,
    TeamOverdue,
    goal_actions,
    my_actions,
    overdue_actions,
    overdue_actions_by_team,
)
from projections.approvals import PendingApproval, pending_approvals
from projections.case_summary import (
    RISK_LEVELS,
    Caseload,
    CaseSummary,
    case_summary,
    caseload,
    open_cases,
)
from projections.circle import CircleMemberRow, ConferenceRow, circle_members, conferences
from projections.outcomes import outcomes
from projections.referrals import (
    AWAITING_REPLY,
    ProviderReferral,
    Referral,
    ReferralCount,
    referral_counts,
    referrals,
    referrals_for_provider,
)
from projections.reviews import OpenEscalation, ReviewDue, escalations, reviews
from projections.service_directory import DirectoryService, published_services, services
from projections.timeline import TimelineEntry, timeline, timeline_versions
from projections.transfers import PendingTransfer, pending_transfers

__all__ = [
    "AWAITING_REPLY",
    "RISK_LEVELS",
    "ActionRow",
    "CaseSummary",
    "Caseload",
    "CircleMemberRow",
    "ConferenceRow",
    "DirectoryService",
    "OpenEscalation",
    "PendingApproval",
    "PendingTransfer",
    "ProviderReferral",
    "Referral",
    "ReferralCount",
    "ReviewDue",
    "TeamOverdue",
    "TimelineEntry",
    "case_summary",
    "caseload",
    "circle_members",
    "conferences",
    "escalations",
    "goal_actions",
    "my_actions",
    "open_cases",
    "outcomes",
    "overdue_actions",
    "overdue_actions_by_team",
    "pending_approvals",
    "pending_transfers",
    "published_services",
    "referral_counts",
    "referrals",
    "referrals_for_provider",
    "reviews",
    "services",
    "timeline",
    "timeline_versions",
]
