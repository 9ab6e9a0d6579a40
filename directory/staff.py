"""The staff directory as a pure fold of its events: teams, members and their roles.

`StaffDirectory` is immutable: `fold(events)` returns a new directory, so a cached
one can be shared and brought up to date without copying the stream again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from cases.actors import Actor, Role
from directory.errors import NotFound
from events.directory_events import (
    StaffMemberAdded,
    StaffMemberChanged,
    StaffMemberDeactivated,
    StaffRole,
    TeamAdded,
)
from events.registry import DomainEvent


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    team_id: str
    name: str


class StaffMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    staff_id: str
    display_name: str
    role: StaffRole
    team: str | None = None
    webhook_url: str | None = None
    provider_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """The provider organisation a provider member acts for (None for every other role:
    then left out of the member's JSON, which stays as it was before providers)."""
    active: bool = True
    deactivation_reason: str | None = None

    def as_actor(self) -> Actor:
        return Actor(
            staff_id=self.staff_id,
            role=Role(self.role.value),
            team=self.team,
            provider_id=self.provider_id,
        )


@dataclass(frozen=True)
class StaffDirectory:
    """Teams and staff members as of stream version `version`."""

    teams: Mapping[str, Team] = field(default_factory=lambda: MappingProxyType({}))
    members: Mapping[str, StaffMember] = field(default_factory=lambda: MappingProxyType({}))
    version: int = 0
    """The stream version folded so far (0: no event yet)."""

    @classmethod
    def from_events(cls, events: Iterable[DomainEvent]) -> StaffDirectory:
        return cls().fold(events)

    def fold(self, events: Iterable[DomainEvent]) -> StaffDirectory:
        """This directory with `events` (the stream's next events, in order) applied."""
        teams = dict(self.teams)
        members = dict(self.members)
        version = self.version
        for event in events:
            _apply(teams, members, event)
            version += 1
        if version == self.version:
            return self
        return StaffDirectory(MappingProxyType(teams), MappingProxyType(members), version)

    # --- lookups ----------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        """True before the first event: only then may the first admin bootstrap."""
        return self.version == 0

    def team(self, team_id: str) -> Team:
        try:
            return self.teams[team_id]
        except KeyError:
            raise NotFound(f"no team {team_id!r} in the staff directory") from None

    def member(self, staff_id: str) -> StaffMember:
        """The member with this id, active or deactivated."""
        try:
            return self.members[staff_id]
        except KeyError:
            raise NotFound(f"no staff member {staff_id!r} in the staff directory") from None

    def active_member(self, staff_id: str) -> StaffMember:
        member = self.member(staff_id)
        if not member.active:
            raise NotFound(
                f"staff member {staff_id!r} is deactivated ({member.deactivation_reason})"
            )
        return member

    def actor(self, staff_id: str) -> Actor:
        """The acting staff member; NotFound (a LookupError) if unknown or deactivated."""
        return self.active_member(staff_id).as_actor()

    def members_of(self, team: str) -> tuple[StaffMember, ...]:
        """Active members of `team`, in the order they were added."""
        return tuple(m for m in self.members.values() if m.active and m.team == team)

    def supervisors_of(self, team: str) -> tuple[StaffMember, ...]:
        return tuple(m for m in self.members_of(team) if m.role is StaffRole.SUPERVISOR)

    def with_role(self, role: StaffRole) -> tuple[StaffMember, ...]:
        return tuple(m for m in self.members.values() if m.active and m.role is role)

    def managers(self) -> tuple[StaffMember, ...]:
        return self.with_role(StaffRole.MANAGER)

    def admins(self) -> tuple[StaffMember, ...]:
        return self.with_role(StaffRole.ADMIN)

    def listing(self, team: str | None = None, include_inactive: bool = False) -> list[StaffMember]:
        """Members (of `team` if given), active ones only unless `include_inactive`."""
        return [
            m
            for m in self.members.values()
            if (include_inactive or m.active) and (team is None or m.team == team)
        ]


def _apply(teams: dict[str, Team], members: dict[str, StaffMember], event: DomainEvent) -> None:
    match event:
        case TeamAdded():
            teams[event.team_id] = Team(team_id=event.team_id, name=event.name)
        case StaffMemberAdded() | StaffMemberChanged():
            previous = members.get(event.staff_id)
            members[event.staff_id] = StaffMember(
                staff_id=event.staff_id,
                display_name=event.display_name,
                role=event.role,
                team=event.team,
                webhook_url=event.webhook_url,
                provider_id=event.provider_id,
                active=previous.active if previous else True,
                deactivation_reason=previous.deactivation_reason if previous else None,
            )
        case StaffMemberDeactivated():
            current = members[event.staff_id]
            members[event.staff_id] = current.model_copy(
                update={"active": False, "deactivation_reason": event.reason}
            )
        case _:
            raise ValueError(f"{event.type} is not an event of the staff directory")
