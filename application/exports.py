"""Every list taken away as a file: CSV or XLSX (issue 32).

A list's export holds the rows its JSON list holds, over every page: the rows come from
the list's own paged use case (application/case_lists.py, actions.py, conferences.py,
transfers.py, read_models.py …), asked page after page with the largest page
(`paging.MAX_LIMIT`) and following `next_cursor` to the end, so the filters, the order
and the caller's scope are exactly the list's, and the file is written a page at a
time: 100,000 rows never sit in memory.

* **One catalogue.** `LISTS` names every list that exports: its row model, its filters
  (a pydantic model), the use case a page comes from (or the whole list, for the two
  that are not paged) and the read models behind it. The HTTP API answers its JSON
  lists through the same entries (`listed`), and its files, the console's download
  links and the command line's `--csv`/`--xlsx` go through `start`.
* **Columns** come from the row model's fields, in their order; a nested model or a
  dict with known keys is flattened to dotted names (`by_risk.crisis`); a list of
  values is one cell, joined with "; "; anything else nested is its JSON. Times are
  ISO 8601 in UTC (as the JSON lists write them), days ISO dates, None an empty cell.
  `columns` (comma separated) chooses and orders them; an unknown one is refused
  naming `columns`, with the valid ones.
* **Formats.** CSV: UTF-8 with a byte-order mark (so spreadsheet programs read accents
  right), RFC 4180 (CRLF), a header row, streamed a page at a time. XLSX: written by
  XlsxWriter in constant-memory mode to a temporary file (each page written in a worker
  thread, so the server keeps answering), then streamed back and deleted; numbers and
  booleans stay numbers and booleans, text is written as text (never as a formula);
  a second sheet, "About", says which list, filters, who exported it, when, and from
  which read-model position.
* **Formula injection.** Any text cell that starts with `=`, `+`, `-`, `@`, a tab or a
  carriage return gets a single quote in front (`neutralise`), in CSV and XLSX alike,
  so a spreadsheet never runs what a person typed (a reason, say) as a formula.
* **Reports that are not lists.** The outcomes report (`outcomes`) has sections (goals,
  closures, plan approval, advocacy, feedback, plan feedback): XLSX holds one sheet per
  section (or only the one `section` names); CSV holds one section, which `section`
  must name.
* **The access log.** An export is recorded when it starts, before its first byte
  (`access_log.record`: `view` `export <list> <format>`, the filters and options as
  JSON, the case for one case's list), so a failed or abandoned export is on record
  too; how it ended (rows, and complete, cut, aborted or failed) is added when it ends
  (`access_log.record_export_end`). A role that may not make the list's query is
  refused (403) and the refused attempt recorded; an invalid parameter (format,
  columns, section, a filter) is refused before anything is read or recorded.
* **At most `CASEWORK_EXPORT_MAX_ROWS` rows** (default 1,000,000; an XLSX sheet at most
  Excel's 1,048,576 rows). A longer list is cut there: nothing can be refused up front
  once a stream has begun, so the file ends with one more line, `# cut at N rows …`,
  the About sheet says so, the export is recorded as `cut` and a warning is logged.
* **Provenance.** `provenance(app)` is the one place that says where an export's
  figures came from (when it was made, the read models' position in the log): the
  HTTP headers (`Casework-<name>`) and the About sheet both show what it returns.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin
from uuid import UUID

import anyio
from pydantic import BaseModel, ConfigDict, Field

from application import access_log, request_context
from application import actions as plan_actions
from application import conferences as case_conferences
from application import read_models as rm
from application import transfers as waiting_transfers
from application.access_log import ExportEntry, ExportOutcome
from application.bootstrap import Casework
from application.outcomes_report import (
    AdvocacyOutcomes,
    GoalOutcomes,
    Outcomes,
    PlanApprovalTimes,
    PlanFeedback,
    ProviderFeedback,
)
from application.paging import MAX_LIMIT, InvalidQuery, Page, PageRequest, after_key, sql_page
from application.reports.kpi import KpiFigure, KpiReport, kpi_report, latest_trusted_checkpoint
from cases.access import AccessDenied
from cases.actors import Actor
from events.checkpoints import SignedCheckpoint
from events.fields import Identifier
from infrastructure.logs import get_logger
from projections.catalog import all_projections
from projections.queries import RISK_LEVELS
from projections.runner import read_checkpoint

log = get_logger(component="exports")

ExportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv"
MEDIA_TYPES: dict[ExportFormat, str] = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}

XLSX_MAX_ROWS = 1_048_576 - 2
"""Excel's rows a sheet, less the header row and the line that says the sheet was cut."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for the start of a formula."""

LIST_SEPARATOR = "; "
"""Between the values of a list held in one cell (staff ids, action ids)."""

BOM = "\ufeff"
CHUNK_BYTES = 256 * 1024
"""An XLSX file is sent back this much at a time."""

Cell = str | int | float | bool | None


# --- cells ----------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """`text` with a single quote in front if a spreadsheet could take it for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC, as the JSON lists write times (`…Z`)."""
    if moment.tzinfo is not UTC:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        moment = aware.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    """A value inside a list or JSON cell, as text."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return str(value)


_AS_THEY_ARE = frozenset({NoneType, bool, int, float})


def cell(value: Any) -> Cell:
    """One value as a file holds it: numbers and booleans as they are, times ISO 8601 UTC,
    lists joined, other nested values as JSON, text neutralised; None stays None."""
    kind = type(value)  # the common cases first: a file has a cell per row and column
    if kind is str:
        text: str = value
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    if kind in _AS_THEY_ARE:
        plain: Cell = value
        return plain
    if kind is datetime:
        return iso(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return cell(value.value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return neutralise(LIST_SEPARATOR.join(_text(v) for v in value))
    if isinstance(value, BaseModel):
        return neutralise(value.model_dump_json())
    if isinstance(value, dict):
        return neutralise(json.dumps(value, default=_text, ensure_ascii=False, sort_keys=True))
    return neutralise(str(value))


def csv_text(value: Cell) -> str:
    """A cell as CSV text: booleans as in JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_row(values: Sequence[Cell]) -> list[Cell]:
    """A row for `csv.writer`, which writes None empty and numbers as `str` does: only the
    booleans need their JSON words."""
    return [("true" if v else "false") if type(v) is bool else v for v in values]


# --- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    """Dotted: `team`, `by_risk.crisis`."""
    path: tuple[str, ...]

    def of(self, row: Any) -> Any:
        """The column's value in `row` (None where a nested value is missing)."""
        if len(self.path) == 1:
            return getattr(row, self.path[0], None)
        return value_at(row, self.path)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation names (`Model` or `Model | None`), else None."""
    if get_origin(annotation) in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        return _model_of(inner[0]) if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def columns_of(
    model: type[BaseModel],
    keys: Mapping[str, Sequence[str]] | None = None,
    prefix: tuple[str, ...] = (),
) -> list[Column]:
    """The columns of `model`'s rows, in field order: nested models flattened with dotted
    names, and so are the dicts whose keys `keys` gives (by dotted field name)."""
    found: list[Column] = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        dotted = ".".join(path)
        nested = _model_of(info.annotation)
        if nested is not None:
            found.extend(columns_of(nested, keys, path))
        elif keys and dotted in keys:
            found.extend(Column(f"{dotted}.{key}", (*path, key)) for key in keys[dotted])
        else:
            found.append(Column(dotted, path))
    return found


def value_at(row: Any, path: Sequence[str]) -> Any:
    for part in path:
        if row is None:
            return None
        row = row.get(part) if isinstance(row, dict) else getattr(row, part, None)
    return row


def cells(row: BaseModel, columns: Sequence[Column]) -> list[Cell]:
    return [cell(column.of(row)) for column in columns]


def choose_columns(available: Sequence[Column], asked: str | None) -> list[Column]:
    """The columns `asked` names (comma separated), in its order; every one when None.
    InvalidQuery naming `columns` for an unknown, repeated or empty choice."""
    if asked is None:
        return list(available)
    names = [n.strip() for n in asked.split(",")]
    by_name = {c.name: c for c in available}
    valid = ", ".join(by_name)
    if not any(names) or not all(names):
        raise InvalidQuery("columns", f"name columns separated by commas, from: {valid}")
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InvalidQuery("columns", f"no column {', '.join(unknown)}; the columns are: {valid}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidQuery("columns", f"{', '.join(twice)} named twice")
    return [by_name[n] for n in names]


# --- who asks, and the catalogue of lists -----------------------------------------------------


@dataclass(frozen=True)
class Asker:
    """Who asks for a list, and what of the request the lists need."""

    app: Casework
    actor: Actor
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    """The entry point's clock: the file's date, its `Exported-At`."""
    as_of: datetime | None = None
    """The "now" of the lists that take one (actions due, conferences held within days):
    the console passes its clock, the API none (the database's), as they always have."""
    reason: str | None = None
    """One case's lists: the reason given for reading it (`Casework-Reason`)."""
    break_glass: str | None = None
    """One case's lists: emergency access, with its reason (`Casework-Break-Glass`)."""


class Filters(BaseModel):
    """A list's filters (none); each list's own adds its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CaseloadFilters(Filters):
    worker: Identifier | None = None
    team: Identifier | None = None
    by: rm.CaseloadBy = "worker"


class ApprovalFilters(Filters):
    kind: rm.ApprovalKindName | None = None


class ReferralFilters(Filters):
    provider: Identifier | None = None
    status: rm.ReferralStatusName | None = None
    open_only: bool = Field(False, alias="open")


class ProviderFilters(Filters):
    provider: Identifier | None = None


class ReviewFilters(Filters):
    within: int = Field(14, ge=0, le=3660)
    overdue: bool = False


class EscalationFilters(Filters):
    level: int | None = Field(None, ge=1, le=100)


class OutcomeFilters(Filters):
    since: date | None = None
    until: date | None = None


class MyActionFilters(Filters):
    within: int = Field(7, ge=0, le=3660)


class TeamFilters(Filters):
    team: Identifier | None = None


class ConferenceFilters(Filters):
    within: int | None = Field(None, ge=0, le=3660)


class CaseFilters(Filters):
    case_id: UUID


class ClosureCount(BaseModel):
    """Closures for one reason (the outcomes report's `closures`, one row each)."""

    reason: str
    cases: int


@dataclass(frozen=True)
class Section:
    """One section of a report: its rows' model and how to take them from the report."""

    model: type[BaseModel]
    rows: Callable[[Any], Sequence[BaseModel]]


PageFetch = Callable[[Asker, Any, PageRequest], Awaitable[Page[Any]]]
WholeFetch = Callable[[Asker, Any], Awaitable[Sequence[BaseModel]]]
ReportFetch = Callable[[Asker, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Listing:
    """A list that exports: exactly one of `page` (a paged list), `whole` (a short list
    answered whole) and `report` (a document of sections)."""

    name: str
    """In URLs, file names and the access log (`export <name> <format>`)."""
    title: str
    model: type[BaseModel] | None
    filters: type[Filters] = Filters
    page: PageFetch | None = None
    whole: WholeFetch | None = None
    report: ReportFetch | None = None
    sections: Mapping[str, Section] = field(default_factory=dict)
    read_models: tuple[str, ...] = ()
    """The projections behind it (their position is the export's provenance)."""
    keys: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """The keys of its dict fields, by field name, to flatten them (`by_risk`)."""
    of_a_case: bool = False
    """Its filters name one case (`case_id`), recorded as the entry's case."""

    def sheets(self) -> dict[str, tuple[type[BaseModel], list[Column]]]:
        """Each sheet's name, row model and columns (a list has one, named after it)."""
        if self.report is not None:
            return {
                name: (section.model, columns_of(section.model, self.keys))
                for name, section in self.sections.items()
            }
        assert self.model is not None
        return {self.name: (self.model, columns_of(self.model, self.keys))}


async def listed(asker: Asker, listing: Listing, filters: Filters, page: PageRequest) -> Any:
    """The list's JSON answer: one page (or the whole short list, or the report)."""
    if listing.page is not None:
        return await listing.page(asker, filters, page)
    if listing.whole is not None:
        return list(await listing.whole(asker, filters))
    assert listing.report is not None
    return await listing.report(asker, filters)


# The catalogue's fetches: each the list's own use case, with its filters.


async def _caseload(a: Asker, f: CaseloadFilters, page: PageRequest) -> Page[Any]:
    return await rm.caseload(a.app, a.actor, page, worker=f.worker, team=f.team, by=f.by)


async def _approvals(a: Asker, f: ApprovalFilters, page: PageRequest) -> Page[Any]:
    return await rm.approvals(a.app, a.actor, page, kind=f.kind)


async def _referrals(a: Asker, f: ReferralFilters, page: PageRequest) -> Page[Any]:
    return await rm.referrals(
        a.app, a.actor, page, provider=f.provider, status=f.status, open_only=f.open_only
    )


async def _referral_counts(a: Asker, f: ProviderFilters, page: PageRequest) -> Page[Any]:
    return await rm.referral_counts(a.app, a.actor, page, provider=f.provider)


async def _reviews(a: Asker, f: ReviewFilters, page: PageRequest) -> Page[Any]:
    return await rm.reviews(a.app, a.actor, page, within_days=f.within, overdue_only=f.overdue)


async def _escalations(a: Asker, f: EscalationFilters, page: PageRequest) -> Page[Any]:
    return await rm.escalations(a.app, a.actor, page, level=f.level)


async def _outcomes(a: Asker, f: OutcomeFilters) -> BaseModel:
    return await rm.outcomes(a.app, a.actor, since=f.since, until=f.until)


async def _my_actions(a: Asker, f: MyActionFilters, page: PageRequest) -> Page[Any]:
    return await plan_actions.my_actions(a.app, a.actor, page, within_days=f.within, now=a.as_of)


async def _overdue_actions(a: Asker, f: TeamFilters, page: PageRequest) -> Page[Any]:
    return await plan_actions.overdue_actions(a.app, a.actor, page, team=f.team)


async def _overdue_by_team(a: Asker, f: Filters) -> Sequence[BaseModel]:
    return await plan_actions.overdue_by_team(a.app, a.actor)


async def _conferences(a: Asker, f: ConferenceFilters, page: PageRequest) -> Page[Any]:
    return await case_conferences.conferences(
        a.app, a.actor, page, within_days=f.within, now=a.as_of
    )


async def _transfers(a: Asker, f: Filters, page: PageRequest) -> Page[Any]:
    return await waiting_transfers.pending_transfers(a.app, a.actor, page)


async def _timeline(a: Asker, f: CaseFilters, page: PageRequest) -> Page[Any]:
    return await rm.case_timeline(
        a.app, a.actor, str(f.case_id), page, reason=a.reason, break_glass=a.break_glass
    )


async def _case_access_log(a: Asker, f: CaseFilters, page: PageRequest) -> Page[Any]:
    return await rm.access_log_entries(a.app, a.actor, str(f.case_id), page)


async def _break_glass(a: Asker, f: Filters, page: PageRequest) -> Page[Any]:
    return await rm.break_glass_entries(a.app, a.actor, page)


async def export_entries(app: Casework, actor: Actor, page: PageRequest) -> Page[ExportEntry]:
    """Every export of a list, newest first, with how it ended (auditors, managers:
    AccessDenied for the other roles); paged as the access log is."""
    after = after_key("exports", page, (int,))
    rows = await access_log.export_entries(
        app.pool, actor, limit=page.limit + 1, before=-int(after[0]) if after else None
    )
    return sql_page("exports", rows, page, lambda e: (-e.access_id,))


async def _exports(a: Asker, f: Filters, page: PageRequest) -> Page[Any]:
    return await export_entries(a.app, a.actor, page)


class KpiFilters(Filters):
    since: str | None = None
    until: str | None = None
    team: str | None = None
    worker: str | None = None


async def _kpi(a: Asker, f: KpiFilters) -> BaseModel:
    return await kpi_report(
        a.app, a.actor, since=f.since, until=f.until, team=f.team, worker=f.worker, now=a.now
    )


KPI_SECTIONS: dict[str, Section] = {
    "figures": Section(KpiFigure, lambda r: r.figures),
}
"""The KPI report's one section: its figures (the checkpoint is in the provenance)."""


def _closures(report: Outcomes) -> list[ClosureCount]:
    return [ClosureCount(reason=r, cases=n) for r, n in report.closures.items()]


OUTCOME_SECTIONS: dict[str, Section] = {
    "goals": Section(GoalOutcomes, lambda r: r.goals),
    "closures": Section(ClosureCount, _closures),
    "plan-approval": Section(PlanApprovalTimes, lambda r: [r.plan_approval]),
    "advocacy": Section(AdvocacyOutcomes, lambda r: r.advocacy),
    "feedback": Section(ProviderFeedback, lambda r: r.feedback),
    "plan-feedback": Section(PlanFeedback, lambda r: [r.plan_feedback]),
}
"""The outcomes report's sections, in the order of its document."""

CASELOAD_KEYS = {"by_risk": (*RISK_LEVELS, "unassessed")}
SUMMARY = ("case_summary",)

LISTS: dict[str, Listing] = {
    listing.name: listing
    for listing in (
        Listing("caseload", "Caseload", rm.Caseload, CaseloadFilters, page=_caseload,
                read_models=SUMMARY, keys=CASELOAD_KEYS),
        Listing("approvals", "Approvals waiting", rm.PendingApproval, ApprovalFilters,
                page=_approvals, read_models=("approvals", *SUMMARY)),
        Listing("referrals", "Referrals", rm.Referral, ReferralFilters, page=_referrals,
                read_models=("referrals", *SUMMARY)),
        Listing("referrals-by-provider", "Referrals by provider", rm.ReferralCount,
                ProviderFilters, page=_referral_counts, read_models=("referrals", *SUMMARY)),
        Listing("reviews", "Reviews due", rm.ReviewDue, ReviewFilters, page=_reviews,
                read_models=("reviews", *SUMMARY)),
        Listing("escalations", "Open escalations", rm.OpenEscalation, EscalationFilters,
                page=_escalations, read_models=("escalations", *SUMMARY)),
        Listing("outcomes", "Outcomes", None, OutcomeFilters, report=_outcomes,
                sections=OUTCOME_SECTIONS, read_models=("outcomes", *SUMMARY)),
        Listing("actions-mine", "My actions", plan_actions.ActionRow, MyActionFilters,
                page=_my_actions, read_models=("plan_actions", *SUMMARY)),
        Listing("actions-overdue", "Overdue actions", plan_actions.ActionRow, TeamFilters,
                page=_overdue_actions, read_models=("plan_actions", *SUMMARY)),
        Listing("actions-overdue-by-team", "Overdue actions by team", plan_actions.TeamOverdue,
                whole=_overdue_by_team, read_models=("plan_actions", *SUMMARY)),
        Listing("conferences", "Case conferences", case_conferences.ConferenceRow,
                ConferenceFilters, page=_conferences, read_models=("circle", *SUMMARY)),
        Listing("transfers", "Transfers waiting", waiting_transfers.TransferWaiting,
                page=_transfers, read_models=("transfers", *SUMMARY)),
        Listing("timeline", "Case timeline", rm.TimelineEntry, CaseFilters, page=_timeline,
                read_models=("timeline", *SUMMARY), of_a_case=True),
        Listing("access-log", "Case access log", rm.AccessEntry, CaseFilters,
                page=_case_access_log, of_a_case=True),
        Listing("break-glass", "Emergency access", rm.AccessEntry, page=_break_glass),
        Listing("exports", "Exports", ExportEntry, page=_exports),
        Listing("kpi", "KPI report", None, KpiFilters, report=_kpi, sections=KPI_SECTIONS,
                read_models=("kpi",)),
    )
}  # fmt: skip
"""Every list that exports, by name."""


def listing_named(name: str) -> Listing:
    """The list called `name`; InvalidQuery naming `list` for another name."""
    try:
        return LISTS[name]
    except KeyError:
        raise InvalidQuery("list", f"no list {name!r}; the lists are: {', '.join(LISTS)}") from None


def export_format(value: str | None) -> ExportFormat:
    """`value` as a format; InvalidQuery naming `format` for another."""
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidQuery("format", f"csv or xlsx, not {value!r}")


# --- provenance -----------------------------------------------------------------------------


async def read_model_position(app: Casework, read_models: Sequence[str] | None = None) -> int:
    """The position in the log that the read models `read_models` (every one when None)
    have all reached: the lowest of their projector checkpoints."""
    names = list(read_models) if read_models is not None else [p.name for p in all_projections()]
    async with app.pool.acquire() as conn:
        positions = [(await read_checkpoint(conn, name)).global_position for name in names]
    return min(positions, default=0)


async def provenance(
    app: Casework,
    *,
    now: datetime | None = None,
    read_models: Sequence[str] | None = None,
    checkpoint: SignedCheckpoint | None = None,
) -> dict[str, str]:
    """Where an export's figures came from, by name: the HTTP headers answer each as
    `Casework-<name>` and the XLSX "About" sheet lists them. `Exported-At` (the entry
    point's clock), `Read-Model-Position` (the global position of the log every read
    model behind the list has reached; left out for a list that is not a read model),
    and the signed checkpoint (`Checkpoint-Sequence`, `Checkpoint-Tree-Size`,
    `Checkpoint-Root`): the one a report was computed from (`checkpoint`: every event it
    counts is among the checkpoint's), else the newest trusted one when the export was
    made (a list shows the read models as they stand: the checkpoint dates the log it
    was taken from, and `casework verify` checks the read models against a rebuild)."""
    found = {"Exported-At": iso(now or datetime.now(UTC))}
    if read_models is None or read_models:
        found["Read-Model-Position"] = str(await read_model_position(app, read_models))
    signed = checkpoint or latest_trusted_checkpoint(app.settings)
    if signed is not None:
        found["Checkpoint-Sequence"] = str(signed.sequence)
        found["Checkpoint-Tree-Size"] = str(signed.tree_size)
        found["Checkpoint-Root"] = signed.root_hash.hex()
    return found


# --- an export ----------------------------------------------------------------------------


@dataclass
class Sheet:
    """One sheet (CSV: the file) of an export: its rows, a batch at a time."""

    name: str
    columns: list[Column]
    first: Sequence[BaseModel]
    more: AsyncIterator[Sequence[BaseModel]] | None = None
    rows: int = 0
    cut: bool = False

    async def batches(self) -> AsyncGenerator[Sequence[BaseModel], None]:
        yield self.first
        if self.more is not None:
            async for batch in self.more:
                yield batch


async def _following(
    fetch: Callable[[PageRequest], Awaitable[Page[Any]]], first: Page[Any]
) -> AsyncIterator[Sequence[BaseModel]]:
    """The pages after `first`, each the largest a page may be."""
    cursor = first.next_cursor
    while cursor is not None:
        page = await fetch(PageRequest(limit=MAX_LIMIT, cursor=cursor))
        yield page.items
        cursor = page.next_cursor


@dataclass
class Export:
    """An export started and on record: `stream()` sends the file."""

    asker: Asker
    listing: Listing
    format: ExportFormat
    recorded: dict[str, Any]
    """The filters and options as the access log holds them."""
    sheets: list[Sheet]
    access_id: int
    provenance: dict[str, str]
    max_rows: int
    section: str | None = None
    context: request_context.RequestContext = field(default_factory=request_context.current)
    rows: int = 0
    outcome: ExportOutcome | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def filename(self) -> str:
        parts = [self.listing.name]
        if self.section is not None:
            parts.append(self.section)
        case_id = self.recorded.get("case_id")
        if self.listing.of_a_case and isinstance(case_id, str):
            parts.append(case_id)
        parts.append(self.asker.now.astimezone(UTC).date().isoformat())
        return f"{'-'.join(parts)}.{self.format}"

    def headers(self) -> dict[str, str]:
        """The answer's headers: a download named after the list and the day, the export's
        id in the access log and its provenance."""
        return {
            "Content-Disposition": f'attachment; filename="{self.filename}"',
            "Casework-Export-Id": str(self.access_id),
            **{f"Casework-{name}": value for name, value in self.provenance.items()},
        }

    @property
    def cut(self) -> bool:
        return any(s.cut for s in self.sheets)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The file, a chunk at a time; how it ended is recorded when it ends."""
        started = time.perf_counter()
        outcome: ExportOutcome = "failed"
        body = self._csv() if self.format == "csv" else self._xlsx()
        try:
            async for chunk in body:
                yield chunk
            outcome = "cut" if self.cut else "complete"
        except (GeneratorExit, anyio.get_cancelled_exc_class()):
            outcome = "aborted"
            raise
        except Exception:
            log.exception("export failed", list=self.listing.name, access_id=self.access_id)
            raise
        finally:
            self.outcome = outcome
            # Even when the client went away (the stream cancelled): the temporary file
            # deleted, the end on record.
            with anyio.CancelScope(shield=True):
                await body.aclose()
                await access_log.record_export_end(
                    self.asker.app.pool, self.access_id, self.rows, outcome
                )
            log.info(
                "export ended", list=self.listing.name, format=self.format,
                access_id=self.access_id, rows=self.rows, outcome=outcome,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )  # fmt: skip

    async def _rows(self, sheet: Sheet, limit: int) -> AsyncIterator[Sequence[BaseModel]]:
        """The sheet's rows a batch at a time, at most `limit` (the sheet marked cut when
        there were more)."""
        batches = sheet.batches()
        try:
            while True:
                with request_context.bound(self.context):  # a list's reads on record as asked
                    batch = await anext(batches, None)
                if batch is None:
                    return
                room = limit - sheet.rows
                taken = batch[:room]
                if taken:
                    sheet.rows += len(taken)
                    self.rows += len(taken)
                    yield taken
                if len(batch) > room:
                    sheet.cut = True
                elif sheet.rows >= limit:
                    with request_context.bound(self.context):
                        sheet.cut = bool(await anext(batches, None))
                if sheet.cut:
                    log.warning(
                        "export cut", list=self.listing.name, access_id=self.access_id,
                        rows=sheet.rows, max_rows=limit, setting="CASEWORK_EXPORT_MAX_ROWS",
                    )  # fmt: skip
                    return
        finally:
            await batches.aclose()

    def _cut_line(self, sheet: Sheet) -> str:
        return (
            f"# cut at {sheet.rows} rows (CASEWORK_EXPORT_MAX_ROWS): the list has more; "
            "narrow the filters to export the rest"
        )

    async def _csv(self) -> AsyncGenerator[bytes, None]:
        [sheet] = self.sheets
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def take() -> bytes:
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text.encode("utf-8")

        buffer.write(BOM)
        writer.writerow([c.name for c in sheet.columns])
        yield take()

        def encode(batch: Sequence[BaseModel]) -> bytes:
            writer.writerows(csv_row(cells(r, sheet.columns)) for r in batch)
            return take()

        async for batch in self._rows(sheet, self.max_rows):
            yield await anyio.to_thread.run_sync(encode, batch)
        if sheet.cut:
            writer.writerow([self._cut_line(sheet)])
            yield take()

    async def _xlsx(self) -> AsyncGenerator[bytes, None]:
        handle, name = tempfile.mkstemp(prefix="casework-export-", suffix=".xlsx")
        os.close(handle)
        path = Path(name)
        try:
            book = XlsxBook(path)
            try:
                limit = min(self.max_rows, XLSX_MAX_ROWS)
                for sheet in self.sheets:
                    target = book.add_sheet(sheet.name, [c.name for c in sheet.columns])
                    async for batch in self._rows(sheet, limit):
                        await anyio.to_thread.run_sync(target.write_models, batch, sheet.columns)
                    if sheet.cut:
                        target.write_rows([[self._cut_line(sheet)]])
                book.about(self.about())
            finally:
                await anyio.to_thread.run_sync(book.close)
            async with await anyio.open_file(path, "rb") as file:
                while chunk := await file.read(CHUNK_BYTES):
                    yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.Path(path).unlink(missing_ok=True)

    def about(self) -> list[tuple[str, Cell]]:
        """What the About sheet says: the list, its filters, who exported it, when, from
        which position, how many rows."""
        actor = self.asker.actor
        lines: list[tuple[str, Cell]] = [
            ("List", f"{self.listing.title} ({self.listing.name})"),
        ]
        if self.section is not None:
            lines.append(("Section", self.section))
        for name, value in self.recorded.items():
            if name == "columns":
                lines.append(("Columns", cell(value)))
            elif name != "section":
                lines.append((f"Filter: {name}", cell(value)))
        team = f", team {actor.team}" if actor.team else ""
        lines += [
            ("Exported by", f"{actor.staff_id} ({actor.role.value}{team})"),
            ("Export id (access log)", self.access_id),
        ]
        for name, value in self.provenance.items():
            lines.append((name.replace("-", " ").capitalize(), value))
        for sheet in self.sheets:
            lines.append((f"Rows ({sheet.name})", sheet.rows))
            if sheet.cut:
                lines.append((f"Cut ({sheet.name})", f"at {sheet.rows} rows: "
                              "CASEWORK_EXPORT_MAX_ROWS; the list has more"))  # fmt: skip
        return lines


class XlsxSheet:
    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.row = 0

    def write_models(self, rows: Sequence[BaseModel], columns: Sequence[Column]) -> None:
        self.write_rows(cells(r, columns) for r in rows)

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        """Rows in order (constant memory: a row once written is gone from memory): text
        always as text, never a formula; numbers and booleans as such; None left empty."""
        sheet = self.sheet
        for values in rows:
            for col, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(self.row, col, value)
                elif isinstance(value, int | float):
                    sheet.write_number(self.row, col, value)
                else:
                    sheet.write_string(self.row, col, value)
            self.row += 1


class XlsxBook:
    """An XLSX workbook written row by row in constant memory (XlsxWriter)."""

    def __init__(self, path: Path) -> None:
        import xlsxwriter

        self.book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "nan_inf_to_errors": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self.bold = self.book.add_format({"bold": True})

    def add_sheet(self, name: str, header: Sequence[str]) -> XlsxSheet:
        sheet = self.book.add_worksheet(name[:31])
        for col, title in enumerate(header):
            sheet.write_string(0, col, title, self.bold)
        written = XlsxSheet(sheet)
        written.row = 1
        return written

    def about(self, lines: Sequence[tuple[str, Cell]]) -> None:
        sheet = self.add_sheet("About", ["", ""])
        sheet.write_rows([(neutralise(label), value) for label, value in lines])

    def close(self) -> None:
        self.book.close()


def _recorded(
    filters: Filters, columns: Sequence[Column] | None, section: str | None
) -> dict[str, Any]:
    found: dict[str, Any] = filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    if section is not None:
        found["section"] = section
    if columns is not None:
        found["columns"] = [c.name for c in columns]
    return found


async def start(
    asker: Asker,
    listing: Listing,
    filters: Filters,
    format: str,
    *,
    columns: str | None = None,
    section: str | None = None,
) -> Export:
    """Check the export, read its first page, record it: the `Export` to stream.

    InvalidQuery naming `format`, `section` or `columns` before anything is read or
    recorded; what the list's use case raises (AccessDenied — recorded as a refused
    export —, InvalidQuery, CaseNotVisible …) before anything is recorded as exported."""
    chosen = export_format(format)
    sheets = listing.sheets()
    if listing.report is None:
        if section is not None:
            raise InvalidQuery("section", f"the list {listing.name} has no sections")
    else:
        if section is not None and section not in sheets:
            raise InvalidQuery("section", f"one of {', '.join(sheets)}, not {section!r}")
        if section is None and len(sheets) == 1:
            section = next(iter(sheets))
        if section is None and chosen == "csv":
            raise InvalidQuery(
                "section", f"a CSV file holds one section: one of {', '.join(sheets)}"
            )
        if section is not None:
            sheets = {section: sheets[section]}
    if columns is not None and len(sheets) > 1:
        raise InvalidQuery("columns", "name a section to choose its columns")
    chosen_columns = {
        name: choose_columns(available, columns) for name, (_, available) in sheets.items()
    }
    recorded = _recorded(
        filters, next(iter(chosen_columns.values())) if columns is not None else None, section
    )
    app, actor = asker.app, asker.actor
    view = f"{access_log.EXPORT_VIEW_PREFIX}{listing.name} {chosen}"
    case_id = recorded.get("case_id") if listing.of_a_case else None
    try:
        made, report = await _first_rows(asker, listing, filters, chosen_columns)
    except AccessDenied:
        await access_log.record(app.pool, actor, case_id, view, allowed=False, filters=recorded)
        raise
    entry = await access_log.record(app.pool, actor, case_id, view, asker.reason, filters=recorded)
    computed_from = report.signed_checkpoint() if isinstance(report, KpiReport) else None
    stamp = await provenance(
        app, now=asker.now, read_models=listing.read_models, checkpoint=computed_from
    )
    log.info(
        "export started", list=listing.name, format=chosen, access_id=entry.access_id,
        staff_id=actor.staff_id,
    )  # fmt: skip
    return Export(
        asker=asker, listing=listing, format=chosen, recorded=recorded, sheets=made,
        access_id=entry.access_id, provenance=stamp, max_rows=app.settings.export_max_rows,
        section=section,
    )  # fmt: skip


async def _first_rows(
    asker: Asker, listing: Listing, filters: Filters, columns: dict[str, list[Column]]
) -> tuple[list[Sheet], BaseModel | None]:
    """Each sheet with its first rows read (the list's refusals come from here), and the
    report they were taken from (None for a list)."""
    if listing.page is not None:
        fetch = listing.page

        async def page(request: PageRequest) -> Page[Any]:
            return await fetch(asker, filters, request)

        first = await page(PageRequest(limit=MAX_LIMIT))
        [(name, chosen)] = columns.items()
        return [Sheet(name, chosen, first.items, _following(page, first))], None
    if listing.whole is not None:
        [(name, chosen)] = columns.items()
        return [Sheet(name, chosen, list(await listing.whole(asker, filters)))], None
    assert listing.report is not None
    report = await listing.report(asker, filters)
    return [
        Sheet(name, chosen, list(listing.sections[name].rows(report)))
        for name, chosen in columns.items()
    ], report
