"""Intake: the case opened from a referral, the client's consent to share, and the
assessment of their needs across the domains (with the client's confidential details).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from events.choices import Domain, ReferralSource, SharedField
from events.fields import (
    Identifier,
    PersonalField,
    PersonalShortText,
    PersonalText,
    ShortList,
    ShortText,
)
from events.registry import DomainEvent
from events.vocabulary.common import ClientContact, RiskLevel, _Part


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


class ClientMatchesReviewed(DomainEvent):
    """At intake the new client looked like existing clients (the duplicate check,
    application/clients/): the caseworker saw `candidates` (with `hidden` more on cases
    they may not see) and confirmed a new client. Recorded with the opening (the feature
    cases/features/intake_review.py)."""

    type: Literal["ClientMatchesReviewed"] = "ClientMatchesReviewed"
    candidates: list[Identifier] = Field(default_factory=list, max_length=50)
    hidden: int = Field(default=0, ge=0)
    decision: Literal["new_client"] = "new_client"


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
