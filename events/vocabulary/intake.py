"""Intake: the case opened from a referral, the client's consent to share, and the
assessment of their needs across the domains (with the client's confidential details).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

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

_LANGUAGE_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3})(?P<extlang>(?:-[a-z]{3}){0,3})"
    r"(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)$"
)


def _language_tag(value: str) -> str:
    """A well-formed BCP 47 language tag (RFC 5646: language, extlang, script, region,
    variants), in its canonical case: `es`, `pt-BR`, `zh-Hant-TW`, `ar`, `sgn-ase`.
    An underscore is read as a hyphen (`pt_BR`); anything else is refused."""
    found = _LANGUAGE_TAG.match(value.strip().replace("_", "-").lower())
    if found is None:
        raise ValueError(
            "not a language tag (BCP 47): a language code such as es, pt-BR, ar or zh-Hant"
        )
    parts = [found["language"] + found["extlang"]]
    if found["script"]:
        parts.append(found["script"].title())
    if found["region"]:
        parts.append(found["region"].upper())
    return "-".join(parts) + found["variants"]


LanguageTag = Annotated[str, Field(min_length=2, max_length=35), AfterValidator(_language_tag)]
"""A client's language as a BCP 47 tag (`es`, `pt-BR`, `ar`), checked and put in its
canonical case at the edge, the field named in the error."""


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
    preferred_language: Annotated[LanguageTag | None, PersonalField()] = None
    """The language the client prefers to be served in (None: not recorded)."""
    interpreter_needed: Annotated[bool | None, PersonalField()] = None
    """Whether the client needs an interpreter (None: not recorded, read as no; optional
    so that it reads as not recorded once the client is forgotten)."""


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


class ClientLanguageRecorded(DomainEvent):
    """The client's preferred language and interpreter need, recorded after the opening
    (cases/features/client_language.py); they replace what the case held. Personal, as
    in `ClientDetails`."""

    type: Literal["ClientLanguageRecorded"] = "ClientLanguageRecorded"
    preferred_language: Annotated[LanguageTag | None, PersonalField()] = None
    interpreter_needed: Annotated[bool | None, PersonalField()] = None


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
