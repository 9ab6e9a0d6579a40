"""Every list of `/api/v1` as a file: `?format=csv` or `?format=xlsx` (or, without
`format`, an `Accept` of `text/csv` or the XLSX media type) answers the whole list —
every page, the same filters, the same order, only the caller's cases — as a download
streamed while it is read (application/exports.py), instead of one page of JSON.

`columns` (comma separated) chooses and orders the columns; the outcomes report takes
`section` (one sheet of the XLSX; the one section a CSV holds). A bad `format`,
`columns` or `section` answers the usual 422 naming it, and nothing is read or recorded;
a role that may not make the list's query answers 403 (the refused export recorded).
The answer names its file (`Content-Disposition: attachment; filename="caseload-
2026-12-07.csv"`, the day by the API's clock) and says where its figures came from:
`Casework-Export-Id` (its access-log entry), `Casework-Exported-At` and
`Casework-Read-Model-Position` (application/exports.py `provenance`).

Every list route answers through `answer`: its JSON as before when no file is asked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from application import exports
from application.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Asker, ExportFormat, Filters
from application.identity import Principal
from application.paging import DEFAULT_LIMIT, InvalidQuery, PageRequest
from casework.api.auth import casework_of, now_of

FormatParam = Annotated[
    ExportFormat | None,
    Query(
        alias="format",
        description="`csv` or `xlsx`: the whole list (every page, these filters) as a file, "
        "instead of one page of JSON. Without it, `Accept: text/csv` or "
        f"`Accept: {XLSX_MEDIA_TYPE}` asks the same.",
    ),
]
ColumnsParam = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="With a file: the columns, comma separated, in this order (nested ones "
        "dotted, `by_risk.crisis`); every column when left out.",
    ),
]

_TEXT = {"schema": {"type": "string"}}
EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page of the list as JSON; with `format` (or Accept), the whole "
        "list as a CSV or XLSX file, streamed.",
        "content": {
            CSV_MEDIA_TYPE: _TEXT,
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {
            "Content-Disposition": {"description": "A file: its name.", **_TEXT},
            "Casework-Export-Id": {"description": "A file: its access-log entry.", **_TEXT},
            "Casework-Exported-At": {"description": "A file: when it was made.", **_TEXT},
            "Casework-Read-Model-Position": {
                "description": "A file: the log's global position its read models reached.",
                **_TEXT,
            },
        },
    }
}


def exportable(refusals: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """A list route's documented answers: its refusals, and the files it may answer."""
    return {**refusals, **EXPORT_RESPONSE}


_ACCEPTED: dict[str, ExportFormat | None] = {
    "application/json": None,
    "application/*": None,
    "*/*": None,
    CSV_MEDIA_TYPE: "csv",
    XLSX_MEDIA_TYPE: "xlsx",
}


def negotiated(accept: str | None) -> ExportFormat | None:
    """The file an `Accept` header prefers (by its q-values, then its order), if a file:
    None for JSON, for anything else, and when there is none."""
    if not accept:
        return None
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in _ACCEPTED and quality > 0:
            ranked.append((-quality, order, media.lower()))
    return _ACCEPTED[min(ranked)[2]] if ranked else None


async def answer(
    request: Request,
    caller: Principal,
    name: str,
    filters: Filters,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    format: ExportFormat | None = None,
    columns: str | None = None,
    section: str | None = None,
    reason: str | None = None,
    break_glass: str | None = None,
) -> Any:
    """List `name` for the caller: one page of JSON, or the whole list as a file."""
    listing = exports.listing_named(name)
    chosen = format or negotiated(request.headers.get("accept"))
    asker = Asker(
        casework_of(request), caller.actor, now=now_of(request),
        reason=reason, break_glass=break_glass,
    )  # fmt: skip
    if chosen is None:
        for option, value in (("columns", columns), ("section", section)):
            if value is not None:
                raise InvalidQuery(option, "only with format csv or xlsx (a file)")
        return await exports.listed(
            asker, listing, filters, PageRequest(limit=limit, cursor=cursor)
        )
    export = await exports.start(asker, listing, filters, chosen, columns=columns, section=section)
    return StreamingResponse(
        export.stream(), media_type=export.media_type, headers=export.headers()
    )
