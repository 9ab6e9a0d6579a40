"""The staff and resource directories as use cases: read them in pages, change them.

Every entry point calls these (the HTTP API's `/api/v1/staff`, `/api/v1/teams`,
`/api/v1/providers`; the CLI's `casework staff …` and `casework provider …`):

* Reads ask the access table first (`Query.DIRECTORIES`: every role may read the
  directories) and answer one `Page` in a stable order (staff by staff id, teams by
  team id, providers by provider id). The directories are folds of their streams,
  cached per event store (`directory.service`), so their pages are cut from the fold
  in memory: no query to push the paging into.
* Changes take a typed request (the models below, whose fields are the events' own
  field types, so bad input is refused with the field named before anything is
  decided) and call the directory's command, whose rules refuse a non-admin
  (`NotPermitted`), a broken rule (`Refused`, naming the field) or a missing member,
  team, provider or service (`NotFound`). Nothing is written when anything is refused.

A change request names only what changes: a field left out stays as it is; `team`,
`webhook_url`, `phone` and `email` sent as null are removed (`changes()` turns the
request into the directory commands' `KEEP` / None / value).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import directory
from application.bootstrap import Casework
from application.read_models import InvalidQuery, Page, PageRequest, page_over
from cases.access import Query, query_relation
from cases.actors import Actor
from directory import KEEP, Provider, Service, StaffMember, Team
from events.directory_events import (
    EmailAddress,
    PhoneNumber,
    ProviderCategory,
    StaffRole,
    WebhookUrl,
)
from events.fields import Identifier, LongText, ShortText
from events.vocabulary import Domain

__all__ = [
    "Deactivation",
    "NewProvider",
    "NewService",
    "NewStaffMember",
    "NewTeam",
    "ProviderChange",
    "StaffChange",
    "add_provider",
    "add_service",
    "add_staff",
    "add_team",
    "change_provider",
    "change_staff",
    "deactivate_provider",
    "deactivate_staff",
    "list_providers",
    "list_staff",
    "list_teams",
    "show_provider",
    "show_staff",
    "withdraw_service",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------


def _given(request: BaseModel, name: str) -> Any:
    """KEEP when the field was left out, else its value (None: remove it)."""
    return getattr(request, name) if name in request.model_fields_set else KEEP


class _Change(_Request):
    """A change request: at least one attribute of the profile must be named."""

    @model_validator(mode="after")
    def _names_a_change(self) -> Self:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("name at least one attribute to change")
        return self


def _required(value: Any) -> Any:
    """A field that cannot be removed (a name, a role) sent as null is refused."""
    if value is None:
        raise ValueError("cannot be removed: leave it out to keep it as it is")
    return value


class NewTeam(_Request):
    team_id: Identifier
    name: ShortText


class NewStaffMember(_Request):
    """A new staff member (a caseworker or supervisor needs a team; a provider member
    the provider organisation it acts for, and no team)."""

    staff_id: Identifier
    display_name: ShortText
    role: StaffRole
    team: Identifier | None = None
    webhook_url: WebhookUrl | None = Field(None, description="Where notifications go.")
    provider_id: Identifier | None = Field(
        None, description="For the provider role: the provider (resource directory) it acts for."
    )


class StaffChange(_Change):
    """What changes in an active member's profile: fields left out stay as they are;
    `team` or `webhook_url` sent as null are removed."""

    display_name: ShortText | None = None
    role: StaffRole | None = None
    team: Identifier | None = None
    webhook_url: WebhookUrl | None = None
    provider_id: Identifier | None = None
    reason: ShortText | None = Field(None, description="Why (recorded with the change).")

    _kept = field_validator("display_name", "role")(_required)

    def changes(self) -> dict[str, Any]:
        """The keyword arguments of `directory.change_staff`."""
        return {
            "display_name": _given(self, "display_name"),
            "role": _given(self, "role"),
            "team": _given(self, "team"),
            "webhook_url": _given(self, "webhook_url"),
            "provider_id": _given(self, "provider_id"),
            "reason": self.reason,
        }


class Deactivation(_Request):
    reason: ShortText = Field(description="Why (recorded).")


class NewProvider(_Request):
    provider_id: Identifier
    name: ShortText
    category: ProviderCategory
    webhook_url: WebhookUrl = Field(description="Where referrals are dispatched.")
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    eligibility: LongText = ""


class ProviderChange(_Change):
    """What changes in an active provider's profile: fields left out stay as they are;
    `phone` or `email` sent as null are removed."""

    name: ShortText | None = None
    category: ProviderCategory | None = None
    webhook_url: WebhookUrl | None = None
    phone: PhoneNumber | None = None
    email: EmailAddress | None = None
    eligibility: LongText | None = None
    reason: ShortText | None = Field(None, description="Why (recorded with the change).")

    _kept = field_validator("name", "category", "webhook_url", "eligibility")(_required)

    def changes(self) -> dict[str, Any]:
        """The keyword arguments of `directory.change_provider`."""
        return {
            "name": _given(self, "name"),
            "category": _given(self, "category"),
            "webhook_url": _given(self, "webhook_url"),
            "phone": _given(self, "phone"),
            "email": _given(self, "email"),
            "eligibility": _given(self, "eligibility"),
            "reason": self.reason,
        }


class NewService(_Request):
    service_id: Identifier
    name: ShortText
    domains: list[Domain] = Field(min_length=1, max_length=len(Domain))
    eligibility: LongText = ""


# --- reads -------------------------------------------------------------------------------


async def list_staff(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    team: str | None = None,
    role: StaffRole | None = None,
    include_inactive: bool = False,
) -> Page[StaffMember]:
    """Staff members (of `team`, with `role`), active ones unless `include_inactive`, by
    staff id. InvalidQuery naming `team` for a team the directory does not have."""
    query_relation(actor, Query.DIRECTORIES)
    staff = await directory.load_staff_directory(app.store)
    if team is not None and team not in staff.teams:
        raise InvalidQuery("team", f"no team {team!r} in the staff directory")
    members = [m for m in staff.listing(team, include_inactive) if role is None or m.role is role]
    return page_over("staff", members, lambda m: (m.staff_id,), (str,), page)


async def show_staff(app: Casework, actor: Actor, staff_id: str) -> StaffMember:
    """One staff member, active or deactivated (NotFound if the directory has none)."""
    query_relation(actor, Query.DIRECTORIES)
    return (await directory.load_staff_directory(app.store)).member(staff_id)


async def list_teams(app: Casework, actor: Actor, page: PageRequest) -> Page[Team]:
    """The teams, by team id."""
    query_relation(actor, Query.DIRECTORIES)
    teams = list((await directory.load_staff_directory(app.store)).teams.values())
    return page_over("teams", teams, lambda t: (t.team_id,), (str,), page)


async def list_providers(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    category: ProviderCategory | None = None,
    domain: Domain | None = None,
    include_inactive: bool = False,
) -> Page[Provider]:
    """Providers (of `category`, with an active service for `domain`), active ones unless
    `include_inactive`, by provider id; each with its services."""
    query_relation(actor, Query.DIRECTORIES)
    resources = await directory.load_resource_directory(app.store)
    providers = resources.listing(category, domain, include_inactive)
    return page_over("providers", providers, lambda p: (p.provider_id,), (str,), page)


async def show_provider(app: Casework, actor: Actor, provider_id: str) -> Provider:
    """One provider, active or deactivated, with its contact channel and services."""
    query_relation(actor, Query.DIRECTORIES)
    return (await directory.load_resource_directory(app.store)).any_provider(provider_id)


# --- changes (admins: the directory's rules refuse anyone else) --------------------------------


async def add_team(app: Casework, actor: Actor, new: NewTeam) -> Team:
    return await directory.add_team(app.store, actor, new.team_id, new.name)


async def add_staff(app: Casework, actor: Actor, new: NewStaffMember) -> StaffMember:
    return await directory.add_staff(
        app.store, actor, new.staff_id, new.display_name, new.role, new.team, new.webhook_url,
        provider_id=new.provider_id,
    )  # fmt: skip


async def change_staff(
    app: Casework, actor: Actor, staff_id: str, change: StaffChange
) -> StaffMember:
    return await directory.change_staff(app.store, actor, staff_id, **change.changes())


async def deactivate_staff(
    app: Casework, actor: Actor, staff_id: str, deactivation: Deactivation
) -> StaffMember:
    return await directory.deactivate_staff(app.store, actor, staff_id, deactivation.reason)


async def add_provider(app: Casework, actor: Actor, new: NewProvider) -> Provider:
    return await directory.add_provider(
        app.store, actor, new.provider_id, new.name, new.category, new.webhook_url,
        new.phone, new.email, new.eligibility,
    )  # fmt: skip


async def change_provider(
    app: Casework, actor: Actor, provider_id: str, change: ProviderChange
) -> Provider:
    return await directory.change_provider(app.store, actor, provider_id, **change.changes())


async def deactivate_provider(
    app: Casework, actor: Actor, provider_id: str, deactivation: Deactivation
) -> Provider:
    return await directory.deactivate_provider(app.store, actor, provider_id, deactivation.reason)


async def add_service(app: Casework, actor: Actor, provider_id: str, new: NewService) -> Service:
    return await directory.add_service(
        app.store, actor, provider_id, new.service_id, new.name, new.domains, new.eligibility
    )


async def withdraw_service(
    app: Casework, actor: Actor, provider_id: str, service_id: str, withdrawal: Deactivation
) -> Service:
    return await directory.withdraw_service(
        app.store, actor, provider_id, service_id, withdrawal.reason
    )
