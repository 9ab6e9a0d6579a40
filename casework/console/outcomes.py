"""The outcomes page: goals met by domain and team, closures, time to plan approval, and
(issue 16) advocacy by barrier and outcome per team — the systemic barriers an agency
meets, such as benefit stops overturned on appeal — and the client's feedback by
provider and service, the lowest rated first.

One use case, the same as `GET /api/v1/outcomes` (application/read_models `outcomes`):
scoped to the cases the viewer sees; administrators and operators see no case data.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import read_models as rm
from cases.access import AccessDenied
from casework.console.web import PREFIX, casework_of, not_for_your_role, page, signed_in, translated
from casework.i18n import _

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/outcomes")
async def outcomes_page(request: Request) -> Response:
    principal = await signed_in(request)
    since = _day(request.query_params.get("since"))
    until = _day(request.query_params.get("until"))
    try:
        report = await rm.outcomes(casework_of(request), principal.actor, since=since, until=until)
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    except rm.InvalidQuery as exc:
        return page(request, "refused.html", title=_("Outcomes"), message=translated(str(exc)),
                    status_code=422)  # fmt: skip
    return page(
        request,
        "outcomes.html",
        title=_("Outcomes"),
        current="outcomes",
        report=report,
        since=since,
        until=until,
    )
