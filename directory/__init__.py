"""The staff and resource directories: event-sourced data the engine consults.

The staff directory (stream `directory-staff`) holds teams and staff members with
their roles (caseworker, supervisor, manager, auditor, admin, operator); the resource
directory (stream `directory-providers`) holds providers, their services,
eligibility notes and contact channel. Reads fold the stream (cached per store by
stream version); every change is an event whose metadata names the acting admin.

Pure parts (no I/O): `StaffDirectory`, `ResourceDirectory` and the `decide_*`
functions. Over the event store: `load_*`, `resolve_actor` and the commands.
"""

from __future__ import annotations

from directory.errors import DirectoryError, NotFound, NotPermitted, Refused
from directory.resource_rules import (
    decide_add_provider,
    decide_add_service,
    decide_change_provider,
    decide_deactivate_provider,
    decide_withdraw_service,
)
from directory.resource_service import (
    add_provider,
    add_service,
    change_provider,
    deactivate_provider,
    withdraw_service,
)
from directory.resources import Provider, ResourceDirectory, Service
from directory.rules import KEEP, Keep, require_admin
from directory.service import (
    load_resource_directory,
    load_staff_directory,
    remember_resources,
    resolve_actor,
)
from directory.staff import StaffDirectory, StaffMember, Team
from directory.staff_rules import (
    decide_add_staff,
    decide_add_team,
    decide_bootstrap_admin,
    decide_change_staff,
    decide_deactivate_staff,
)
from directory.staff_service import (
    add_staff,
    add_team,
    bootstrap_admin,
    change_staff,
    deactivate_staff,
)
from events.directory_events import PROVIDER_STREAM, STAFF_STREAM

__all__ = [
    "KEEP",
    "PROVIDER_STREAM",
    "STAFF_STREAM",
    "DirectoryError",
    "Keep",
    "NotFound",
    "NotPermitted",
    "Provider",
    "Refused",
    "ResourceDirectory",
    "Service",
    "StaffDirectory",
    "StaffMember",
    "Team",
    "add_provider",
    "add_service",
    "add_staff",
    "add_team",
    "bootstrap_admin",
    "change_provider",
    "change_staff",
    "deactivate_provider",
    "deactivate_staff",
    "decide_add_provider",
    "decide_add_service",
    "decide_add_staff",
    "decide_add_team",
    "decide_bootstrap_admin",
    "decide_change_provider",
    "decide_change_staff",
    "decide_deactivate_provider",
    "decide_deactivate_staff",
    "decide_withdraw_service",
    "load_resource_directory",
    "load_staff_directory",
    "remember_resources",
    "require_admin",
    "resolve_actor",
    "withdraw_service",
]
