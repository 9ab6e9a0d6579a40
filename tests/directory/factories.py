"""Directories built from events, without a server."""

from __future__ import annotations

from cases.actors import Actor, Role
from directory import ResourceDirectory, StaffDirectory
from events.directory_events import (
    ContactChannel,
    ProviderAdded,
    ProviderCategory,
    ProviderServiceAdded,
    StaffMemberAdded,
    StaffRole,
    TeamAdded,
)
from events.vocabulary import Domain

ADMIN = Actor(staff_id="ada", role=Role.ADMIN)
SUPERVISOR = Actor(staff_id="sam", role=Role.SUPERVISOR, team="north")


def staff_directory() -> StaffDirectory:
    """Admin ada; team north with supervisor sam and caseworker cal; manager mia."""
    return StaffDirectory.from_events(
        [
            StaffMemberAdded(staff_id="ada", display_name="Ada Admin", role=StaffRole.ADMIN),
            TeamAdded(team_id="north", name="North team"),
            StaffMemberAdded(
                staff_id="sam",
                display_name="Sam Supervisor",
                role=StaffRole.SUPERVISOR,
                team="north",
                webhook_url="http://127.0.0.1:9/sam",
            ),
            StaffMemberAdded(
                staff_id="cal",
                display_name="Cal Caseworker",
                role=StaffRole.CASEWORKER,
                team="north",
            ),
            StaffMemberAdded(staff_id="mia", display_name="Mia Manager", role=StaffRole.MANAGER),
        ]
    )


def resource_directory() -> ResourceDirectory:
    """Provider shelter-1 with service beds (housing)."""
    return ResourceDirectory.from_events(
        [
            ProviderAdded(
                provider_id="shelter-1",
                name="Harbour Shelter",
                category=ProviderCategory.HOUSING,
                channel=ContactChannel(webhook_url="https://shelter.example/referrals"),
                eligibility="adults",
            ),
            ProviderServiceAdded(
                provider_id="shelter-1",
                service_id="beds",
                name="Emergency beds",
                domains=[Domain.HOUSING],
            ),
        ]
    )
