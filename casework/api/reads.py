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
| `GET /api/v1/access-log/break-glass` | | |

Each route calls one use case of `application.read_models`, as the caller: the lists
hold only the cases the caller may see; a role that may not make the query at all
answers 403; one case's timeline and summary are checked and recorded in the access
log like `GET /api/v1/cases/{case_id}` (404 for a case out of scope, as for one that
does not exist; `Casework-Reason` and `Casework-Break-Glass` as there).

Lists come in pages: `?limit=` (default 50, at most 500) and `?cursor=`, the
`next_cursor` of the page before (null on the last page). A bad parameter answers 422
naming it (`limit`, `cursor`, `kind`, …).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from application import actions as plan_actions
from application import conferences as case_conferences
from application import read_models as rm
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
    PageRequest,
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
from casework.api.problems import ApiProblem, FieldProblem, invalid, problem_response
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
    return FieldProblem(field=".".join(location) or "(query)", message=str(error["msg"]))


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


def _page(limit: int, cursor: str | None) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


def _refused(exc: Exception) -> ApiProblem:
    """A refusal of a list query as a problem: 422 naming the parameter, 403 the role."""
    if isinstance(exc, InvalidQuery):
        return invalid([FieldProblem(field=exc.parameter, message=exc.message)])
    return ApiProblem(403, "Not for your role", str(exc), kind="access-denied")


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
        return ApiProblem(403, "Emergency access refused", str(exc), kind="break-glass-refused")
    if isinstance(exc, CaseNotVisible):
        return not_found(case_id)
    return _refused(exc)


def _case_id(case_id: str) -> str:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        raise not_found(case_id) from None


# --- lists over the caller's cases -----------------------------------------------------------


@router.get(
    "/caseload",
    response_model=Page[Caseload],
    summary="Open cases per worker (or team): by risk, overdue reviews, days since contact",
    responses=REFUSALS,
)
async def caseload(
    request: Request,
    caller: Caller,
    worker: IdFilter = None,
    team: IdFilter = None,
    by: Annotated[CaseloadBy, Query(description="One row per worker or per team.")] = "worker",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Caseload]:
    return await rm.caseload(
        casework_of(request), caller.actor, _page(limit, cursor),
        worker=worker, team=team, by=by,
    )  # fmt: skip


@router.get(
    "/approvals",
    response_model=Page[PendingApproval],
    summary="Approvals waiting for a decision, oldest first",
    responses=REFUSALS,
)
async def approvals(
    request: Request,
    caller: Caller,
    kind: Annotated[rm.ApprovalKindName | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[PendingApproval]:
    return await rm.approvals(casework_of(request), caller.actor, _page(limit, cursor), kind=kind)


@router.get(
    "/referrals",
    response_model=Page[Referral],
    summary="Referrals, those waiting longest for a reply first",
    responses=REFUSALS,
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
) -> Page[Referral]:
    return await rm.referrals(
        casework_of(request), caller.actor, _page(limit, cursor),
        provider=provider, status=status, open_only=open_only,
    )  # fmt: skip


@router.get(
    "/referrals/by-provider",
    response_model=Page[ReferralCount],
    summary="Referrals by provider and status, with the longest wait for a reply",
    responses=REFUSALS,
)
async def referral_counts(
    request: Request,
    caller: Caller,
    provider: IdFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ReferralCount]:
    return await rm.referral_counts(
        casework_of(request), caller.actor, _page(limit, cursor), provider=provider
    )


@router.get(
    "/reviews",
    response_model=Page[ReviewDue],
    summary="Reviews overdue and due soon, the most overdue first",
    responses=REFUSALS,
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
) -> Page[ReviewDue]:
    return await rm.reviews(
        casework_of(request), caller.actor, _page(limit, cursor),
        within_days=within, overdue_only=overdue,
    )  # fmt: skip


@router.get(
    "/escalations",
    response_model=Page[OpenEscalation],
    summary="Open escalations, the highest level first, then the oldest",
    responses=REFUSALS,
)
async def escalations(
    request: Request,
    caller: Caller,
    level: Annotated[int | None, Query(ge=1, le=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[OpenEscalation]:
    return await rm.escalations(
        casework_of(request), caller.actor, _page(limit, cursor), level=level
    )


@router.get(
    "/outcomes",
    response_model=Outcomes,
    summary="Goals met / not met by domain and team, closures by reason, time to approval",
    responses=REFUSALS,
)
async def outcomes(
    request: Request,
    caller: Caller,
    since: Annotated[date | None, Query(description="From this day (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="Before this day (YYYY-MM-DD).")] = None,
) -> Outcomes:
    return await rm.outcomes(casework_of(request), caller.actor, since=since, until=until)


@router.get(
    "/actions/mine",
    response_model=Page[ActionRow],
    summary="Your open plan actions due this week (or within `within` days), overdue first",
    responses=REFUSALS,
)
async def my_actions(
    request: Request,
    caller: Caller,
    within: Annotated[int, Query(ge=0, le=3660, description="Due within this many days.")] = 7,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ActionRow]:
    return await plan_actions.my_actions(
        casework_of(request), caller.actor, _page(limit, cursor), within_days=within
    )


@router.get(
    "/actions/overdue",
    response_model=Page[ActionRow],
    summary="Overdue plan actions of the teams you see, oldest due first",
    responses=REFUSALS,
)
async def overdue_actions(
    request: Request,
    caller: Caller,
    team: IdFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ActionRow]:
    return await plan_actions.overdue_actions(
        casework_of(request), caller.actor, _page(limit, cursor), team=team
    )


@router.get(
    "/actions/overdue/by-team",
    response_model=list[TeamOverdue],
    summary="How many plan actions are overdue per team (of the teams you see)",
    responses=REFUSALS,
)
async def overdue_actions_by_team(request: Request, caller: Caller) -> list[TeamOverdue]:
    return await plan_actions.overdue_by_team(casework_of(request), caller.actor)


@router.get(
    "/conferences",
    response_model=Page[case_conferences.ConferenceRow],
    summary="Case conferences of the cases you see, the latest first (no names, no decisions)",
    responses=REFUSALS,
)
async def conferences(
    request: Request,
    caller: Caller,
    within: Annotated[
        int | None, Query(ge=0, le=3660, description="Held within this many days.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[case_conferences.ConferenceRow]:
    return await case_conferences.conferences(
        casework_of(request), caller.actor, _page(limit, cursor), within_days=within
    )


# --- one case: checked and recorded in the access log ----------------------------------------


@router.get(
    "/cases/{case_id}/timeline",
    response_model=Page[TimelineEntry],
    summary="What happened on a case and who did it (recorded in the access log)",
    responses=CASE_REFUSALS,
)
async def case_timeline(
    case_id: str,
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> Page[TimelineEntry]:
    try:
        return await rm.case_timeline(
            casework_of(request), caller.actor, _case_id(case_id), _page(limit, cursor),
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
    responses=CASE_REFUSALS,
)
async def case_access_log(
    case_id: str,
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AccessEntry]:
    return await rm.access_log_entries(
        casework_of(request), caller.actor, _case_id(case_id), _page(limit, cursor)
    )


@router.get(
    "/access-log/break-glass",
    response_model=Page[AccessEntry],
    summary="Every emergency access to a case, newest first",
    responses=REFUSALS,
)
async def break_glass_log(
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AccessEntry]:
    return await rm.break_glass_entries(casework_of(request), caller.actor, _page(limit, cursor))
