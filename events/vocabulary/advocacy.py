"""Advocacy and the client's feedback (issue 16): barriers taken up with an organisation
on the client's behalf, step by step to an outcome, and the client's opinion of a
service, a referral or their plan.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from events.choices import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ConsentGiver,
    FeedbackSubject,
)
from events.fields import Identifier, PersonalShortText, PersonalText, ShortText
from events.registry import DomainEvent


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
