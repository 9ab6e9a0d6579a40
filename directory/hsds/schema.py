"""HSDS 3.0's resources as Casework reads them, row by row (pydantic models).

The required fields are those of openreferral/specification's `schema/*.json` (and,
for the tabular form, `constraints_tabular_required`): an organization needs `id`,
`name`, `description`; a service `id`, `name`, `status` and (tabular) `organization_id`.
Fields Casework does not keep are allowed and ignored (`extra="ignore"`). Ids must fit
Casework's identifiers (a UUID does). A CSV cell arrives as text: numbers are parsed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from events.fields import Identifier, LongText, ShortText


def _text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[ShortText, BeforeValidator(_text)]
Id = Annotated[Identifier, BeforeValidator(_text)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrganizationRow(_Row):
    id: Id
    name: Text
    description: Annotated[LongText, StringConstraints(min_length=1)]
    email: Text | None = None
    website: Text | None = None


class ServiceRow(_Row):
    id: Id
    organization_id: Id
    name: Text
    status: Literal["active", "inactive", "defunct", "temporarily closed"]
    description: LongText = ""
    url: Text | None = None
    email: Text | None = None
    eligibility_description: LongText = ""
    minimum_age: float | None = Field(default=None, ge=0, le=150)
    maximum_age: float | None = Field(default=None, ge=0, le=150)


class LanguageRow(_Row):
    service_id: Id | None = None
    code: Text
    name: Text | None = None


class ScheduleRow(_Row):
    service_id: Id | None = None
    byday: Text
    opens_at: Text
    closes_at: Text
    valid_from: str | None = None
    valid_to: str | None = None
    timezone: Text | None = None


class ServiceAreaRow(_Row):
    service_id: Id | None = None
    name: Text
    extent: LongText | None = None
    extent_type: Text | None = None


class LocationRow(_Row):
    id: Id
    name: Text | None = None
    latitude: float | None = None
    longitude: float | None = None


class ServiceAtLocationRow(_Row):
    service_id: Id | None = None
    location_id: Id


class ContactRow(_Row):
    id: Id | None = None
    service_id: Id | None = None
    name: Text | None = None
    title: Text | None = None
    email: Text | None = None


class PhoneRow(_Row):
    service_id: Id | None = None
    contact_id: Id | None = None
    number: Text


class CapacityRow(_Row):
    service_id: Id | None = None
    unit_id: Id | None = None
    available: float = Field(ge=0)
    maximum: float | None = Field(default=None, ge=0)
    updated: str | None = None


class UnitRow(_Row):
    id: Id
    name: Text


class AttributeRow(_Row):
    link_id: Id | None = None
    service_id: Id | None = None
    taxonomy_term_id: Id | None = None
    value: Text | None = None


class TaxonomyTermRow(_Row):
    id: Id
    code: Text | None = None
    name: Text
