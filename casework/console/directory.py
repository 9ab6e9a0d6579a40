"""Directory and policy (read-only): staff and teams, providers and their services, and
the agency's review policy. Every role may read the directories (the access table's
`directories` query); changes stay with the administrators' commands."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application.policies import current_policy
from cases.access import AccessDenied, Query, query_relation
from cases.policy import format_duration
from casework.console.web import PREFIX, casework_of, page, signed_in
from casework.i18n import N_, _
from directory import load_resource_directory, load_staff_directory

router = APIRouter(prefix=PREFIX, include_in_schema=False)

NOTIFIED = (N_("worker"),)
"""Who an escalation step notifies (`cases.policy.Notify`) as the page names them (`words`):
the words that are not a role's (the roles' are the vocabulary's)."""


@router.get("/directory")
async def directory(request: Request) -> Response:
    principal = await signed_in(request)
    try:
        query_relation(principal.actor, Query.DIRECTORIES)
    except AccessDenied as exc:
        return page(request, "refused.html", title=_("Not for your role"), message=str(exc),
                    status_code=403)  # fmt: skip
    app = casework_of(request)
    staff = await load_staff_directory(app.store)
    resources = await load_resource_directory(app.store)
    policy = await current_policy(app.store)
    return page(
        request,
        "directory.html",
        title=_("Directory and policy"),
        current="directory",
        teams=sorted(staff.teams.values(), key=lambda t: t.team_id),
        members=sorted(staff.members.values(), key=lambda m: (m.team or "", m.staff_id)),
        providers=sorted(resources.providers.values(), key=lambda p: p.name),
        policy=policy,
        duration=format_duration,
    )
