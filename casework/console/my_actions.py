"""Actions: the signed-in member's plan actions due this week (overdue ones first) and,
for those who see a team or more, the overdue actions of each team.

Rows come from the `plan_actions` read model through application/actions.py (scoped
by the access table's `actions` row): case references, goals, owners and due dates,
never what an action says (that is personal data: the case page shows it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import actions
from application.read_models import MAX_LIMIT, PageRequest
from cases.access import AccessDenied
from cases.actors import Role
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


@router.get("/actions")
async def my_actions(request: Request) -> Response:
    principal = await signed_in(request)
    app = casework_of(request)
    actor = principal.actor
    try:
        mine = await actions.my_actions(
            app, actor, PageRequest(limit=MAX_LIMIT), now=now_of(request)
        )
        sees_teams = actor.role in (Role.SUPERVISOR, Role.MANAGER)
        overdue = (
            await actions.overdue_actions(app, actor, PageRequest(limit=MAX_LIMIT))
            if sees_teams
            else None
        )
        by_team = await actions.overdue_by_team(app, actor) if sees_teams else []
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    return page(
        request,
        "my_actions.html",
        title=_("My actions this week"),
        current="actions",
        mine=mine.items,
        overdue=overdue.items if overdue is not None else None,
        by_team=by_team,
    )
