"""Use cases over the `plan_actions` read model (projections/actions.py), for the caller.

* `my_actions` — the caller's open actions due within the coming days (a week unless
  told), overdue ones first (`casework actions mine`, `GET /api/v1/actions/mine`);
* `overdue_actions` — overdue actions of the teams the caller sees, oldest due first
  (`casework actions overdue`, `GET /api/v1/actions/overdue`);
* `overdue_by_team` — their count per team (the demo's summary, the console).

Each checks the `actions` row of the access table first (AccessDenied) and pages in
memory over at most `SCAN_LIMIT` rows (`limit` and `cursor` as every list).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from application.bootstrap import Casework
from application.read_models import Page, PageRequest, _micros, page_over
from cases.access import Query, query_relation
from cases.actors import Actor
from projections import queries
from projections.actions import ActionRow, TeamOverdue

__all__ = ["ActionRow", "TeamOverdue", "my_actions", "overdue_actions", "overdue_by_team"]

SCAN_LIMIT = 5000
"""The most rows one list reads from the read model (pages are cut from them)."""


async def my_actions(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    within_days: int = 7,
    now: datetime | None = None,
) -> Page[ActionRow]:
    """The caller's open actions due within `within_days` days, overdue ones first."""
    query_relation(actor, Query.ACTIONS)
    rows = await queries.my_actions(
        app.pool, actor, within=timedelta(days=within_days), now=now, limit=SCAN_LIMIT
    )
    return page_over(
        "my_actions",
        rows,
        lambda r: (0 if r.status == "overdue" else 1, _micros(r.due_at), r.case_id, r.action_id),
        (int, int, str, str),
        page,
    )


async def overdue_actions(
    app: Casework, actor: Actor, page: PageRequest, *, team: str | None = None
) -> Page[ActionRow]:
    """Overdue actions of the open cases the caller sees (of `team`), oldest due first."""
    query_relation(actor, Query.ACTIONS)
    rows = await queries.overdue_actions(app.pool, actor, team=team, limit=SCAN_LIMIT)
    return page_over(
        "overdue_actions",
        rows,
        lambda r: (_micros(r.due_at), r.case_id, r.action_id),
        (int, str, str),
        page,
    )


async def overdue_by_team(app: Casework, actor: Actor) -> list[TeamOverdue]:
    """How many actions are overdue per team (of the teams the caller sees)."""
    query_relation(actor, Query.ACTIONS)
    return await queries.overdue_actions_by_team(app.pool, actor)
