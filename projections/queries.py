"""Every read-model query under one name, for the entry points that call several.

Each query lives beside its read model (its tables and handlers); this module only
re-exports them, so `from projections import queries; queries.caseload(...)` keeps
working. Add a query to its read model's module, then name it here.
"""

from __future__ import annotations

from projections.approvals import PendingApproval, pending_approvals
from projections.case_summary import (
    RISK_LEVELS,
    Caseload,
    CaseSummary,
    case_summary,
    caseload,
    open_cases,
)
from projections.outcomes import outcomes
from projections.referrals import (
    AWAITING_REPLY,
    Referral,
    ReferralCount,
    referral_counts,
    referrals,
)
from projections.reviews import OpenEscalation, ReviewDue, escalations, reviews
from projections.timeline import TimelineEntry, timeline
from projections.transfers import PendingTransfer, pending_transfers

__all__ = [
    "AWAITING_REPLY",
    "RISK_LEVELS",
    "CaseSummary",
    "Caseload",
    "OpenEscalation",
    "PendingApproval",
    "PendingTransfer",
    "Referral",
    "ReferralCount",
    "ReviewDue",
    "TimelineEntry",
    "case_summary",
    "caseload",
    "escalations",
    "open_cases",
    "outcomes",
    "pending_approvals",
    "pending_transfers",
    "referral_counts",
    "referrals",
    "reviews",
    "timeline",
]
