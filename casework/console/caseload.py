"""My caseload: the open cases the signed-in member sees (a caseworker's own, a
supervisor's team, a manager's agency), what needs attention first.

Every row comes from the read models through application/read_models (scoped by the
access table): the case summary, open escalations and referrals waiting for a reply.
The list shows client references only, never personal details. It is sorted whole,
then shown a hundred rows a page. "Download CSV" and "Download Excel" take the whole
list as it is filtered, in its order, with what each row needs attention for
(`OPEN_CASES`, the list `open-cases` of casework/console/exports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from application import read_models as rm
from application.bootstrap import Casework
from application.exports import Asker, Filters, Listing
from application.read_models import CaseSummary, InvalidQuery, PageRequest
from cases.access import AccessDenied
from cases.actors import Actor
from casework.console.client_language import languages_shown
from casework.console.web import (
    PREFIX,
    casework_of,
    not_for_your_role,
    now_of,
    page,
    signed_in,
    translated,
)
from casework.i18n import _

router = APIRouter(prefix=PREFIX, include_in_schema=False)

RISK_ORDER = {"crisis": 0, "high": 1, "medium": 2, "low": 3, None: 4}
AWAITING_REPLY = frozenset({"made", "sent", "dispatch_failed"})
PAGE_SIZE = 100
"""Rows a page of the caseload shows, the most urgent first (`?page=2` for the next)."""


@dataclass(frozen=True)
class Row:
    case: CaseSummary
    overdue: bool
    escalation_level: int
    waiting_replies: int

    @property
    def attention(self) -> tuple[int, int, int, int, float]:
        """Most urgent first: escalated higher, overdue, replies waiting, risk, due soonest."""
        due = self.case.next_review_due.timestamp() if self.case.next_review_due else 1e12
        return (
            -self.escalation_level,
            0 if self.overdue else 1,
            -min(self.waiting_replies, 1),
            RISK_ORDER.get(self.case.risk_level, 4),
            due,
        )


async def caseload_rows(
    request: Request, risk: str | None, only: str | None
) -> tuple[list[Row], str | None]:
    try:
        rows = await attention_rows(
            casework_of(request), request.state.principal.actor, now_of(request), risk, only
        )
    except InvalidQuery as exc:
        return [], translated(exc.message)
    return rows, None


async def attention_rows(
    app: Casework, actor: Actor, now: datetime, risk: str | None, only: str | None
) -> list[Row]:
    """The caseload's rows, what needs attention first (InvalidQuery naming `risk_level`
    for an unknown risk level)."""
    cases = await rm.open_cases(app, actor, risk_level=risk)
    escalations = await rm.escalations(app, actor, PageRequest(limit=rm.MAX_LIMIT))
    levels: dict[str, int] = {}
    for e in escalations.items:
        levels[e.case_id] = max(levels.get(e.case_id, 0), e.level)
    referrals = await rm.referrals(app, actor, PageRequest(limit=rm.MAX_LIMIT), open_only=True)
    waiting: dict[str, int] = {}
    for r in referrals.items:
        if r.status in AWAITING_REPLY:
            waiting[r.case_id] = waiting.get(r.case_id, 0) + 1
    rows = [
        Row(
            case=c,
            overdue=c.next_review_due is not None and c.next_review_due < now,
            escalation_level=levels.get(c.case_id, 0),
            waiting_replies=waiting.get(c.case_id, 0),
        )
        for c in cases
    ]
    if only == "overdue":
        rows = [r for r in rows if r.overdue]
    elif only == "escalated":
        rows = [r for r in rows if r.escalation_level]
    elif only == "replies":
        rows = [r for r in rows if r.waiting_replies]
    rows.sort(key=lambda r: r.attention)
    return rows


class OpenCase(CaseSummary):
    """A row of the caseload as downloaded: the case's summary, and what it needs
    attention for (as the page's badges say)."""

    review_overdue: bool
    escalation_level: int
    referral_replies_waiting: int


class CaseloadFilters(Filters):
    risk: Literal["crisis", "high", "medium", "low"] | None = None
    only: Literal["overdue", "escalated", "replies"] | None = None


async def _open_cases(asker: Asker, filters: CaseloadFilters) -> Sequence[OpenCase]:
    rows = await attention_rows(asker.app, asker.actor, asker.now, filters.risk, filters.only)
    return [
        OpenCase(
            **r.case.model_dump(),
            review_overdue=r.overdue,
            escalation_level=r.escalation_level,
            referral_replies_waiting=r.waiting_replies,
        )
        for r in rows
    ]


OPEN_CASES = Listing(
    "open-cases", "My caseload (open cases)", OpenCase, CaseloadFilters,
    whole=_open_cases, read_models=("case_summary", "escalations", "referrals"),
)  # fmt: skip
"""The caseload page's list, for its download links: every row the filters keep, in
the page's order (at most the `MAX_LIMIT` open cases the page itself reads)."""


@dataclass(frozen=True)
class Shown:
    """One page of the caseload: rows `first` … `last` (1-based) of `total`."""

    number: int
    total: int
    pages: int

    @property
    def first(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1

    @property
    def last(self) -> int:
        return min(self.total, self.number * PAGE_SIZE)

    def link(self, number: int, risk: str, only: str) -> str:
        query = urlencode({k: v for k, v in (("risk", risk), ("only", only)) if v})
        return f"?{query}&page={number}" if query else f"?page={number}"


@router.get("/caseload")
async def caseload(
    request: Request, risk: str = "", only: str = "", number: str = Query("1", alias="page")
) -> Response:
    principal = await signed_in(request)
    try:
        rows, problem = await caseload_rows(request, risk or None, only or None)
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    wanted = int(number) if number.isdigit() and len(number) < 7 else 0
    if wanted < 1:
        problem, wanted = problem or _("page: a whole number, 1 or more"), 1
    shown = Shown(min(max(wanted, 1), pages), len(rows), pages)
    return page(
        request,
        "caseload.html",
        title=_("My caseload"),
        current="caseload",
        rows=rows[shown.first - 1 : shown.last],
        languages=await languages_shown(casework_of(request), rows[shown.first - 1 : shown.last]),
        shown=shown,
        risk=risk,
        only=only,
        problem=problem,
        whose=principal.actor,
        status_code=422 if problem else 200,
    )
