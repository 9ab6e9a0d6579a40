"""The overdue and escalations board (the staff console's `/console/board`): each team's
most overdue lapsed reviews and highest open escalations, and how many of each.

Asks the access table first, for both lists the board shows (`Query.REVIEWS` and
`Query.ESCALATIONS`: a role that may make neither query gets `AccessDenied`), then runs
the read models' board query (projections/board.py), kept to the cases the caller may
see. The rows and their order are those of `application.case_lists.reviews(overdue_only=
True)` and `escalations`, ranked within each team in SQL, so the board reads at most
`per_team` rows of each list a team however many cases are overdue.
"""

from __future__ import annotations

from datetime import datetime

from application.bootstrap import Casework
from cases.access import Query, query_relation
from cases.actors import Actor
from projections.board import TeamBoard
from projections.board import board as board_query

__all__ = ["TeamBoard", "board"]


async def board(
    app: Casework, actor: Actor, *, per_team: int, now: datetime | None = None
) -> list[TeamBoard]:
    """Each team's `per_team` most urgent lapsed reviews and open escalations, with the
    counts of both, the teams by name. Raises AccessDenied for a role that may not list
    reviews or escalations."""
    query_relation(actor, Query.REVIEWS)
    query_relation(actor, Query.ESCALATIONS)
    return await board_query(app.pool, actor, per_team=per_team, now=now)
