"""The case page, read (the staff console's `/console/cases/{id}`): the case's state, its
timeline a page at a time, and the details the page shows from the case's events.

Reading the page is a read of the case's details (`View.CASE_SHOW`): `view_case` asks
the case's workflow for its state (one Temporal Query: the state holds the client's
personal details, sealed in the log, which only the cipher opens), then allows and
records the read exactly as `application.case_reads.read_case` does (the access
table, the access log; a case out of scope reads as one that does not exist). Only
once it has may the page call the other two:

* `timeline_page`: one page of the timeline, the newest `size` events or those before
  a version, from the `timeline` read model (projections/timeline.py: one line per
  event, never personal text), read through its primary key, so a page costs the same
  however long the case. A version the read model does not hold — events the projector
  has not reached yet, or an event type it keeps no line for — is read from the log
  and described the same way (`projections.timeline.said`), so the page shows
  every event up to the state's version at once, never a gap. Each line carries its
  message (cases/said.py), which the page says in its reader's language (`Line.shown`).
* `case_details`: the events whose personal text the page shows (the latest
  assessment, contacts, progress, evaluations, provider reports, advocacy, the
  client's feedback), read from the log by type and opened by the cipher as every read
  of the log is (a forgotten client's fields read as erased). The case's other events
  — notes, reviews, escalations, most of a long case — are not read at all.

Nothing here is stored: no decrypted personal data leaves the log except into the page
being rendered, so erasing a client by destroying their key keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_reads import authorise
from cases.actors import Actor
from cases.said import Gettext, Ngettext, Said, render
from cases.state import CaseState
from events.envelope import RecordedEvent
from events.registry import event_type_of
from events.store_sql import COLUMNS, record_from_row
from events.vocabulary import (
    AdvocacyConcluded,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    AssessmentRecorded,
    ClientFeedbackRecorded,
    ContactLogged,
    GoalProgressRecorded,
    GoalsEvaluated,
    ProviderReportReceived,
)
from projections.timeline import said, timeline_versions

__all__ = [
    "AdvocacyEvent",
    "CaseDetails",
    "Line",
    "TimelinePage",
    "case_details",
    "lines_of",
    "timeline_page",
    "view_case",
]


@dataclass(frozen=True)
class Line:
    """One event as the page shows it: never personal text in `text` (English) nor in
    `said` (the same line as a message, cases/said.py; None for a read-model row
    recorded before the messages were, which only knows its English)."""

    version: int
    type: str
    text: str
    actor: str
    role: str
    at: datetime
    said: Said | None = None

    def shown(self, gettext: Gettext, ngettext: Ngettext) -> str:
        """The line in the language `gettext`/`ngettext` speak (the console passes
        `casework.i18n.raw_gettext`/`raw_ngettext`: the page's language)."""
        return self.text if self.said is None else render(self.said, gettext, ngettext)


@dataclass(frozen=True)
class TimelinePage:
    """Versions `first` … `last` of the case's `total` events, the newest first."""

    lines: list[Line]
    total: int
    first: int
    last: int
    size: int

    @property
    def older(self) -> int | None:
        """The `before` of the next older page (None: this page starts at the first event)."""
        return self.first if self.first > 1 else None

    @property
    def newer(self) -> int | None:
        """The `before` of the next newer page, None when that page is the newest (or
        this one is)."""
        before = self.last + 1 + self.size
        return before if before <= self.total else None

    @property
    def is_newest(self) -> bool:
        return self.last >= self.total


AdvocacyEvent = AdvocacyOpened | AdvocacyStepRecorded | AdvocacyConcluded


@dataclass
class CaseDetails:
    """What the page shows besides the state, from the case's events (oldest first)."""

    assessment: AssessmentRecorded | None = None
    contacts: list[tuple[datetime, str, ContactLogged]] = field(default_factory=list)
    progress: list[tuple[datetime, str, GoalProgressRecorded]] = field(default_factory=list)
    evaluations: list[tuple[datetime, str, GoalsEvaluated]] = field(default_factory=list)
    reports: list[tuple[datetime, ProviderReportReceived]] = field(default_factory=list)
    advocacy: list[tuple[datetime, str, AdvocacyEvent]] = field(default_factory=list)
    feedback: list[tuple[datetime, str, ClientFeedbackRecorded]] = field(default_factory=list)


DETAIL_TYPES = tuple(
    event_type_of(model)
    for model in (
        ContactLogged,
        GoalProgressRecorded,
        GoalsEvaluated,
        ProviderReportReceived,
        AdvocacyOpened,
        AdvocacyStepRecorded,
        AdvocacyConcluded,
        ClientFeedbackRecorded,
    )
)
"""The event types the page lists every one of; of AssessmentRecorded only the latest."""

ASSESSMENT = event_type_of(AssessmentRecorded)


async def view_case(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> CaseState:
    """The case's state as its workflow holds it, once the read is allowed and recorded
    (`View.CASE_SHOW`, as `case_reads.read_case`). Raises CaseNotVisible (no such case,
    or out of scope), AccessDenied, BreakGlassRefused."""
    try:
        state: CaseState | None = await (await app.cases()).state(case_id)
    except CaseNotFound:
        state = None
    await authorise(
        app, actor, case_id, View.CASE_SHOW, state, reason=reason, break_glass=break_glass
    )
    assert state is not None
    return state


async def _read(app: Casework, where: str, *args: object) -> list[RecordedEvent]:
    """Events of the log (`where` over the events table), in stream order, opened by the
    store's cipher as `EventStore.read_stream` opens them."""
    rows = await app.store.pool.fetch(
        f"SELECT {COLUMNS} FROM events WHERE {where} ORDER BY stream_version", *args
    )
    records = [record_from_row(r) for r in rows]
    cipher = app.store.cipher
    if cipher is None or not records:
        return records
    return await cipher.open(app.store.pool, app.store.registry, records)


def lines_of(app: Casework, events: Sequence[RecordedEvent]) -> list[Line]:
    """The timeline's line of each event of the log, in the given order."""
    lines = []
    for e in events:
        message = said(app.store.decode(e))
        lines.append(
            Line(e.stream_version, e.event_type, render(message), e.metadata.actor_id,
                 e.metadata.actor_role, e.occurred_at, message)
        )  # fmt: skip
    return lines


async def timeline_page(
    app: Casework, case_id: str, version: int, *, size: int, before: int | None = None
) -> TimelinePage:
    """The `size` events before version `before` (None: the newest), of the case's
    `version` events (the state's version), the newest first: from the timeline read
    model, any version it lacks from the log. Call only once the read is allowed."""
    last = version if before is None else max(0, min(before - 1, version))
    first = max(1, last - size + 1)
    if last < 1:
        return TimelinePage([], version, 1, 0, size)
    found = {
        e.entry.stream_version: Line(e.entry.stream_version, e.entry.event_type,
                                     e.entry.description, e.entry.actor_id, e.entry.actor_role,
                                     e.entry.occurred_at, e.said)
        for e in await timeline_versions(app.pool, case_id, first=first, last=last)
    }  # fmt: skip
    missing = [v for v in range(first, last + 1) if v not in found]
    if missing:
        events = await _read(
            app, "stream_id = $1 AND stream_version = ANY($2::bigint[])", f"case-{case_id}",
            missing,
        )  # fmt: skip
        found.update((line.version, line) for line in lines_of(app, events))
    lines = [found[v] for v in range(last, first - 1, -1) if v in found]
    return TimelinePage(lines, version, first, last, size)


async def case_details(app: Casework, case_id: str, version: int) -> CaseDetails:
    """The events whose details the page shows, up to `version` (the state's), opened by
    the cipher: every one of DETAIL_TYPES and the latest assessment. Call only once the
    read is allowed."""
    events = await _read(
        app,
        """stream_id = $1 AND stream_version <= $2 AND (event_type = ANY($3::text[])
             OR stream_version = (SELECT max(a.stream_version) FROM events a
                                   WHERE a.stream_id = $1 AND a.stream_version <= $2
                                     AND a.event_type = $4))""",
        f"case-{case_id}",
        version,
        list(DETAIL_TYPES),
        ASSESSMENT,
    )
    details = CaseDetails()
    for recorded in events:
        event = app.store.decode(recorded)
        who = recorded.metadata.actor_id
        at = recorded.occurred_at
        if isinstance(event, AssessmentRecorded):
            details.assessment = event
        elif isinstance(event, ContactLogged):
            details.contacts.append((at, who, event))
        elif isinstance(event, GoalProgressRecorded):
            details.progress.append((at, who, event))
        elif isinstance(event, GoalsEvaluated):
            details.evaluations.append((at, who, event))
        elif isinstance(event, ProviderReportReceived):
            details.reports.append((at, event))
        elif isinstance(event, AdvocacyOpened | AdvocacyStepRecorded | AdvocacyConcluded):
            details.advocacy.append((at, who, event))
        elif isinstance(event, ClientFeedbackRecorded):
            details.feedback.append((at, who, event))
    return details
