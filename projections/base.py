"""What a projection is, how its handlers receive events, and what its queries share.

A read model is one unit, one module of this package (case_summary, approvals,
referrals, reviews, outcomes, timeline): the tables it owns (its docstring names them
and the migration that creates them; tests/projections/test_units.py checks both),
its typed handlers, its `Projection`, and the queries that read it.

Projections
-----------
A projection folds events into read-model tables. `apply(conn, event)` runs inside
the runner's batch transaction and must only write to the projection's own
`tables` (unqualified names: a rebuild points `search_path` at shadow copies).
Handlers derive every value from the event (never `now()`), so replaying the log
reproduces the tables exactly.

Handlers are typed: each receives the decoded domain event and its envelope,

    async def review_scheduled(
        conn: asyncpg.Connection, event: ReviewScheduled, envelope: RecordedEvent
    ) -> None

and is registered with `on(ReviewScheduled, review_scheduled)`, which keys it by the
model's event type and checks (with mypy) that the handler takes that model. The
projector holds no keys, so it reads personal fields as sealed envelopes; `decode`
replaces every personal field with its erased value before validating, so the model
always validates and a read model can never hold personal data.

Queries
-------
A query takes the pool, the acting staff member and parameters, and returns only what
that actor may see (projections/scope.py). Times: `now` (default: the current time,
UTC) is a parameter so answers are reproducible; "today" is `now`'s UTC date. Read
models may lag the log by the projector's lag (see `casework projections status`),
each by its own: a query that joins tables of two projections says in its docstring
why that is safe (projections/scope.py explains the one join every query may make).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError

from cases.features import FEATURES
from events.catalog import default_registry
from events.directory_events import DIRECTORY_EVENT_MODELS
from events.envelope import RecordedEvent
from events.personal import erase_personal_data, personal_paths
from events.registry import DomainEvent, EventValidationError, event_type_of
from events.vocabulary import CASE_EVENT_MODELS

Handler = Callable[[asyncpg.Connection, RecordedEvent], Awaitable[None]]
"""What the runner calls: the connection and the event as recorded in the log."""

E = TypeVar("E", bound=DomainEvent)

TypedHandler = Callable[[asyncpg.Connection, E, RecordedEvent], Awaitable[None]]
"""A read model's handler: the connection, the decoded event, and its envelope
(stream id, version, position, metadata, occurred_at)."""

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

    `handlers` maps each handled event type to its handler (built with `on` and
    `handler_map`); `ignores` lists the types the projection deliberately skips. Any
    other type stops the projection with an error naming the event: nothing is
    silently skipped.
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


# --- decoding events for read models -------------------------------------------------------


def decode(event: RecordedEvent) -> DomainEvent:
    """The event as its current model, every personal field at its erased value.

    Upcasts the stored data to the current schema version, replaces each personal
    field (sealed envelope, plaintext or already erased alike) with its erased value
    (events/personal.py), then validates. The projector reads the log without the
    cipher, so a personal field holds an `enc:v1:…` string that need not validate as
    its type (a date of birth); erased, it always does. Read models never hold
    personal data, so no handler needs one.

    Raises EventValidationError (a ValueError: the runner stops the projection and
    names the event) if the data still does not fit its model.
    """
    return decode_data(event.event_type, event.schema_version, event.data)


def decode_data(event_type: str, schema_version: int, stored: dict[str, Any]) -> DomainEvent:
    """`decode` of an event's type, schema version and stored data (for a reader of the
    log's rows that builds no envelope: application/reports/rebuild.py)."""
    model = _registry.model(event_type)
    data = _registry.upcast(event_type, schema_version, stored)
    if personal_paths(model):
        data = erase_personal_data(model, data)
    try:
        return model.model_validate({**data, "type": event_type})
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(event_type, exc) from None


def on(model: type[E], handler: TypedHandler[E]) -> tuple[str, Handler]:
    """`handler` as the runner calls it, keyed by `model`'s event type.

    The returned handler decodes the recorded event (`decode`) and calls
    `handler(conn, event, envelope)`. `model` must be the vocabulary's model for its
    type (a stray model fails at import).
    """
    event_type = event_type_of(model)
    if event_type not in _registry or _registry.model(event_type) is not model:
        raise ValueError(f"{model.__name__} is not the vocabulary's model of {event_type!r}")

    async def apply(conn: asyncpg.Connection, envelope: RecordedEvent) -> None:
        event = decode(envelope)
        if not isinstance(event, model):  # the registry maps the type to another model
            raise TypeError(f"{envelope.event_type} decoded as {type(event).__name__}")
        await handler(conn, event, envelope)

    apply.__name__ = apply.__qualname__ = f"on_{event_type}_{handler.__name__}"
    return event_type, apply


def handler_map(*entries: tuple[str, Handler]) -> dict[str, Handler]:
    """A projection's handlers from `on(...)` entries; one handler per event type."""
    handlers: dict[str, Handler] = {}
    for event_type, handler in entries:
        if event_type in handlers:
            raise ValueError(f"two handlers for {event_type}")
        handlers[event_type] = handler
    return handlers


# --- what queries share ------------------------------------------------------------------


def moment(now: datetime | None) -> datetime:
    """The time a query answers for: `now`, or the current time (UTC)."""
    return now if now is not None else datetime.now(UTC)


def today(now: datetime | None) -> date:
    """The UTC date of `moment(now)`."""
    return moment(now).astimezone(UTC).date()


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
    "CaseNoteRecorded",
    "CircleMemberAdded",
    "CircleMemberUpdated",
    "CircleMemberRemoved",
    "CircleConsentRecorded",
    "SharedWithCircleMember",
    "CaseConferenceRecorded",
    "AdvocacyOpened",
    "AdvocacyStepRecorded",
    "AdvocacyConcluded",
    "AdvocacyFollowUpDue",
    "ClientFeedbackRecorded",
    "ActionAdded",
    "ActionCompleted",
    "ActionDropped",
    "ActionReassigned",
    "ActionReminderDue",
    "ActionOverdue",
) | frozenset().union(*(feature.event_types for feature in FEATURES))
"""The event types every projection has been reviewed against: each handles or ignores
each of them. A type added to the vocabulary later is in no projection's sets, so it
stops the projections (with an error naming it) until it is added here (or is a
feature's, cases/features/) and each projection decides;
tests/projections/test_vocabulary.py points at it first."""


def ignoring_the_rest(handlers: Mapping[str, Handler]) -> frozenset[str]:
    """The reviewed case event types a projection does not handle, plus the directories'."""
    return (REVIEWED_CASE_EVENT_TYPES - handlers.keys()) | DIRECTORY_EVENT_TYPES
