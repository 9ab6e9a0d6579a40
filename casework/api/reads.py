"""`/api/v1`'s read side: every read-model query of the command line, for the caller.

| route | the CLI's | filters |
|---|---|---|
| `GET /api/v1/caseload` | `caseload` | `worker`, `team`, `by` (`worker` or `team`) |
| `GET /api/v1/approvals` | `approvals` | `kind` (`plan` or `closure`) |
| `GET /api/v1/referrals` | `referrals` (the list) | `provider`, `status`, `open` |
| `GET /api/v1/referrals/by-provider` | `referrals` (the counts) | `provider` |
| `GET /api/v1/reviews` | `reviews`, `overdue` | `within` (days), `overdue` |
| `GET /api/v1/escalations` | `escalations`, `overdue` | `level` |
| `GET /api/v1/outcomes` | `outcomes` | `since`, `until` (days) |
| `GET /api/v1/actions/mine` | `actions mine` | `within` (days) |
| `GET /api/v1/actions/overdue` | `actions overdue` | `team` |
| `GET /api/v1/actions/overdue/by-team` | `actions overdue --by-team` | |
| `GET /api/v1/conferences` | `case conference list` | `within` (days) |
| `GET /api/v1/cases/{case_id}/timeline` | `timeline` | |
| `GET /api/v1/cases/{case_id}/summary` | `summary` | |
| `GET /api/v1/cases/{case_id}/access-log` | `access-log` | |
| `GET /api/v1/access-log/break-glass` | `break-glass-log` | |
| `GET /api/v1/access-log/exports` | `export-log` | |

Each route calls one use case of `application.read_models`, as the caller: the lists
hold only the cases the caller may see; a role that may not make the query at all
answers 403; one case's timeline and summary are checked and recorded in the access
log like `GET /api/v1/cases/{case_id}` (404 for a case out of scope, as for one that
does not exist; `Casework-Reason` and `Casework-Break-Glass` as there).

Lists come in pages: `?limit=` (default 50, at most 500) and `?cursor=`, the
`next_cursor` of the page before (null on the last page). A bad parameter answers 422
naming it (`limit`, `cursor`, `kind`, …).

Every list (all but the summary) is also a file: `?format=csv` or `?format=xlsx` (or
`Accept: text/csv`, or the XLSX media type) answers the whole list, every page with the
same filters, as a download, with `columns` to choose them (and `section` for the
outcomes report): casework/api/exports.py, application/exports.py. Each route answers
through `exports.answer`, which lists its catalogue entry (`application.exports.LISTS`)
as JSON when no file is asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from application import conferences as case_conferences
from application import exports as listed
from application import read_models as rm
from application.access_log import ExportEntry
from application.actions import ActionRow, TeamOverdue
from application.read_models import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AccessEntry,
    Caseload,
    CaseloadBy,
    CaseSummary,
    InvalidQuery,
    OpenEscalation,
    Outcomes,
    Page,
    PendingApproval,
    Referral,
    ReferralCount,
    ReferralStatusName,
    ReviewDue,
    TimelineEntry,
)
from cases.access import AccessDenied, BreakGlassRefused, CaseNotVisible
from casework.api.auth import Caller, casework_of
from casework.api.cases import BreakGlassHeader, ReasonHeader, not_found
from casework.api.exports import ColumnsParam, FormatParam, answer, exportable
from casework.api.problems import (
    ApiProblem,
    FieldProblem,
    invalid,
    problem_response,
    validation_message,
)
from casework.i18n import N_
from events.fields import Identifier


class NamedParameters(APIRoute):
    """A route whose invalid parameters are named as sent (`limit`, not `query.limit`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def named(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise invalid([_named(error) for error in exc.errors()]) from None

        return named


def _named(error: Any) -> FieldProblem:
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in ("query", "path", "header"):
        location = location[1:]
    return FieldProblem(field=".".join(location) or "(query)", message=validation_message(error))


router = APIRouter(prefix="/api/v1", tags=["read models"], route_class=NamedParameters)

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"At most this many rows (1–{MAX_LIMIT}).")
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="The `next_cursor` of the page before; leave out for the first page.",
    ),
]
IdFilter = Annotated[Identifier | None, Query()]

REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your role may not make this query"},
    422: {"description": "A parameter is invalid (named in the problem)"},
}
CASE_REFUSALS: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    404: {"description": "No such case visible to you"},
}


def _refused(exc: Exception) -> ApiProblem:
    """A refusal of a list query as a problem: 422 naming the parameter, 403 the role."""
    if isinstance(exc, InvalidQuery):
        return invalid([FieldProblem(field=exc.parameter, message=exc.message)])
    return ApiProblem(403, N_("Not for your role"), str(exc), kind="access-denied")


def install_refusals(app: FastAPI) -> None:
    """Every list query's refusals as problems, in one place (not one try per route)."""

    @app.exception_handler(InvalidQuery)
    async def _invalid_query(request: Request, exc: InvalidQuery) -> JSONResponse:
        return problem_response(_refused(exc).problem, request)

    @app.exception_handler(AccessDenied)
    async def _access_denied(request: Request, exc: AccessDenied) -> JSONResponse:
        return problem_response(_refused(exc).problem, request)


def _case_refused(case_id: str, exc: Exception) -> ApiProblem:
    """A refusal of one case's read: out of scope reads as missing (404)."""
    if isinstance(exc, BreakGlassRefused):
        title = N_("Emergency access refused")
        return ApiProblem(403, title, str(exc), kind="break-glass-refused")

    if isinstance(exc, CaseNotVisible):
        return not_found(case_id)
    return _refused(exc)


def _case_id(case_id: str) -> str:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        raise not_found(case_id) from None


# --- lists over the caller's cases -----------------------------------------------------------

LISTED = exportable(REFUSALS)
CASE_LISTED = exportable(CASE_REFUSALS)


@router.get(
    "/caseload",
    response_model=Page[Caseload],
    summary="Open cases per worker (or team): by risk, overdue reviews, days since contact",
    responses=LISTED,
)
async def caseload(
    request: Request,
    caller: Caller,
    worker: IdFilter = None,
    team: IdFilter = None,
    by: Annotated[CaseloadBy, Query(description="One row per worker or per team.")] = "worker",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "caseload", listed.CaseloadFilters(worker=worker, team=team, by=by),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/approvals",
    response_model=Page[PendingApproval],
    summary="Approvals waiting for a decision, oldest first",
    responses=LISTED,
)
async def approvals(
    request: Request,
    caller: Caller,
    kind: Annotated[rm.ApprovalKindName | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "approvals", listed.ApprovalFilters(kind=kind),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/referrals",
    response_model=Page[Referral],
    summary="Referrals, those waiting longest for a reply first",
    responses=LISTED,
)
async def referrals(
    request: Request,
    caller: Caller,
    provider: IdFilter = None,
    status: Annotated[ReferralStatusName | None, Query()] = None,
    open_only: Annotated[
        bool, Query(alias="open", description="Leave out declined and completed.")
    ] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    filters = listed.ReferralFilters(provider=provider, status=status, open_only=open_only)
    return await answer(
        request, caller, "referrals", filters,
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/referrals/by-provider",
    response_model=Page[ReferralCount],
    summary="Referrals by provider and status, with the longest wait for a reply",
    responses=LISTED,
)
async def referral_counts(
    request: Request,
    caller: Caller,
    provider: IdFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "referrals-by-provider", listed.ProviderFilters(provider=provider),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/reviews",
    response_model=Page[ReviewDue],
    summary="Reviews overdue and due soon, the most overdue first",
    responses=LISTED,
)
async def reviews(
    request: Request,
    caller: Caller,
    within: Annotated[
        int, Query(ge=0, le=3660, description="Also reviews due within this many days.")
    ] = 14,
    overdue: Annotated[bool, Query(description="Only overdue reviews.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "reviews", listed.ReviewFilters(within=within, overdue=overdue),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/escalations",
    response_model=Page[OpenEscalation],
    summary="Open escalations, the highest level first, then the oldest",
    responses=LISTED,
)
async def escalations(
    request: Request,
    caller: Caller,
    level: Annotated[int | None, Query(ge=1, le=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "escalations", listed.EscalationFilters(level=level),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


OutcomeSection = Literal[
    "goals", "closures", "plan-approval", "advocacy", "feedback", "plan-feedback"
]


@router.get(
    "/outcomes",
    response_model=Outcomes,
    summary="Goals met / not met by domain and team, closures by reason, time to approval",
    responses=LISTED,
)
async def outcomes(
    request: Request,
    caller: Caller,
    since: Annotated[date | None, Query(description="From this day (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="Before this day (YYYY-MM-DD).")] = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
    section: Annotated[
        OutcomeSection | None,
        Query(
            description="With a file: only this section (a CSV file holds one, and needs it; "
            "an XLSX file holds a sheet for each when left out)."
        ),
    ] = None,
) -> Any:
    return await answer(
        request, caller, "outcomes", listed.OutcomeFilters(since=since, until=until),
        format=format_, columns=columns, section=section,
    )  # fmt: skip


@router.get(
    "/actions/mine",
    response_model=Page[ActionRow],
    summary="Your open plan actions due this week (or within `within` days), overdue first",
    responses=LISTED,
)
async def my_actions(
    request: Request,
    caller: Caller,
    within: Annotated[int, Query(ge=0, le=3660, description="Due within this many days.")] = 7,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "actions-mine", listed.MyActionFilters(within=within),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/actions/overdue",
    response_model=Page[ActionRow],
    summary="Overdue plan actions of the teams you see, oldest due first",
    responses=LISTED,
)
async def overdue_actions(
    request: Request,
    caller: Caller,
    team: IdFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "actions-overdue", listed.TeamFilters(team=team),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/actions/overdue/by-team",
    response_model=list[TeamOverdue],
    summary="How many plan actions are overdue per team (of the teams you see)",
    responses=LISTED,
)
async def overdue_actions_by_team(
    request: Request,
    caller: Caller,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "actions-overdue-by-team", listed.Filters(),
        format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/conferences",
    response_model=Page[case_conferences.ConferenceRow],
    summary="Case conferences of the cases you see, the latest first (no names, no decisions)",
    responses=LISTED,
)
async def conferences(
    request: Request,
    caller: Caller,
    within: Annotated[
        int | None, Query(ge=0, le=3660, description="Held within this many days.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "conferences", listed.ConferenceFilters(within=within),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


# --- one case: checked and recorded in the access log ----------------------------------------


@router.get(
    "/cases/{case_id}/timeline",
    response_model=Page[TimelineEntry],
    summary="What happened on a case and who did it (recorded in the access log)",
    responses=CASE_LISTED,
)
async def case_timeline(
    case_id: str,
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> Any:
    try:
        return await answer(
            request, caller, "timeline", listed.CaseFilters(case_id=_case_id(case_id)),
            limit=limit, cursor=cursor, format=format_, columns=columns,
            reason=reason, break_glass=break_glass,
        )  # fmt: skip
    except (InvalidQuery, AccessDenied, CaseNotVisible, BreakGlassRefused) as exc:
        raise _case_refused(case_id, exc) from None


@router.get(
    "/cases/{case_id}/summary",
    response_model=CaseSummary,
    summary="Where a case stands, from the read models (recorded in the access log)",
    responses=CASE_REFUSALS,
)
async def case_summary(
    case_id: str,
    request: Request,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> CaseSummary:
    try:
        return await rm.case_summary(
            casework_of(request), caller.actor, _case_id(case_id),
            reason=reason, break_glass=break_glass,
        )  # fmt: skip
    except (AccessDenied, CaseNotVisible, BreakGlassRefused) as exc:
        raise _case_refused(case_id, exc) from None


@router.get(
    "/cases/{case_id}/access-log",
    response_model=Page[AccessEntry],
    summary="Who read a case, when, through which view and why, newest first",
    responses=CASE_LISTED,
)
async def case_access_log(
    case_id: str,
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "access-log", listed.CaseFilters(case_id=_case_id(case_id)),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/access-log/break-glass",
    response_model=Page[AccessEntry],
    summary="Every emergency access to a case, newest first",
    responses=LISTED,
)
async def break_glass_log(
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "break-glass", listed.Filters(),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip


@router.get(
    "/access-log/exports",
    response_model=Page[ExportEntry],
    summary="Every export of a list as a file, newest first: who, which list, format, "
    "filters, rows and how it ended",
    responses=LISTED,
)
async def export_log(
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "exports", listed.Filters(),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip
