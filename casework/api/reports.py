"""`/api/v1/reports`: the KPI report (application/reports/kpi.py).

`GET /api/v1/reports/kpi?since=YYYY-MM&until=YYYY-MM&team=&worker=` answers the
figures by KPI, month, team, worker and subject the caller may see, with the signed
checkpoint of the log they were computed from (`casework report rebuild` recomputes
them from the log as of it). 422 names a bad month or a span over
CASEWORK_REPORT_MAX_MONTHS; 403 a team or worker outside the caller's scope; 503 when
there is no signed checkpoint yet or the read model has not caught up with it. With
`format=csv` or `format=xlsx` (or the Accept header) the figures as a file, recorded in
the access log, the checkpoint in its `Casework-Checkpoint-*` headers and About sheet
(casework/api/exports.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from application.exports import KpiFilters
from application.reports.kpi import KpiReport, NoCheckpoint
from casework.api.auth import Caller
from casework.api.exports import ColumnsParam, FormatParam, answer, exportable
from casework.api.problems import ApiProblem
from casework.api.reads import REFUSALS, IdFilter, NamedParameters
from casework.i18n import N_

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=NamedParameters)

Month = Annotated[
    str | None, Query(max_length=7, description="A month as YYYY-MM.", examples=["2026-03"])
]


def no_checkpoint(exc: NoCheckpoint) -> ApiProblem:
    return ApiProblem(503, N_("No checkpoint to report from"), str(exc), kind="no-checkpoint")


@router.get(
    "/kpi",
    response_model=KpiReport,
    summary="KPI figures by month, team, worker and subject, with the signed checkpoint "
    "they were computed from",
    responses=exportable(
        {
            **REFUSALS,
            503: {"description": "No signed checkpoint yet, or the read model is behind it"},
        }
    ),
)
async def kpi(
    request: Request,
    caller: Caller,
    since: Month = None,
    until: Month = None,
    team: IdFilter = None,
    worker: IdFilter = None,
    format: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    try:
        return await answer(
            request, caller, "kpi", KpiFilters(since=since, until=until, team=team, worker=worker),
            format=format, columns=columns,
        )  # fmt: skip
    except NoCheckpoint as exc:
        raise no_checkpoint(exc) from None
