"""`GET /api/v1/transfers`: the transfers waiting for the caller's answer, oldest first.

The same use case as the console's transfers inbox (application/transfers.py
`pending_transfers`): transfers naming the caller, or to their team (a caseworker sees
those naming no worker; a supervisor every one to the team); every transfer for a
manager; 403 for a role that answers no transfer. Each row carries `case_version`, the
case's version in the log: send it as `If-Match` with the answer,
`POST /api/v1/cases/{case_id}/commands/reply_transfer`. Pages as every list of
`/api/v1` does (`limit`, `cursor`; a bad one answers 422 naming it), and is a file as
every list is (`format=csv|xlsx`, `columns`: casework/api/exports.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from application.exports import Filters
from application.read_models import DEFAULT_LIMIT, Page
from application.transfers import TransferWaiting
from casework.api.auth import Caller
from casework.api.exports import ColumnsParam, FormatParam, answer, exportable
from casework.api.reads import REFUSALS, Cursor, Limit, NamedParameters

router = APIRouter(prefix="/api/v1", tags=["transfers"], route_class=NamedParameters)


@router.get(
    "/transfers",
    response_model=Page[TransferWaiting],
    summary="Transfers waiting for your answer, oldest first",
    responses=exportable(REFUSALS),
)
async def pending_transfers(
    request: Request,
    caller: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    format_: FormatParam = None,
    columns: ColumnsParam = None,
) -> Any:
    return await answer(
        request, caller, "transfers", Filters(),
        limit=limit, cursor=cursor, format=format_, columns=columns,
    )  # fmt: skip
