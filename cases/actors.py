"""Who acts: a staff member as the engine's edge has resolved them from the directory.

The CLI and API look the acting staff member up in the staff directory and pass the
resolved `Actor` with every command and query; rules check roles and teams on it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from events.fields import Identifier


class Role(StrEnum):
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADMIN = "admin"
    OPERATOR = "operator"
    """Runs the servers: may decode workflow payloads (the codec server), reads no case."""
    SYSTEM = "system"
    """The engine itself (timers, escalations, provider replies)."""


class Actor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    staff_id: Identifier
    role: Role
    team: Identifier | None = None
    """The staff member's team; managers, auditors, admins and operators may have none."""


SYSTEM_ACTOR = Actor(staff_id="casework", role=Role.SYSTEM)
