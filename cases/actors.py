"""Who acts: a staff member as the engine's edge has resolved them from the directory.

The CLI and API look the acting staff member up in the staff directory and pass the
resolved `Actor` with every command and query; rules check roles and teams on it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    PROVIDER = "provider"
    """A member of a provider organisation (`Actor.provider_id`): sees and answers only the
    referrals sent to that organisation (the provider portal), never a case."""


class Actor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    staff_id: Identifier
    role: Role
    team: Identifier | None = None
    """The staff member's team; managers, auditors, admins and operators may have none."""
    provider_id: Identifier | None = Field(default=None, exclude_if=lambda v: v is None)
    """The provider organisation a provider acts for (required for, and only for, the
    provider role). Serialised only when set, so every other actor's payload (in workflow
    histories, Update arguments) stays byte-identical to what older workers wrote."""

    @model_validator(mode="after")
    def _provider_iff_provider_role(self) -> Actor:
        if self.role is Role.PROVIDER and self.provider_id is None:
            raise ValueError("provider_id: required for a provider")
        if self.role is not Role.PROVIDER and self.provider_id is not None:
            raise ValueError(f"provider_id: only a provider has one, not a {self.role}")
        return self


SYSTEM_ACTOR = Actor(staff_id="casework", role=Role.SYSTEM)
