"""Timed reassessment and escalation: reviews scheduled, falling due and lapsing,
escalations raised up the ladder and resolved, and the agency policy (stream `policy`)
that sets their timings.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from events.fields import Identifier, ShortText
from events.registry import DomainEvent
from events.vocabulary.common import RiskLevel


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


class PolicyApplied(DomainEvent):
    """A new agency policy (stream `policy`); the body is validated by cases.policy.Policy."""

    type: Literal["PolicyApplied"] = "PolicyApplied"
    version: int = Field(ge=1)
    policy: dict[str, Any]
    open_cases_notified: int = Field(default=0, ge=0)
