"""The lists over the caller's cases (application/read_models.py): caseloads, approvals
waiting for a decision, referrals (and their counts by provider), reviews due,
open escalations and the open cases of the staff console.

Each asks the access table first (`cases.access.query_relation`), runs the read
model's query (projections/queries.py), kept to the cases the caller may see, and
answers one `Page` of rows in a stable order, paged in SQL after the cursor's key.
"""

from __future__ import annotations

from typing import Literal

from application.bootstrap import Casework
from application.paging import (
    MAX_LIMIT,
    InvalidQuery,
    Key,
    Page,
    PageRequest,
    after_key,
    micros,
    moment,
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
)
from projections.referrals import referral_key

REFERRAL_STATUSES = ("made", "sent", "dispatch_failed", "accepted", "declined", "completed")
"""The statuses of the `referrals` read model."""


ApprovalKindName = Literal["plan", "closure"]


ReferralStatusName = Literal["made", "sent", "dispatch_failed", "accepted", "declined", "completed"]


CaseloadBy = Literal["worker", "team"]


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
    after = after_key(name, page, shape)
    start: tuple[str, str] | tuple[str] | None = None
    if after is not None:
        start = (str(after[0]), str(after[1])) if by == "worker" else (str(after[0]),)
    rows = await queries.caseload(
        app.pool, actor, worker=worker, team=team, by=by, limit=page.limit + 1, after=start
    )

    def key(row: Caseload) -> Key:
        return (row.team, row.worker or "") if by == "worker" else (row.team,)

    return sql_page(name, rows, page, key)


async def approvals(
    app: Casework, actor: Actor, page: PageRequest, *, kind: ApprovalKindName | None = None
) -> Page[PendingApproval]:
    """Approvals waiting for a decision, oldest first."""
    query_relation(actor, Query.APPROVALS)
    after = after_key("approvals", page, (int, str, str))
    rows = await queries.pending_approvals(
        app.pool, actor, kind=kind, limit=page.limit + 1,
        after=(moment(after[0]), str(after[1]), str(after[2])) if after else None,
    )  # fmt: skip
    return sql_page(
        "approvals", rows, page, lambda r: (micros(r.requested_at), r.case_id, r.approval_id)
    )


def _referral_cursor(row: Referral) -> Key:
    """The query's order (`projections.referrals.referral_key`): awaiting a reply first,
    the longest waiting first, then by when made. Stable: it does not depend on now."""
    awaiting, since, made_at, case_id, referral_id = referral_key(row)
    return (awaiting, micros(since), micros(made_at), case_id, referral_id)


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
    after = after_key("referrals", page, (int, int, int, str, str))
    rows = await queries.referrals(
        app.pool, actor, provider=provider, status=status, open_only=open_only,
        limit=page.limit + 1,
        after=(int(after[0]), moment(after[1]), moment(after[2]), str(after[3]),
               str(after[4])) if after else None,
    )  # fmt: skip
    return sql_page("referrals", rows, page, _referral_cursor)


async def referral_counts(
    app: Casework, actor: Actor, page: PageRequest, *, provider: str | None = None
) -> Page[ReferralCount]:
    """Referrals by provider and status, with the longest wait for a reply (the query
    aggregates, and starts after the cursor's provider and status)."""
    query_relation(actor, Query.REFERRALS)
    after = after_key("referrals-by-provider", page, (str, str))
    rows = await queries.referral_counts(
        app.pool, actor, provider=provider, limit=page.limit + 1,
        after=(str(after[0]), str(after[1])) if after else None,
    )  # fmt: skip
    return sql_page("referrals-by-provider", rows, page, lambda r: (r.provider_id, r.status))


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
    after = after_key("reviews", page, (int, str))
    rows = await queries.reviews(
        app.pool, actor, within_days=within_days, overdue_only=overdue_only,
        limit=page.limit + 1, after=(moment(after[0]), str(after[1])) if after else None,
    )  # fmt: skip
    return sql_page("reviews", rows, page, lambda r: (micros(r.due_at), r.case_id))


async def escalations(
    app: Casework, actor: Actor, page: PageRequest, *, level: int | None = None
) -> Page[OpenEscalation]:
    """Open escalations, the highest level first, then the oldest."""
    query_relation(actor, Query.ESCALATIONS)
    after = after_key("escalations", page, (int, int, str, str))
    rows = await queries.escalations(
        app.pool, actor, level=level, limit=page.limit + 1,
        after=(-int(after[0]), moment(after[1]), str(after[2]), str(after[3]))
        if after else None,
    )  # fmt: skip
    return sql_page(
        "escalations",
        rows,
        page,
        lambda r: (-r.level, micros(r.raised_at), r.case_id, r.escalation_id),
    )


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
