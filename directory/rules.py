"""Rules shared by both directories: who may change them, and building valid events."""

from __future__ import annotations

from enum import Enum
from typing import Any, Final, Literal, TypeVar

from pydantic import ValidationError

from cases.actors import Actor, Role
from directory.errors import NotPermitted
from events.registry import DomainEvent, EventValidationError

E = TypeVar("E", bound=DomainEvent)
T = TypeVar("T")


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""Passed to a change command for an attribute that stays as it is."""

Keep = Literal[_Keep.KEEP]


def kept(value: T | Keep, current: T) -> T:
    """`current` when the caller left the attribute alone, else the new value."""
    return current if value is KEEP else value


def require_admin(actor: Actor, action: str) -> None:
    """Only admins change the directories (the engine itself neither)."""
    if actor.role != Role.ADMIN:
        raise NotPermitted(
            f"{actor.staff_id} ({actor.role}) may not {action}: only an admin changes "
            "the directories"
        )


def build(model: type[E], **data: Any) -> E:
    """The event `model` from `data`, or EventValidationError naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(
            str(model.model_fields["type"].default), exc
        ) from None
