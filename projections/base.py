"""What a projection is: a name, the event types it handles and ignores, its tables.

A projection folds events into read-model tables. `apply(conn, event)` runs inside
the runner's batch transaction and must only write to the projection's own
`tables` (unqualified names: a rebuild points `search_path` at shadow copies).
Handlers derive every value from the event (never `now()`), so replaying the log
reproduces the tables exactly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from events.catalog import default_registry
from events.directory_events import DIRECTORY_EVENT_MODELS
from events.envelope import RecordedEvent
from events.registry import event_type_of
from events.vocabulary import CASE_EVENT_MODELS

Handler = Callable[[asyncpg.Connection, RecordedEvent], Awaitable[None]]

_registry = default_registry()

CASE_EVENT_TYPES: frozenset[str] = frozenset(event_type_of(m) for m in CASE_EVENT_MODELS)
"""Every case event type of the vocabulary."""

DIRECTORY_EVENT_TYPES: frozenset[str] = frozenset(event_type_of(m) for m in DIRECTORY_EVENT_MODELS)
"""Events of the staff and resource directories: no case projection reads them."""

CASE_STREAM_PREFIX = "case-"


def event_types(*names: str) -> frozenset[str]:
    """An explicit set of vocabulary event types (a misspelt name fails at import)."""
    unknown = [n for n in names if n not in _registry]
    if unknown:
        raise ValueError(f"not in the vocabulary: {unknown}")
    return frozenset(names)


@dataclass(frozen=True)
class Projection:
    """A named fold of the log into tables.

    `handlers` maps each handled event type to its handler; `ignores` lists the types
    the projection deliberately skips. Any other type stops the projection with an
    error naming the event: nothing is silently skipped.
    """

    name: str
    tables: tuple[str, ...]
    handlers: Mapping[str, Handler]
    ignores: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        overlap = set(self.handlers) & self.ignores
        if overlap:
            raise ValueError(f"projection {self.name}: {sorted(overlap)} both handled and ignored")

    @property
    def handled(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def knows(self, event_type: str) -> bool:
        return event_type in self.handlers or event_type in self.ignores

    async def apply(self, conn: asyncpg.Connection, event: RecordedEvent) -> None:
        """Apply one handled event (the runner calls it only for handled types)."""
        await self.handlers[event.event_type](conn, event)


def case_id_of(event: RecordedEvent) -> str | None:
    """The case id of an event of a `case-<case_id>` stream, else None."""
    if event.stream_id.startswith(CASE_STREAM_PREFIX):
        return event.stream_id[len(CASE_STREAM_PREFIX) :]
    return None


def data_of(event: RecordedEvent) -> dict[str, Any]:
    """The event's data upcast to the current schema version (plain JSON values)."""
    if event.event_type in _registry:
        return _registry.upcast(event.event_type, event.schema_version, event.data)
    return event.data


REVIEWED_CASE_EVENT_TYPES: frozenset[str] = event_types(
    "CaseOpened",
    "ConsentRecorded",
    "AssessmentRecorded",
    "PlanDrafted",
    "ApprovalRequested",
    "ApprovalGranted",
    "ApprovalReturned",
    "PlanActivated",
    "ReferralMade",
    "ReferralDispatched",
    "ReferralDispatchFailed",
    "ReferralAccepted",
    "ReferralDeclined",
    "ReferralCompleted",
    "ReferralFollowUpDue",
    "ProviderReportReceived",
    "ContactLogged",
    "GoalProgressRecorded",
    "GoalsEvaluated",
    "CaseAssigned",
    "TransferRequested",
    "TransferAccepted",
    "TransferRejected",
    "CaseClosed",
    "CaseReopened",
    "ReviewScheduled",
    "ReviewDue",
    "ReviewLapsed",
    "EscalationRaised",
    "EscalationResolved",
    "CaseOnHold",
    "CaseResumed",
    "PolicyApplied",
    "ClientForgotten",
)
"""The event types every projection has been reviewed against: each handles or ignores
each of them. A type added to the vocabulary later is in no projection's sets, so it
stops the projections (with an error naming it) until it is added here and each
projection decides; tests/projections/test_vocabulary.py points at it first."""


def ignoring_the_rest(handlers: Mapping[str, Handler]) -> frozenset[str]:
    """The reviewed case event types a projection does not handle, plus the directories'."""
    return (REVIEWED_CASE_EVENT_TYPES - handlers.keys()) | DIRECTORY_EVENT_TYPES
