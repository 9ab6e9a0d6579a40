"""Commands on the staff directory over the event store (stream `directory-staff`)."""

from __future__ import annotations

from cases.actors import Actor, Role
from directory import staff_rules
from directory.resources import ResourceDirectory
from directory.rules import KEEP, Keep
from directory.service import change_directory, load_resource_directory, load_staff_directory
from directory.staff import StaffDirectory, StaffMember, Team
from events.directory_events import STAFF_STREAM, StaffRole
from events.store import EventStore


async def bootstrap_admin(
    store: EventStore, staff_id: str, display_name: str, webhook_url: str | None = None
) -> StaffMember:
    """Add the very first admin; refused once the staff directory has any event.

    The new admin is the actor of their own event (nobody else exists yet).
    """
    # Check the fields first: the id must be valid before it can name the actor.
    staff_rules.decide_bootstrap_admin(StaffDirectory(), staff_id, display_name, webhook_url)
    actor = Actor(staff_id=staff_id, role=Role.ADMIN)
    directory = await change_directory(
        store,
        STAFF_STREAM,
        load_staff_directory,
        lambda d: staff_rules.decide_bootstrap_admin(d, staff_id, display_name, webhook_url),
        actor,
    )
    return directory.member(staff_id)


async def _providers(store: EventStore, provider_id: str | None) -> ResourceDirectory | None:
    """The resource directory when a provider is named (a provider member's), else None."""
    return None if provider_id is None else await load_resource_directory(store)


async def add_team(store: EventStore, actor: Actor, team_id: str, name: str) -> Team:
    directory = await change_directory(
        store,
        STAFF_STREAM,
        load_staff_directory,
        lambda d: staff_rules.decide_add_team(d, actor, team_id, name),
        actor,
    )
    return directory.team(team_id)


async def add_staff(
    store: EventStore,
    actor: Actor,
    staff_id: str,
    display_name: str,
    role: StaffRole | str,
    team: str | None = None,
    webhook_url: str | None = None,
    provider_id: str | None = None,
) -> StaffMember:
    """Add a member; a provider member (`provider_id`) acts for an active provider."""
    providers = await _providers(store, provider_id)
    directory = await change_directory(
        store,
        STAFF_STREAM,
        load_staff_directory,
        lambda d: staff_rules.decide_add_staff(
            d, actor, staff_id, display_name, role, team, webhook_url, provider_id, providers
        ),
        actor,
    )
    return directory.member(staff_id)


async def change_staff(
    store: EventStore,
    actor: Actor,
    staff_id: str,
    *,
    display_name: str | Keep = KEEP,
    role: StaffRole | str | Keep = KEEP,
    team: str | Keep | None = KEEP,
    webhook_url: str | Keep | None = KEEP,
    provider_id: str | Keep | None = KEEP,
    reason: str | None = None,
) -> StaffMember:
    """Change an active member's name, role, team, channel or provider (KEEP: leave as is)."""
    providers = await load_resource_directory(store)
    directory = await change_directory(
        store,
        STAFF_STREAM,
        load_staff_directory,
        lambda d: staff_rules.decide_change_staff(
            d,
            actor,
            staff_id,
            display_name=display_name,
            role=role,
            team=team,
            webhook_url=webhook_url,
            provider_id=provider_id,
            providers=providers,
            reason=reason,
        ),
        actor,
    )
    return directory.member(staff_id)


async def deactivate_staff(
    store: EventStore, actor: Actor, staff_id: str, reason: str
) -> StaffMember:
    directory = await change_directory(
        store,
        STAFF_STREAM,
        load_staff_directory,
        lambda d: staff_rules.decide_deactivate_staff(d, actor, staff_id, reason),
        actor,
    )
    return directory.member(staff_id)
