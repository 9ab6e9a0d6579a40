"""Use case over the `circle` read model (projections/circle.py), for the caller.

* `conferences` — the case conferences of the cases the caller sees, the latest first
  (`casework case conference list`, `GET /api/v1/conferences`): when, who took part
  (staff ids, circle member ids, the client), how many decisions, the actions agreed.

Checks the `conferences` row of the access table first (AccessDenied) and pages in
memory over at most `SCAN_LIMIT` rows (`limit` and `cursor` as every list). Names and
decisions are personal data: they stay in the case (`case show`), never in this list.
"""

from __future__ import annotations

from datetime import datetime

from application.bootstrap import Casework
from application.read_models import Page, PageRequest, page_over
from cases.access import Query, query_relation
from cases.actors import Actor
from projections import queries
from projections.circle import ConferenceRow

__all__ = ["ConferenceRow", "conferences"]

SCAN_LIMIT = 5000
"""The most rows one list reads from the read model (pages are cut from them)."""


async def conferences(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    within_days: int | None = None,
    now: datetime | None = None,
) -> Page[ConferenceRow]:
    """Conferences held in the last `within_days` days (all, when None), latest first."""
    query_relation(actor, Query.CONFERENCES)
    rows = await queries.conferences(
        app.pool, actor, within_days=within_days, now=now, limit=SCAN_LIMIT
    )
    return page_over(
        "conferences",
        rows,
        lambda r: (-r.held_on.toordinal(), r.case_id, r.conference_id),
        (int, str, str),
        page,
    )
