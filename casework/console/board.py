"""The overdue and escalations board (supervisors, managers): lapsed reviews and open
escalations by team, level and age, refreshing by itself.

The page polls its own fragment (`/console/board/rows`) every few seconds with one
small script file (`static/board.js`, allowed by the page's Content-Security-Policy);
with JavaScript off, a `<noscript>` meta refresh reloads the whole page instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import board as board_use_case
from application.read_models import OpenEscalation, ReviewDue
from cases.access import AccessDenied
from casework.console.web import (
    PREFIX,
    casework_of,
    not_for_your_role,
    now_of,
    page,
    signed_in,
)
from casework.i18n import _

router = APIRouter(prefix=PREFIX, include_in_schema=False)

REFRESH_SECONDS = 5


SHOWN_PER_TEAM = 50
"""Each team's table shows its most urgent rows, this many (the highest escalations, the
most overdue reviews), and says how many more there are."""


@dataclass
class Team:
    """One team's rows as the board shows them, and how many more each list has."""

    team: str
    overdue: list[ReviewDue] = field(default_factory=list)
    escalations: list[OpenEscalation] = field(default_factory=list)
    more_overdue: int = 0
    more_escalations: int = 0


async def board_teams(request: Request) -> list[Team]:
    """Each team's most urgent rows, ranked and cut in SQL (application/board.py), with
    how many more each list has."""
    app = casework_of(request)
    actor = request.state.principal.actor
    found = await board_use_case.board(app, actor, per_team=SHOWN_PER_TEAM)
    return [
        Team(
            t.team,
            t.overdue,
            t.escalations,
            more_overdue=max(0, t.overdue_total - len(t.overdue)),
            more_escalations=max(0, t.escalations_total - len(t.escalations)),
        )
        for t in found
    ]


async def _board(request: Request, template: str) -> Response:
    try:
        teams = await board_teams(request)
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    return page(
        request,
        template,
        title=_("Overdue and escalations"),
        current="board",
        teams=teams,
        refreshed=now_of(request),
        every=REFRESH_SECONDS,
    )


@router.get("/board")
async def board(request: Request) -> Response:
    await signed_in(request)
    return await _board(request, "board.html")


@router.get("/board/rows")
async def board_rows(request: Request) -> Response:
    """The board's content alone, for the page's script to swap in."""
    await signed_in(request)
    return await _board(request, "board_rows.html")
