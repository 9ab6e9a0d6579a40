"""Reading the read models: one use case per query, scoped by the caller, in pages.

Each use case asks the one access table first (`cases.access.query_relation`: a role
that may not make the query at all gets `AccessDenied`), runs the read model's own
query (projections/queries.py), which keeps to the cases the caller may see
(projections/scope.py), and answers one `Page` of rows in a stable order.

Reads of one case (`case_timeline`, `case_summary`) locate the case in `case_summary`,
go through the access check and are recorded in the access log before anything is
read (`application.access_log.authorise_read`), exactly as `casework timeline` and
`casework summary` do: a case out of scope raises `CaseNotVisible`, as a case that
does not exist does.

Paging is by cursor (keyset): rows are ordered by a unique key; a page ends with the
key of its last row, encoded as an opaque `next_cursor` (url-safe base64 of JSON
naming the query); the next page is the rows whose key comes after it. A cursor is
therefore never an offset: rows added or removed meanwhile do not shift the pages, and
paging through an unchanging list returns every row exactly once. (A row whose sort
key changes between two pages — a referral answered, a review rescheduled — may show
up twice or not at all, as in any live list.)

Every list pages in SQL: its query takes `limit` and the key to start after (`after`;
`after_version` for the timeline, `before` for the access log, newest first), so a
page reads at most `limit + 1` rows (the one more tells whether there is a next page),
however long the list. The cursor's key is the query's own ORDER BY (unique: it ends
with the row's ids), with times as microseconds since the epoch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from application import access_log
from application.access_log import AccessEntry, View, authorise_read, locate_in_read_model
from application.bootstrap import Casework
from cases.access import Query, query_relation
from cases.actors import Actor
from projections import queries
from projections.queries import (
    Caseload,
    CaseSummary,
    OpenEscalation,
    PendingApproval,
    Referral,
    ReferralCount,
    ReviewDue,
    TimelineEntry,
)
from projections.referrals import referral_key

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "REFERRAL_STATUSES",
    "AccessEntry",
    "CaseSummary",
    "Caseload",
    "GoalOutcomes",
    "InvalidQuery",
    "OpenEscalation",
    "Outcomes",
    "Page",
    "PageRequest",
    "PendingApproval",
    "PlanApprovalTimes",
    "Referral",
    "ReferralCount",
    "ReviewDue",
    "TimelineEntry",
    "access_log_entries",
    "approvals",
    "break_glass_entries",
    "case_summary",
    "case_timeline",
    "caseload",
    "escalations",
    "outcomes",
    "page_over",
    "referral_counts",
    "referrals",
    "reviews",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

REFERRAL_STATUSES = ("made", "sent", "dispatch_failed", "accepted", "declined", "completed")
"""The statuses of the `referrals` read model."""

ApprovalKindName = Literal["plan", "closure"]
ReferralStatusName = Literal["made", "sent", "dispatch_failed", "accepted", "declined", "completed"]
CaseloadBy = Literal["worker", "team"]

_MAX_CURSOR_CHARS = 1000


class InvalidQuery(ValueError):
    """A parameter of a query is not acceptable (a cursor of another query, a period
    that ends before it starts); `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class PageRequest(BaseModel):
    """Which page: at most `limit` rows, after the row `cursor` ended the last page at."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, max_length=_MAX_CURSOR_CHARS)


class Page(BaseModel, Generic[T]):
    """One page of a query's rows, in the query's order."""

    items: list[T]
    limit: int
    next_cursor: str | None = Field(
        description="Send as `cursor` for the next page; null on the last page."
    )


# --- cursors ---------------------------------------------------------------------------------

Key = tuple[int | str, ...]
"""A row's place in its query's order: ints and strings only (times as microseconds
since the epoch), so keys compare alike in Python and after a round trip in JSON."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int | str) -> datetime:
    """The time a cursor holds as microseconds since the epoch (exact: PostgreSQL keeps
    microseconds)."""
    return _EPOCH + timedelta(microseconds=int(micros))


def encode_cursor(query: str, key: Key) -> str:
    """The opaque cursor after the row with `key` of `query`."""
    raw = json.dumps({"q": query, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: str, cursor: str, shape: Sequence[type]) -> Key:
    """The key in `cursor`, which must be one of `query`'s (InvalidQuery naming `cursor`)."""
    bad = InvalidQuery("cursor", f"not a cursor of {query}: send back a next_cursor it answered")
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("q") != query:
        raise bad
    key = data.get("k")
    if not isinstance(key, list) or len(key) != len(shape):
        raise bad
    # bool is an int to Python, never in a key.
    if not all(type(v) is kind for v, kind in zip(key, shape, strict=True)):
        raise bad
    return tuple(key)


def page_over(
    query: str,
    rows: Sequence[T],
    key: Callable[[T], Key],
    shape: Sequence[type],
    page: PageRequest,
) -> Page[T]:
    """Page over rows held in memory (a query's whole result, or a directory folded from
    its stream): sorted by `key`, the rows after the cursor."""
    ordered = sorted(rows, key=key)
    if page.cursor is not None:
        after = decode_cursor(query, page.cursor, shape)
        ordered = [row for row in ordered if key(row) > after]
    items = ordered[: page.limit]
    more = len(ordered) > page.limit
    return Page[T](
        items=items,
        limit=page.limit,
        next_cursor=encode_cursor(query, key(items[-1])) if more else None,
    )


def _after(query: str, page: PageRequest, shape: Sequence[type]) -> Key | None:
    """The key the page starts after (None: the first page); InvalidQuery naming
    `cursor` when it is not one of `query`'s."""
    return decode_cursor(query, page.cursor, shape) if page.cursor is not None else None


def _sql_page(query: str, rows: Sequence[T], page: PageRequest, key: Callable[[T], Key]) -> Page[T]:
    """A page from a query asked for `page.limit + 1` rows after the cursor's key, in
    the order `key` gives: the extra row only tells that there is a next page."""
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return Page[T](
        items=items,
        limit=page.limit,
        next_cursor=encode_cursor(query, key(items[-1])) if more else None,
    )


# --- lists over the caller's cases -----------------------------------------------------------


async def caseload(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    worker: str | None = None,
    team: str | None = None,
    by: CaseloadBy = "worker",
) -> Page[Caseload]:
    """Open cases per worker (or per team) of the cases the caller sees, by team then
    worker (the query aggregates, and starts after the cursor's team and worker)."""
    query_relation(actor, Query.CASELOAD)
    name = f"caseload-by-{by}"
    shape: tuple[type, ...] = (str, str) if by == "worker" else (str,)
    after = _after(name, page, shape)
    start: tuple[str, str] | tuple[str] | None = None
    if after is not None:
        start = (str(after[0]), str(after[1])) if by == "worker" else (str(after[0]),)
    rows = await queries.caseload(
        app.pool, actor, worker=worker, team=team, by=by, limit=page.limit + 1, after=start
    )

    def key(row: Caseload) -> Key:
        return (row.team, row.worker or "") if by == "worker" else (row.team,)

    return _sql_page(name, rows, page, key)


async def approvals(
    app: Casework, actor: Actor, page: PageRequest, *, kind: ApprovalKindName | None = None
) -> Page[PendingApproval]:
    """Approvals waiting for a decision, oldest first."""
    query_relation(actor, Query.APPROVALS)
    after = _after("approvals", page, (int, str, str))
    rows = await queries.pending_approvals(
        app.pool, actor, kind=kind, limit=page.limit + 1,
        after=(_moment(after[0]), str(after[1]), str(after[2])) if after else None,
    )  # fmt: skip
    return _sql_page(
        "approvals", rows, page, lambda r: (_micros(r.requested_at), r.case_id, r.approval_id)
    )


def _referral_cursor(row: Referral) -> Key:
    """The query's order (`projections.referrals.referral_key`): awaiting a reply first,
    the longest waiting first, then by when made. Stable: it does not depend on now."""
    awaiting, since, made_at, case_id, referral_id = referral_key(row)
    return (awaiting, _micros(since), _micros(made_at), case_id, referral_id)


async def referrals(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    provider: str | None = None,
    status: ReferralStatusName | None = None,
    open_only: bool = False,
) -> Page[Referral]:
    """Referrals, those waiting longest for a reply first."""
    query_relation(actor, Query.REFERRALS)
    after = _after("referrals", page, (int, int, int, str, str))
    rows = await queries.referrals(
        app.pool, actor, provider=provider, status=status, open_only=open_only,
        limit=page.limit + 1,
        after=(int(after[0]), _moment(after[1]), _moment(after[2]), str(after[3]),
               str(after[4])) if after else None,
    )  # fmt: skip
    return _sql_page("referrals", rows, page, _referral_cursor)


async def referral_counts(
    app: Casework, actor: Actor, page: PageRequest, *, provider: str | None = None
) -> Page[ReferralCount]:
    """Referrals by provider and status, with the longest wait for a reply (the query
    aggregates, and starts after the cursor's provider and status)."""
    query_relation(actor, Query.REFERRALS)
    after = _after("referrals-by-provider", page, (str, str))
    rows = await queries.referral_counts(
        app.pool, actor, provider=provider, limit=page.limit + 1,
        after=(str(after[0]), str(after[1])) if after else None,
    )  # fmt: skip
    return _sql_page("referrals-by-provider", rows, page, lambda r: (r.provider_id, r.status))


async def reviews(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    within_days: int = 14,
    overdue_only: bool = False,
) -> Page[ReviewDue]:
    """Reviews overdue, then due within `within_days` (or overdue only), the most overdue
    first."""
    query_relation(actor, Query.REVIEWS)
    after = _after("reviews", page, (int, str))
    rows = await queries.reviews(
        app.pool, actor, within_days=within_days, overdue_only=overdue_only,
        limit=page.limit + 1, after=(_moment(after[0]), str(after[1])) if after else None,
    )  # fmt: skip
    return _sql_page("reviews", rows, page, lambda r: (_micros(r.due_at), r.case_id))


async def escalations(
    app: Casework, actor: Actor, page: PageRequest, *, level: int | None = None
) -> Page[OpenEscalation]:
    """Open escalations, the highest level first, then the oldest."""
    query_relation(actor, Query.ESCALATIONS)
    after = _after("escalations", page, (int, int, str, str))
    rows = await queries.escalations(
        app.pool, actor, level=level, limit=page.limit + 1,
        after=(-int(after[0]), _moment(after[1]), str(after[2]), str(after[3]))
        if after else None,
    )  # fmt: skip
    return _sql_page(
        "escalations",
        rows,
        page,
        lambda r: (-r.level, _micros(r.raised_at), r.case_id, r.escalation_id),
    )


class GoalOutcomes(BaseModel):
    domain: str
    team: str
    """The team that held the case when the goal was evaluated."""
    met: int
    partly_met: int
    not_met: int


class PlanApprovalTimes(BaseModel):
    approved: int
    avg_hours_to_approval: float | None


class AdvocacyOutcomes(BaseModel):
    """Advocacy on clients' behalf against one barrier, by the team that took it up:
    opened in the period, still open, concluded in the period by outcome, and of those
    how many went to appeal and how many appeals were won (systemic barriers)."""

    barrier: str
    team: str
    opened: int
    still_open: int
    resolved: int
    partly_resolved: int
    not_resolved: int
    withdrawn: int
    appealed: int
    won_on_appeal: int


class ProviderFeedback(BaseModel):
    """Clients' ratings (1 poor … 5 excellent) of one provider's service, lowest first."""

    provider_id: str
    service_id: str | None
    ratings: int
    avg_rating: float
    poor: int
    """Ratings of 1 or 2."""


class PlanFeedback(BaseModel):
    """Clients' ratings of their plans, and whether they agreed with the version asked about."""

    ratings: int = 0
    avg_rating: float | None = None
    agrees: int = 0
    disagrees: int = 0


class Outcomes(BaseModel):
    """Goal evaluations by domain and team, closures by reason, time to plan approval,
    advocacy by barrier and outcome, and the client's feedback by provider and service,
    over [since, until) (all time when not given), of the cases the caller sees."""

    since: datetime | None
    until: datetime | None
    goals: list[GoalOutcomes]
    closures: dict[str, int]
    plan_approval: PlanApprovalTimes
    advocacy: list[AdvocacyOutcomes] = Field(default_factory=list)
    feedback: list[ProviderFeedback] = Field(default_factory=list)
    plan_feedback: PlanFeedback = PlanFeedback()


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


async def outcomes(
    app: Casework, actor: Actor, *, since: date | None = None, until: date | None = None
) -> Outcomes:
    """The outcomes report (one document of counts, not a list: never paged)."""
    query_relation(actor, Query.OUTCOMES)
    if since is not None and until is not None and until <= since:
        raise InvalidQuery("until", "must be a later day than since")
    found: dict[str, Any] = await queries.outcomes(
        app.pool, actor, since=_midnight(since), until=_midnight(until)
    )
    return Outcomes.model_validate(found)


# --- one case: checked and recorded in the access log ----------------------------------------


async def case_timeline(
    app: Casework,
    actor: Actor,
    case_id: str,
    page: PageRequest,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> Page[TimelineEntry]:
    """What happened on the case and who did it, in order, once the read is allowed and
    recorded (each page is a read, recorded as `timeline`). Paged in SQL, after the
    cursor's stream version.

    Raises CaseNotVisible (no such case, or out of scope), AccessDenied (a role that
    reads no case history), BreakGlassRefused, InvalidQuery (the cursor)."""
    after = decode_cursor("timeline", page.cursor, (int,))[0] if page.cursor else 0
    assert isinstance(after, int)
    grant = await _authorise(app, actor, case_id, View.TIMELINE, reason, break_glass)
    rows = await queries.timeline(
        app.pool, grant.reader, case_id, after_version=after, limit=page.limit + 1
    )
    items = rows[: page.limit]
    more = len(rows) > page.limit
    return Page[TimelineEntry](
        items=items,
        limit=page.limit,
        next_cursor=encode_cursor("timeline", (items[-1].stream_version,)) if more else None,
    )


async def case_summary(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> CaseSummary:
    """Where the case stands, once the read is allowed and recorded (as `summary`).

    Raises CaseNotVisible, AccessDenied, BreakGlassRefused as `case_timeline` does."""
    grant = await _authorise(app, actor, case_id, View.SUMMARY, reason, break_glass)
    return await queries.case_summary(app.pool, grant.reader, case_id)


async def _authorise(
    app: Casework,
    actor: Actor,
    case_id: str,
    view: View,
    reason: str | None,
    break_glass: str | None,
) -> access_log.ReadGrant:
    """The read-model views locate the case where they read it: in `case_summary`."""
    location = await locate_in_read_model(app.pool, case_id)
    return await authorise_read(
        app.pool, actor, case_id, view, location,
        reason=reason, break_glass=break_glass, store=app.store,
    )  # fmt: skip


# --- the access log --------------------------------------------------------------------------


async def access_log_entries(
    app: Casework, actor: Actor, case_id: str, page: PageRequest
) -> Page[AccessEntry]:
    """Who read the case, newest first (auditors, managers: AccessDenied for the other
    roles)."""
    query_relation(actor, Query.ACCESS_LOG)
    after = _after("access-log", page, (int,))
    rows = await access_log.entries(
        app.pool, actor, case_id, limit=page.limit + 1,
        before=-int(after[0]) if after else None,
    )  # fmt: skip
    return _sql_page("access-log", rows, page, lambda e: (-e.access_id,))


async def break_glass_entries(app: Casework, actor: Actor, page: PageRequest) -> Page[AccessEntry]:
    """Every emergency access, newest first (for the same roles as the access log)."""
    query_relation(actor, Query.ACCESS_LOG)
    after = _after("break-glass", page, (int,))
    rows = await access_log.break_glass_entries(
        app.pool, actor, limit=page.limit + 1, before=-int(after[0]) if after else None
    )
    return _sql_page("break-glass", rows, page, lambda e: (-e.access_id,))


async def open_cases(
    app: Casework, actor: Actor, *, risk_level: str | None = None, limit: int = MAX_LIMIT
) -> list[CaseSummary]:
    """The open cases the caller sees, one row each (the staff console's caseload), the
    soonest review first; at most `limit`. No client personal details: the read model
    holds none."""
    query_relation(actor, Query.CASELOAD)
    if risk_level is not None and risk_level not in queries.RISK_LEVELS:
        raise InvalidQuery("risk_level", f"one of {', '.join(queries.RISK_LEVELS)}")
    return await queries.open_cases(app.pool, actor, risk_level=risk_level, limit=limit)
