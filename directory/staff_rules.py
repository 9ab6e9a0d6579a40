"""Pure decisions over the staff directory: a command and the directory give one event.

Each function takes the acting `Actor` (except the bootstrap of the very first
admin), checks every rule and returns the event to append, or raises `NotPermitted`,
`Refused`, `NotFound` or `EventValidationError` with a message naming the reason.
"""

from __future__ import annotations

from cases.actors import Actor
from directory.errors import NotFound, Refused
from directory.resources import ResourceDirectory
from directory.rules import KEEP, Keep, build, kept, require_admin
from directory.staff import StaffDirectory, StaffMember
from events.directory_events import (
    TEAM_ROLES,
    StaffMemberAdded,
    StaffMemberChanged,
    StaffMemberDeactivated,
    StaffRole,
    TeamAdded,
)


def _role(value: StaffRole | str) -> StaffRole:
    try:
        return StaffRole(value)
    except ValueError:
        choices = ", ".join(r.value for r in StaffRole)
        raise Refused(f"role: {value!r} is not a staff role ({choices})") from None


def _check_team(directory: StaffDirectory, role: StaffRole, team: str | None) -> None:
    if team is None:
        if role in TEAM_ROLES:
            raise Refused(f"team: required for a {role}")
        return
    if team not in directory.teams:
        raise Refused(f"team: no team {team!r} in the staff directory; add it first")


def _check_provider(
    providers: ResourceDirectory | None, role: StaffRole, provider_id: str | None
) -> None:
    """A provider member acts for an active provider of the resource directory (and only
    a provider member names one; the event's validators say so too)."""
    if role is not StaffRole.PROVIDER:
        if provider_id is not None:
            raise Refused(f"provider: only a provider member acts for a provider, not a {role}")
        return
    if provider_id is None:
        raise Refused("provider: required for a provider member (--provider)")
    if providers is None:
        raise Refused("provider: the resource directory was not consulted")
    try:
        providers.provider(provider_id)
    except NotFound:
        raise Refused(
            f"provider: no active provider {provider_id!r} in the resource directory"
        ) from None


def _check_new_id(directory: StaffDirectory, staff_id: str) -> None:
    if staff_id in directory.members:
        existing = directory.members[staff_id]
        state = "" if existing.active else " (deactivated; ids are never reused)"
        raise Refused(f"staff_id: {staff_id!r} is already in the staff directory{state}")


def _keeps_an_admin(directory: StaffDirectory, member: StaffMember, action: str) -> None:
    others = [a for a in directory.admins() if a.staff_id != member.staff_id]
    if member.role is StaffRole.ADMIN and member.active and not others:
        raise Refused(f"{member.staff_id} is the last active admin; {action} would lock out")


def decide_bootstrap_admin(
    directory: StaffDirectory,
    staff_id: str,
    display_name: str,
    webhook_url: str | None = None,
) -> StaffMemberAdded:
    """The first admin, allowed only while the staff directory has no event at all."""
    if not directory.is_empty:
        raise Refused(
            "bootstrap-admin is only allowed while the staff directory is empty; "
            "ask an existing admin to add staff"
        )
    return build(
        StaffMemberAdded,
        staff_id=staff_id,
        display_name=display_name,
        role=StaffRole.ADMIN,
        webhook_url=webhook_url,
    )


def decide_add_team(directory: StaffDirectory, actor: Actor, team_id: str, name: str) -> TeamAdded:
    require_admin(actor, "add a team")
    if team_id in directory.teams:
        raise Refused(f"team_id: {team_id!r} is already in the staff directory")
    return build(TeamAdded, team_id=team_id, name=name)


def decide_add_staff(
    directory: StaffDirectory,
    actor: Actor,
    staff_id: str,
    display_name: str,
    role: StaffRole | str,
    team: str | None = None,
    webhook_url: str | None = None,
    provider_id: str | None = None,
    providers: ResourceDirectory | None = None,
) -> StaffMemberAdded:
    """`providers`: the resource directory, consulted for a provider member's provider."""
    require_admin(actor, "add staff")
    checked_role = _role(role)
    _check_provider(providers, checked_role, provider_id)
    event = build(
        StaffMemberAdded,
        staff_id=staff_id,
        display_name=display_name,
        role=checked_role,
        team=team,
        webhook_url=webhook_url,
        provider_id=provider_id,
    )
    _check_new_id(directory, event.staff_id)
    _check_team(directory, event.role, event.team)
    return event


def decide_change_staff(
    directory: StaffDirectory,
    actor: Actor,
    staff_id: str,
    *,
    display_name: str | Keep = KEEP,
    role: StaffRole | str | Keep = KEEP,
    team: str | Keep | None = KEEP,
    webhook_url: str | Keep | None = KEEP,
    provider_id: str | Keep | None = KEEP,
    providers: ResourceDirectory | None = None,
    reason: str | None = None,
) -> StaffMemberChanged:
    """A new profile for an active member; pass KEEP for what stays as it is (a member
    leaving the provider role leaves their provider behind)."""
    require_admin(actor, "change staff")
    member = directory.active_member(staff_id)
    new_role = member.role if role is KEEP else _role(role)
    if provider_id is KEEP:
        new_provider = member.provider_id if new_role is StaffRole.PROVIDER else None
    else:
        new_provider = provider_id
    if new_provider != member.provider_id or new_role is not member.role:
        _check_provider(providers, new_role, new_provider)
    event = build(
        StaffMemberChanged,
        staff_id=staff_id,
        display_name=kept(display_name, member.display_name),
        role=new_role,
        team=kept(team, member.team),
        webhook_url=kept(webhook_url, member.webhook_url),
        provider_id=new_provider,
        reason=reason,
    )
    _check_team(directory, event.role, event.team)
    unchanged = (
        event.display_name == member.display_name
        and event.role is member.role
        and event.team == member.team
        and event.webhook_url == member.webhook_url
        and event.provider_id == member.provider_id
    )
    if unchanged:
        raise Refused(f"nothing to change for {staff_id}: the profile is already so")
    if event.role is not StaffRole.ADMIN:
        _keeps_an_admin(directory, member, "changing their role")
    return event


def decide_deactivate_staff(
    directory: StaffDirectory, actor: Actor, staff_id: str, reason: str
) -> StaffMemberDeactivated:
    require_admin(actor, "deactivate staff")
    member = directory.active_member(staff_id)
    _keeps_an_admin(directory, member, "deactivating them")
    return build(StaffMemberDeactivated, staff_id=staff_id, reason=reason)
