"""Referrals to providers: made, dispatched (or failed to be), accepted, declined,
completed or withdrawn, the provider's reports, and the follow-up when a provider is slow
to answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from events.choices import SharedField
from events.fields import Identifier, PersonalShortText, PersonalText, ShortText
from events.registry import DomainEvent


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


class ReferralFollowUpDue(DomainEvent):
    type: Literal["ReferralFollowUpDue"] = "ReferralFollowUpDue"
    referral_id: Identifier
    waiting_since: datetime
