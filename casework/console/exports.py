"""Downloads of the console's lists: `GET /console/export/<list>.<csv|xlsx>?<filters>`.

Every list page (the caseload, approvals, actions, transfers, the board's overdue
reviews and escalations, outcomes, the audit pages) links "Download CSV" and "Download
Excel" here, with the filters the page shows (plain links: the console's
Content-Security-Policy allows no inline script, and a download needs none). The file
is the page's list whole, as the HTTP API's `format=csv|xlsx` makes it, through the
same use case (application/exports.py `start`): the same rows and order, only the
viewer's cases, recorded in the access log when it starts. The caseload page's own list
(its rows with what needs attention, in the page's order) is `open-cases`
(casework/console/caseload.py `OPEN_CASES`); the others are the catalogue's
(`application.exports.LISTS`).

A GET with the session cookie, as every console page (no CSRF token: it changes
nothing but the access log). A filter the list does not take, or a bad value, answers
the refusal page (422); a role that may not see the list, 403; an unknown list, 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from application import exports
from application.exports import Asker, Listing
from application.paging import InvalidQuery
from cases.access import AccessDenied, BreakGlassRefused, CaseNotVisible
from casework.console.caseload import OPEN_CASES
from casework.console.web import PREFIX, casework_of, now_of, page, signed_in, templates
from casework.i18n import _

router = APIRouter(prefix=PREFIX, include_in_schema=False)

CONSOLE_LISTS: dict[str, Listing] = {OPEN_CASES.name: OPEN_CASES}
"""The console's own lists (beside the catalogue's)."""

OPTIONS = ("columns", "section")
"""Query parameters that are the export's, not the list's filters."""


def export_url(name: str, format: str, filters: dict[str, Any] | None = None) -> str:
    """The download link of list `name` as `format`, with the page's filters (empty ones
    left out)."""
    kept = {k: v for k, v in (filters or {}).items() if v not in (None, "", False)}
    query = urlencode({k: str(v).lower() if v is True else v for k, v in kept.items()})
    return f"{PREFIX}/export/{name}.{format}" + (f"?{query}" if query else "")


templates.env.globals["export_url"] = export_url


def _refused(request: Request, title: str, message: str, status: int) -> Response:
    return page(request, "refused.html", title=title, message=message, status_code=status)


@router.get("/export/{name}.{format}")
async def download(request: Request, name: str, format: str) -> Response:
    principal = await signed_in(request)
    listing = CONSOLE_LISTS.get(name) or exports.LISTS.get(name)
    if listing is None:
        return _refused(
            request, _("No such list"),
            _("There is no list %(name)s to download.", name=repr(name)), 404,
        )  # fmt: skip
    given = dict(request.query_params)
    options = {k: given.pop(k) for k in OPTIONS if k in given}
    now = now_of(request)
    asker = Asker(casework_of(request), principal.actor, now=now, as_of=now)
    try:
        filters = listing.filters.model_validate(given)
        export = await exports.start(asker, listing, filters, format, **options)
    except ValidationError as exc:
        named = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _refused(request, _("Not a filter of this list"), named, 422)
    except InvalidQuery as exc:
        return _refused(request, _("Cannot download this"), str(exc), 422)
    except (AccessDenied, BreakGlassRefused) as exc:
        return _refused(request, _("Not for your role"), str(exc), 403)
    except CaseNotVisible:
        return _refused(request, _("Case not found"), _("No such case visible to you."), 404)
    return StreamingResponse(
        export.stream(), media_type=export.media_type, headers=export.headers()
    )
