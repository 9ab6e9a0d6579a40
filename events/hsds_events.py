"""Events of the community's service directory imported from Open Referral HSDS 3.0.

A service's whole HSDS profile (`ServiceProfileRecorded`) is an event of the resource
directory's stream (`directory-providers`), so the directory stays one fold; each import
is summed up by `DirectoryImported` in the stream `directory-imports`. Contacts are the
provider's own staff (third-party data, not a client's): they are not sealed. No event
here carries anything of a client.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from events.fields import Identifier, LongText, ShortText
from events.registry import DomainEvent
from events.vocabulary import Domain

IMPORTS_STREAM = "directory-imports"
"""The stream of `DirectoryImported`: one event per import of an HSDS package."""

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TIME = re.compile(r"^([01][0-9]|2[0-4]):[0-5][0-9](:[0-5][0-9])?$")
_DAYS = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a BCP-47 language tag such as en or es-MX")
    return value


def _time(value: str) -> str:
    if not _TIME.match(value):
        raise ValueError("must be a time of day HH:MM")
    return value[:5]


def _days(value: str) -> str:
    days = [d.strip().upper() for d in value.split(",") if d.strip()]
    if not days or any(d not in _DAYS for d in days):
        raise ValueError("must be days such as MO,TU,WE (RFC 5545 BYDAY)")
    return ",".join(days)


LanguageTag = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=35), AfterValidator(_language)
]
TimeOfDay = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_time)]
ByDay = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_days)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Part):
    """When the service is open: on `byday`, from `opens_at` to `closes_at` (local time
    in `timezone`, else the agency's), between `valid_from` and `valid_to` if given."""

    byday: ByDay
    opens_at: TimeOfDay
    closes_at: TimeOfDay
    valid_from: date | None = None
    valid_to: date | None = None
    timezone: ShortText | None = None


class ServiceArea(_Part):
    name: ShortText
    extent_type: ShortText | None = None
    codes: list[ShortText] = Field(default_factory=list, max_length=500)


class Location(_Part):
    location_id: Identifier
    name: ShortText | None = None
    address: ShortText | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class Contact(_Part):
    """A named contact at the provider (its own staff; never a client)."""

    name: ShortText | None = None
    title: ShortText | None = None
    phone: ShortText | None = None
    email: ShortText | None = None


class Capacity(_Part):
    available: float = Field(ge=0)
    maximum: float | None = Field(default=None, ge=0)
    unit: ShortText
    updated: datetime | None = None


class ServiceProfile(_Part):
    """A service's HSDS profile as Casework keeps it: compared whole between imports."""

    name: ShortText
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    domains: list[Domain] = Field(min_length=1, max_length=len(Domain))
    description: LongText = ""
    url: ShortText | None = None
    email: ShortText | None = None
    eligibility: LongText = ""
    minimum_age: float | None = Field(default=None, ge=0, le=150)
    maximum_age: float | None = Field(default=None, ge=0, le=150)
    languages: list[LanguageTag] = Field(default_factory=list, max_length=100)
    schedules: list[Schedule] = Field(default_factory=list, max_length=100)
    service_areas: list[ServiceArea] = Field(default_factory=list, max_length=100)
    locations: list[Location] = Field(default_factory=list, max_length=200)
    contacts: list[Contact] = Field(default_factory=list, max_length=50)
    capacities: list[Capacity] = Field(default_factory=list, max_length=20)


class ServiceProfileRecorded(DomainEvent):
    """A service's HSDS profile, new or changed (`changed` names the profile's fields
    that differ from the one before; every field for a new service)."""

    type: Literal["ServiceProfileRecorded"] = "ServiceProfileRecorded"
    provider_id: Identifier
    service_id: Identifier
    profile: ServiceProfile
    changed: list[ShortText] = Field(max_length=50)
    import_id: Identifier


class ImportRefusal(_Part):
    """A row of the package that was not imported, and why (never its contents)."""

    resource: ShortText
    row: int = Field(ge=0)
    id: ShortText | None = None
    field: ShortText
    reason: ShortText


class DirectoryImported(DomainEvent):
    """An HSDS package imported into the resource directory (stream `directory-imports`)."""

    type: Literal["DirectoryImported"] = "DirectoryImported"
    import_id: Identifier
    source_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    hsds_version: ShortText
    added: int = Field(ge=0)
    changed: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    withdrawn: int = Field(ge=0)
    refused: int = Field(ge=0)
    refusals: list[ImportRefusal] = Field(default_factory=list, max_length=1000)
    """The first 1,000 refusals (`refused` counts them all)."""


HSDS_EVENT_MODELS: tuple[type[DomainEvent], ...] = (ServiceProfileRecorded, DirectoryImported)
