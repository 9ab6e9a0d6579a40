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

Pages and cursors are in application/paging.py, the lists over the caller's cases in
application/case_lists.py, the outcomes report in application/outcomes_report.py; this
module holds the reads of one case and of the access log, and re-exports the others.
"""

from __future__ import annotations

from application import access_log
from application.access_log import AccessEntry, View, authorise_read, locate_in_read_model
from application.bootstrap import Casework
from application.case_lists import (
    REFERRAL_STATUSES,
    ApprovalKindName,
    CaseloadBy,
    ReferralStatusName,
    approvals,
    caseload,
    escalations,
    open_cases,
    referral_counts,
    referrals,
    reviews,
)
from application.outcomes_report import (
    AdvocacyOutcomes,
    GoalOutcomes,
    Outcomes,
    PlanApprovalTimes,
    PlanFeedback,
    ProviderFeedback,
    outcomes,
)
from application.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    InvalidQuery,
    Key,
    Page,
    PageRequest,
    after_key,
    decode_cursor,
    encode_cursor,
    micros,
    page_over,
    sql_page,
)
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

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "REFERRAL_STATUSES",
    "AccessEntry",
    "AdvocacyOutcomes",
    "ApprovalKindName",
    "CaseSummary",
    "Caseload",
    "CaseloadBy",
    "GoalOutcomes",
    "InvalidQuery",
    "Key",
    "OpenEscalation",
    "Outcomes",
    "Page",
    "PageRequest",
    "PendingApproval",
    "PlanApprovalTimes",
    "PlanFeedback",
    "ProviderFeedback",
    "Referral",
    "ReferralCount",
    "ReferralStatusName",
    "ReviewDue",
    "TimelineEntry",
    "access_log_entries",
    "approvals",
    "break_glass_entries",
    "case_summary",
    "case_timeline",
    "caseload",
    "decode_cursor",
    "encode_cursor",
    "escalations",
    "open_cases",
    "outcomes",
    "page_over",
    "referral_counts",
    "referrals",
    "reviews",
]


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


async def access_log_entries(
    app: Casework, actor: Actor, case_id: str, page: PageRequest
) -> Page[AccessEntry]:
    """Who read the case, newest first (auditors, managers: AccessDenied for the other
    roles)."""
    query_relation(actor, Query.ACCESS_LOG)
    after = after_key("access-log", page, (int,))
    rows = await access_log.entries(
        app.pool, actor, case_id, limit=page.limit + 1,
        before=-int(after[0]) if after else None,
    )  # fmt: skip
    return sql_page("access-log", rows, page, lambda e: (-e.access_id,))


async def break_glass_entries(app: Casework, actor: Actor, page: PageRequest) -> Page[AccessEntry]:
    """Every emergency access, newest first (for the same roles as the access log)."""
    query_relation(actor, Query.ACCESS_LOG)
    after = after_key("break-glass", page, (int,))
    rows = await access_log.break_glass_entries(
        app.pool, actor, limit=page.limit + 1, before=-int(after[0]) if after else None
    )
    return sql_page("break-glass", rows, page, lambda e: (-e.access_id,))


_micros = micros
"""The old name of `application.paging.micros` (application/actions.py imports it)."""
