"""Events of the staff and resource directories.

The staff directory (stream `directory-staff`) holds teams and staff members with
their role, team and notification channel; the resource directory (stream
`directory-providers`) holds providers, their services, eligibility notes and
contact channel. Each change is one event whose metadata names the acting admin, so
the directories are as auditable as the cases.

Change events (`StaffMemberChanged`, `ProviderChanged`) carry the whole profile as
it is after the change, so folding them never has to guess what "unset" meant.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from events.fields import Identifier, LongText, ShortText
from events.registry import DomainEvent
from events.vocabulary import Domain

STAFF_STREAM = "directory-staff"
"""The stream of the staff directory (teams and staff members)."""

PROVIDER_STREAM = "directory-providers"
"""The stream of the resource directory (providers and their services)."""


# --- enumerations --------------------------------------------------------------------


class StaffRole(StrEnum):
    """Roles a staff member can hold (the values of `cases.actors.Role` for people)."""

    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADMIN = "admin"


TEAM_ROLES = frozenset({StaffRole.CASEWORKER, StaffRole.SUPERVISOR})
"""Roles that belong to a team and cannot be held without one."""


class ProviderCategory(StrEnum):
    HOUSING = "housing"
    FOOD_ASSISTANCE = "food_assistance"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_USE_TREATMENT = "substance_use_treatment"
    JOB_TRAINING = "job_training"
    BENEFITS_ADVICE = "benefits_advice"
    FAMILY_SUPPORT = "family_support"
    OTHER = "other"


# --- field types ---------------------------------------------------------------------


def _http_url(value: str) -> str:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be an http or https URL without spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise ValueError("must be an http or https URL (malformed host or port)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http or https URL (for example https://host/path)")
    if not parts.hostname:
        raise ValueError("must be an http or https URL with a host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials in the URL")
    if port == 0:
        raise ValueError("must be an http or https URL (port 0 is not a port)")
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_http_url),
]
"""An absolute http(s) URL with a host, no credentials, up to 2,000 characters."""

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{3,30}$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an email address such as intake@example.org")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value) or sum(c.isdigit() for c in value) < 3:
        raise ValueError("must be a phone number: digits, spaces, + ( ) . - only")
    return value


EmailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)
]
PhoneNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=30), AfterValidator(_phone)
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactChannel(_Part):
    """How a provider is reached: referrals are dispatched to its webhook."""

    webhook_url: WebhookUrl
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None


# --- staff directory -----------------------------------------------------------------


class _StaffProfile(DomainEvent):
    """A staff member's role, team and channel; a caseworker or supervisor needs a team."""

    staff_id: Identifier
    display_name: ShortText
    role: StaffRole
    team: Identifier | None = Field(default=None, validate_default=True)
    webhook_url: WebhookUrl | None = None
    """Where the engine notifies this member (tasks, escalations); none: no notices."""

    @field_validator("team")
    @classmethod
    def _team_for_team_roles(cls, team: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if team is None and role in TEAM_ROLES:
            raise ValueError(f"required for a {role}")
        return team


class TeamAdded(DomainEvent):
    type: Literal["TeamAdded"] = "TeamAdded"
    team_id: Identifier
    name: ShortText


class StaffMemberAdded(_StaffProfile):
    type: Literal["StaffMemberAdded"] = "StaffMemberAdded"


class StaffMemberChanged(_StaffProfile):
    """The member's whole profile after a change of name, role, team or channel."""

    type: Literal["StaffMemberChanged"] = "StaffMemberChanged"
    reason: ShortText | None = None


class StaffMemberDeactivated(DomainEvent):
    """The member may no longer act; the id stays taken so history stays unambiguous."""

    type: Literal["StaffMemberDeactivated"] = "StaffMemberDeactivated"
    staff_id: Identifier
    reason: ShortText


# --- resource directory --------------------------------------------------------------


class _ProviderProfile(DomainEvent):
    provider_id: Identifier
    name: ShortText
    category: ProviderCategory
    channel: ContactChannel
    eligibility: LongText = ""


class ProviderAdded(_ProviderProfile):
    type: Literal["ProviderAdded"] = "ProviderAdded"


class ProviderChanged(_ProviderProfile):
    """The provider's whole profile after a change."""

    type: Literal["ProviderChanged"] = "ProviderChanged"
    reason: ShortText | None = None


class ProviderDeactivated(DomainEvent):
    """No new referrals go to this provider; its id stays taken."""

    type: Literal["ProviderDeactivated"] = "ProviderDeactivated"
    provider_id: Identifier
    reason: ShortText


class ProviderServiceAdded(DomainEvent):
    type: Literal["ProviderServiceAdded"] = "ProviderServiceAdded"
    provider_id: Identifier
    service_id: Identifier
    name: ShortText
    eligibility: LongText = ""
    domains: list[Domain] = Field(min_length=1, max_length=len(Domain))
    """The assessment domains whose needs this service addresses."""

    @field_validator("domains")
    @classmethod
    def _distinct(cls, domains: list[Domain]) -> list[Domain]:
        if len(set(domains)) != len(domains):
            raise ValueError("each domain may be named once")
        return domains


class ProviderServiceWithdrawn(DomainEvent):
    """The provider no longer offers this service; its id stays taken."""

    type: Literal["ProviderServiceWithdrawn"] = "ProviderServiceWithdrawn"
    provider_id: Identifier
    service_id: Identifier
    reason: ShortText


StaffEvent = TeamAdded | StaffMemberAdded | StaffMemberChanged | StaffMemberDeactivated
"""Every event of the staff directory stream."""

ProviderEvent = (
    ProviderAdded
    | ProviderChanged
    | ProviderDeactivated
    | ProviderServiceAdded
    | ProviderServiceWithdrawn
)
"""Every event of the resource directory stream."""

DirectoryEvent = Annotated[StaffEvent | ProviderEvent, Field(discriminator="type")]
"""Every directory event, discriminated on `type`."""

directory_event_adapter: TypeAdapter[DirectoryEvent] = TypeAdapter(DirectoryEvent)

DIRECTORY_EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    TeamAdded,
    StaffMemberAdded,
    StaffMemberChanged,
    StaffMemberDeactivated,
    ProviderAdded,
    ProviderChanged,
    ProviderDeactivated,
    ProviderServiceAdded,
    ProviderServiceWithdrawn,
)
