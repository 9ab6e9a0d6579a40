"""A plan's actions: who does what towards a goal by when (an owner, a due date), done,
dropped or reassigned, and the reminders and overdue notices as the date comes and goes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from events.fields import Identifier, PersonalField, PersonalShortText, PersonalText, ShortText
from events.registry import DomainEvent
from events.vocabulary.common import _Part


class ActionOwnerKind(StrEnum):
    """Who carries out a plan's action."""

    CASEWORKER = "caseworker"
    """The case's assigned worker."""
    CLIENT = "client"
    FAMILY = "family"
    """A family member (named in `ActionOwner.name`)."""
    PROVIDER = "provider"
    """A provider (`ActionOwner.provider_id`)."""
    WORKER = "worker"
    """Another worker of the agency (`ActionOwner.staff_id`)."""


class ActionOwner(_Part):
    kind: ActionOwnerKind
    staff_id: Identifier | None = None
    provider_id: Identifier | None = None
    name: Annotated[ShortText | None, PersonalField()] = None
    """Who, in words (a family member's name, say): personal data."""

    def model_post_init(self, __context: Any) -> None:
        if self.kind is ActionOwnerKind.WORKER and self.staff_id is None:
            raise ValueError("owner.staff_id: an action owned by another worker names the worker")
        if self.kind is ActionOwnerKind.PROVIDER and self.provider_id is None:
            raise ValueError("owner.provider_id: an action owned by a provider names the provider")

    def label(self) -> str:
        """The owner in a few words (no personal data)."""
        if self.kind is ActionOwnerKind.WORKER:
            return f"worker {self.staff_id}"
        if self.kind is ActionOwnerKind.PROVIDER:
            return f"provider {self.provider_id}"
        return self.kind.value


class ActionAdded(DomainEvent):
    """An action towards a goal: who does it, by when. Added to a plan by a worker or agreed
    at a case conference (`conference_id`)."""

    type: Literal["ActionAdded"] = "ActionAdded"
    action_id: Identifier
    goal_id: Identifier
    description: PersonalShortText
    owner: ActionOwner
    due_at: datetime
    crisis_plan: bool = False
    """Part of the crisis plan (the policy's `critical_actions` may make it critical)."""
    conference_id: Identifier | None = None


class ActionCompleted(DomainEvent):
    type: Literal["ActionCompleted"] = "ActionCompleted"
    action_id: Identifier
    late: bool = False
    """Done after its due date."""
    note: PersonalText = ""


class ActionDropped(DomainEvent):
    type: Literal["ActionDropped"] = "ActionDropped"
    action_id: Identifier
    reason: PersonalShortText
    """Why it no longer needs doing: often about the client or their family, so personal."""


class ActionReassigned(DomainEvent):
    """Another owner, and the due date from now on (a new one re-arms its reminder)."""

    type: Literal["ActionReassigned"] = "ActionReassigned"
    action_id: Identifier
    owner: ActionOwner
    due_at: datetime
    reason: PersonalShortText


class ActionReminderDue(DomainEvent):
    """The action falls due soon: a reminder to the owner's worker."""

    type: Literal["ActionReminderDue"] = "ActionReminderDue"
    action_id: Identifier
    due_at: datetime
    worker: Identifier


class ActionOverdue(DomainEvent):
    type: Literal["ActionOverdue"] = "ActionOverdue"
    action_id: Identifier
    due_at: datetime
    worker: Identifier
