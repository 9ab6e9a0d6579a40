"""Events of the staff and resource directories.

The staff directory (stream `directory-staff`) holds teams and staff members with
their role, team and notification channel; the resource directory (stream
`directory-providers`) holds providers, their services, eligibility notes and
contact channel. Each change is one event whose metadata names the acting admin, so
the directories are as auditable as the cases.

Change events (`StaffMemberChanged`, `ProviderChanged`) carry the whole profile as
it is after the change, so folding them never has to guess what "unset" meant.

Staff accounts (signing in) have one stream per staff member, `account-<staff_id>`
(`account_stream`): invitations, password sets and changes, sign-ins that succeeded
or failed, lockouts, sign-outs, second-factor enrolment and personal access tokens.
Their metadata names the actor (the admin who invited, the staff member who signed
in, or the engine itself for a failed attempt). No account event carries a password,
a hash, an invitation code, a token or a TOTP secret: those live only in the identity
tables (application/identity/migrations/), and text fields refuse anything shaped
like a Casework secret.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from events.choices import ProviderCategory as ProviderCategory
from events.choices import StaffRole as StaffRole
from events.fields import Identifier, LongText, ShortText
from events.hsds_events import HSDS_EVENT_MODELS, ServiceProfileRecorded
from events.registry import DomainEvent
from events.vocabulary import Domain
from events.webhook_events import WEBHOOK_EVENT_MODELS

STAFF_STREAM = "directory-staff"
"""The stream of the staff directory (teams and staff members)."""

PROVIDER_STREAM = "directory-providers"
"""The stream of the resource directory (providers and their services)."""

CLIENT_LINKS_STREAM = "directory-client-links"
"""The stream of client links: two client references found to be one person."""

ACCOUNT_STREAM_PREFIX: Final = "account-"
"""Each staff member's account (signing in) is the stream `account-<staff_id>`."""


def account_stream(staff_id: str) -> str:
    """The stream of `staff_id`'s account events."""
    return f"{ACCOUNT_STREAM_PREFIX}{staff_id}"


# --- enumerations --------------------------------------------------------------------


TEAM_ROLES = frozenset({StaffRole.CASEWORKER, StaffRole.SUPERVISOR})
"""Roles that belong to a team and cannot be held without one."""


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
    provider_id: Identifier | None = Field(
        default=None, validate_default=True, exclude_if=lambda v: v is None
    )
    """The provider organisation (resource directory) a provider member acts for; only
    for the provider role (stored only when set: older events read unchanged)."""

    @field_validator("team")
    @classmethod
    def _team_for_team_roles(cls, team: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if team is None and role in TEAM_ROLES:
            raise ValueError(f"required for a {role}")
        if team is not None and role == StaffRole.PROVIDER:
            raise ValueError("a provider belongs to no team")
        return team

    @field_validator("provider_id")
    @classmethod
    def _provider_for_providers(cls, provider_id: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if provider_id is None and role == StaffRole.PROVIDER:
            raise ValueError("required for a provider")
        if provider_id is not None and role is not None and role != StaffRole.PROVIDER:
            raise ValueError(f"only a provider has one, not a {role}")
        return provider_id


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


# --- client links (stream directory-client-links) ---------------------------------------


class ClientsLinked(DomainEvent):
    """A supervisor found two client references to be one person (a duplicate opened
    before it was noticed): they are shown together, never merged. `reason` says how it
    was established, without personal details (it is not sealed: the stream has no
    client)."""

    type: Literal["ClientsLinked"] = "ClientsLinked"
    client_ref: Identifier
    other_ref: Identifier
    reason: ShortText


class ClientsUnlinked(DomainEvent):
    """A link between two client references was a mistake: they are two people again."""

    type: Literal["ClientsUnlinked"] = "ClientsUnlinked"
    client_ref: Identifier
    other_ref: Identifier
    reason: ShortText


# --- staff accounts (stream account-<staff_id>) ---------------------------------------

_SECRET_SHAPE = re.compile(r"cw[spi]_[A-Za-z0-9_-]{16,}|whsec_")


def _no_secret(value: str) -> str:
    if _SECRET_SHAPE.search(value):
        raise ValueError("must not contain a Casework token or invitation code")
    return value


PlainShortText = Annotated[ShortText, AfterValidator(_no_secret)]
"""A one-line text of an account event: never anything shaped like a Casework secret."""


class SignInMethod(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"
    """Single sign-on: the agency's identity provider vouched for the staff member."""


class SecondFactor(StrEnum):
    """What a session proved beyond the password (or the identity provider)."""

    NONE = "none"
    TOTP = "totp"
    ENROLMENT_REQUIRED = "enrolment_required"
    """An admin without TOTP where it is required: the session may only enrol it."""


class SignInFailure(StrEnum):
    WRONG_PASSWORD = "wrong_password"
    WRONG_TOTP = "wrong_totp"
    LOCKED = "locked"
    """Tried while the account was locked (not counted towards a new lock)."""
    NO_PASSWORD = "no_password"
    """The member has not set a password (no accepted invitation)."""
    DEACTIVATED = "deactivated"


class _AccountEvent(DomainEvent):
    staff_id: Identifier


class StaffInvited(_AccountEvent):
    """An admin issued a one-time invitation; earlier unused ones no longer work."""

    type: Literal["StaffInvited"] = "StaffInvited"
    invitation_id: str = Field(min_length=1, max_length=64)
    expires_at: AwareDatetime


class PasswordSet(_AccountEvent):
    """The staff member set a password (from an invitation) or changed it."""

    type: Literal["PasswordSet"] = "PasswordSet"
    via: Literal["invitation", "change"]
    invitation_id: str | None = Field(default=None, max_length=64)
    sessions_revoked: int = Field(default=0, ge=0)
    """Sessions ended by the change (every other session of the member)."""


class SignInSucceeded(_AccountEvent):
    type: Literal["SignInSucceeded"] = "SignInSucceeded"
    session_id: str = Field(min_length=1, max_length=64)
    method: SignInMethod
    second_factor: SecondFactor
    expires_at: AwareDatetime
    """When the session ends at the latest (the absolute timeout)."""
    client: PlainShortText | None = None
    """The caller's description of where the sign-in came from (address, user agent)."""


class SignInFailed(_AccountEvent):
    type: Literal["SignInFailed"] = "SignInFailed"
    reason: SignInFailure
    counted: bool
    """Whether it counts towards a lockout (wrong passwords and codes do)."""
    client: PlainShortText | None = None


class AccountLockedOut(_AccountEvent):
    """Too many failed sign-ins: no sign-in is accepted until `until`."""

    type: Literal["AccountLockedOut"] = "AccountLockedOut"
    until: AwareDatetime
    failures: int = Field(ge=1)


class SignedOut(_AccountEvent):
    type: Literal["SignedOut"] = "SignedOut"
    session_id: str = Field(min_length=1, max_length=64)


class TotpEnrolmentStarted(_AccountEvent):
    """A TOTP secret was issued to the member; it counts once confirmed with a code."""

    type: Literal["TotpEnrolmentStarted"] = "TotpEnrolmentStarted"


class TotpEnabled(_AccountEvent):
    """The member confirmed a code: sign-ins now need a TOTP code."""

    type: Literal["TotpEnabled"] = "TotpEnabled"
    session_id: str | None = Field(default=None, max_length=64)


class AccessTokenCreated(_AccountEvent):
    """A personal access token for scripts (the token itself is shown once, never stored)."""

    type: Literal["AccessTokenCreated"] = "AccessTokenCreated"
    token_id: str = Field(min_length=1, max_length=64)
    name: PlainShortText
    expires_at: AwareDatetime


class AccessTokenRevoked(_AccountEvent):
    type: Literal["AccessTokenRevoked"] = "AccessTokenRevoked"
    token_id: str = Field(min_length=1, max_length=64)


StaffEvent = TeamAdded | StaffMemberAdded | StaffMemberChanged | StaffMemberDeactivated
"""Every event of the staff directory stream."""

ProviderEvent = (
    ProviderAdded
    | ProviderChanged
    | ProviderDeactivated
    | ProviderServiceAdded
    | ProviderServiceWithdrawn
    | ServiceProfileRecorded
)
"""Every event of the resource directory stream."""

AccountEvent = (
    StaffInvited
    | PasswordSet
    | SignInSucceeded
    | SignInFailed
    | AccountLockedOut
    | SignedOut
    | TotpEnrolmentStarted
    | TotpEnabled
    | AccessTokenCreated
    | AccessTokenRevoked
)
"""Every event of a staff member's account stream (`account-<staff_id>`)."""

ACCOUNT_EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    StaffInvited,
    PasswordSet,
    SignInSucceeded,
    SignInFailed,
    AccountLockedOut,
    SignedOut,
    TotpEnrolmentStarted,
    TotpEnabled,
    AccessTokenCreated,
    AccessTokenRevoked,
)

DirectoryEvent = Annotated[StaffEvent | ProviderEvent | AccountEvent, Field(discriminator="type")]
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
    ClientsLinked,
    ClientsUnlinked,
    *ACCOUNT_EVENT_MODELS,
    *HSDS_EVENT_MODELS,
    *WEBHOOK_EVENT_MODELS,
)
