"""What needs attention on a case, first: the rule behind the top of the case page.

A pure function of the case's state and the clock (`now`, the page's clock, never the
wall clock read here): open escalations, the review overdue or due soon, the plan's
actions overdue or due within `DUE_SOON`, referrals waiting for the provider's reply
or that could not be sent, a draft plan returned, waiting for approval or not yet
submitted, a transfer waiting for a reply, advocacy whose next step is late. A closed
case needs nothing.

Each item names the page's section where the caseworker acts on it, and carries no
sentence of its own: the console words it in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from cases.state import (
    OPEN_ACTION_STATUSES,
    ActionStatus,
    CaseState,
    PlanStatus,
    ReferralStatus,
)

__all__ = ["DUE_SOON", "Attention", "Concern", "needs_attention"]

DUE_SOON = timedelta(days=7)
"""A review or an action due within this long is shown as due soon."""


class Concern(StrEnum):
    """What kind of thing needs attention, the most urgent first."""

    ESCALATION = "escalation"
    REVIEW_OVERDUE = "review_overdue"
    ACTION_OVERDUE = "action_overdue"
    REFERRAL_FAILED = "referral_failed"
    PLAN_RETURNED = "plan_returned"
    ADVOCACY_OVERDUE = "advocacy_overdue"
    REVIEW_DUE = "review_due"
    ACTION_DUE = "action_due"
    TRANSFER_WAITING = "transfer_waiting"
    PLAN_SUBMITTED = "plan_submitted"
    PLAN_DRAFT = "plan_draft"
    REFERRAL_WAITING = "referral_waiting"


ORDER = {concern: rank for rank, concern in enumerate(Concern)}

SECTION = {
    Concern.ESCALATION: "summary",
    Concern.REVIEW_OVERDUE: "summary",
    Concern.REVIEW_DUE: "summary",
    Concern.ACTION_OVERDUE: "plan",
    Concern.ACTION_DUE: "plan",
    Concern.PLAN_RETURNED: "plan",
    Concern.PLAN_SUBMITTED: "plan",
    Concern.PLAN_DRAFT: "plan",
    Concern.REFERRAL_FAILED: "referrals",
    Concern.REFERRAL_WAITING: "referrals",
    Concern.ADVOCACY_OVERDUE: "referrals",
    Concern.TRANSFER_WAITING: "summary",
}
"""The case page's section where each concern is acted on."""


@dataclass(frozen=True)
class Attention:
    """One thing that needs attention: its kind, the id of what it is about (an action,
    a referral, an escalation's subject …), when it is or was due (or since when it
    waits), and what the page shows beside it."""

    concern: Concern
    subject: str
    when: datetime | date | None = None
    what: str = ""
    """The thing in the case's own words (an action's description, a step, the
    escalation's subject kind, the reasons a plan was returned)."""
    level: int | None = None
    """An escalation's level."""

    @property
    def section(self) -> str:
        return SECTION[self.concern]

    @property
    def overdue(self) -> bool:
        return self.concern in (
            Concern.ESCALATION,
            Concern.REVIEW_OVERDUE,
            Concern.ACTION_OVERDUE,
            Concern.REFERRAL_FAILED,
            Concern.ADVOCACY_OVERDUE,
        )


def needs_attention(state: CaseState, now: datetime) -> list[Attention]:
    """What needs attention on the case at `now`, the most urgent first."""
    if not state.is_open:
        return []
    soon = now + DUE_SOON
    found: list[Attention] = []
    for esc in state.escalations.values():
        found.append(
            Attention(Concern.ESCALATION, esc.subject_id, esc.raised_at, esc.subject.value,
                      esc.level)
        )  # fmt: skip
    due = state.next_review_due
    if due is not None and state.hold is None:
        if due <= now:
            found.append(Attention(Concern.REVIEW_OVERDUE, "review", due))
        elif due <= soon:
            found.append(Attention(Concern.REVIEW_DUE, "review", due))
    for action in state.actions.values():
        if action.status not in OPEN_ACTION_STATUSES:
            continue
        if action.status is ActionStatus.OVERDUE or action.due_at <= now:
            found.append(Attention(Concern.ACTION_OVERDUE, action.action_id, action.due_at,
                                   action.description))  # fmt: skip
        elif action.due_at <= soon:
            found.append(Attention(Concern.ACTION_DUE, action.action_id, action.due_at,
                                   action.description))  # fmt: skip
    for referral in state.referrals.values():
        if referral.status is ReferralStatus.DISPATCH_FAILED:
            found.append(Attention(Concern.REFERRAL_FAILED, referral.referral_id,
                                   referral.updated_at, referral.provider_id))  # fmt: skip
        elif referral.status in (ReferralStatus.MADE, ReferralStatus.DISPATCHED):
            found.append(Attention(Concern.REFERRAL_WAITING, referral.referral_id,
                                   referral.made_at, referral.provider_id))  # fmt: skip
    draft = state.draft_plan
    if draft is not None:
        version = f"v{draft.plan_version}"
        if draft.status is PlanStatus.RETURNED:
            found.append(Attention(Concern.PLAN_RETURNED, version, draft.drafted_at,
                                   "; ".join(draft.returned_reasons)))  # fmt: skip
        elif draft.status is PlanStatus.SUBMITTED:
            found.append(Attention(Concern.PLAN_SUBMITTED, version, draft.drafted_at))
        elif draft.status is PlanStatus.DRAFT:
            found.append(Attention(Concern.PLAN_DRAFT, version, draft.drafted_at))
    transfer = state.pending_transfer
    if transfer is not None:
        found.append(Attention(Concern.TRANSFER_WAITING, transfer.transfer_id,
                               transfer.requested_at, transfer.to_team))  # fmt: skip
    today = now.date()
    for adv in state.advocacy.values():
        if adv.outcome is None and adv.next_step_date < today:
            found.append(Attention(Concern.ADVOCACY_OVERDUE, adv.advocacy_id,
                                   adv.next_step_date, adv.next_step))  # fmt: skip
    return sorted(found, key=_urgency)


def _urgency(item: Attention) -> tuple[int, int, str, str]:
    """By kind; escalations by level (the highest first); then the earliest first."""
    when = item.when.isoformat() if item.when is not None else ""
    return (ORDER[item.concern], -(item.level or 0), when, item.subject)
