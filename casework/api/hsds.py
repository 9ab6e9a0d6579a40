"""The community's service directory: importing an Open Referral HSDS 3.0 package,
publishing the directory in HSDS's API shape, and finding services to refer to.

| route (under `/api/v1`) | the CLI's | |
|---|---|---|
| `POST /directory/imports` | `directory import` | admins; the package is the body |
| `GET /directory/imports/{import_id}` | | an import's summary |
| `GET /hsds/services` | | HSDS 3.0 `service_list`: `page`, `per_page`, `modified_after` |
| `GET /services` | | `need`, `language`, `area`, `open_now`: services to refer to |

Every signed-in principal reads (any role, the provider role too: the directory is the
community's); only admins import. A package over `CASEWORK_HSDS_MAX_BYTES` is refused
(413) before it is read (casework/api/body_limit.py); one that is not JSON or a zipped
CSV data package 415; a wrong HSDS version or a broken file 422, naming the field;
nothing is written then. Rows that break a rule are refused one by one, each named in the
report (`services[3].name`), and the rest is imported.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from application.directory_import import (
    ImportReport,
    PackageRefused,
    import_directory,
    max_bytes,
    show_import,
)
from casework.api.auth import Caller, casework_of
from casework.api.problems import ApiProblem, FieldProblem
from casework.i18n import N_, _
from directory import NotFound, NotPermitted
from events.hsds_events import DirectoryImported
from events.vocabulary import Domain
from projections import queries

router = APIRouter(prefix="/api/v1", tags=["directory"])

IMPORT_PATH = r"/api/v1/directory/imports"
"""Where packages are uploaded: their bodies may be as large as CASEWORK_HSDS_MAX_BYTES."""

REASONS = (
    N_("required: the HSDS version, such as 3.0"),
    N_("HSDS %(version)s is not read: only 3.0.x"),
    N_("not an HSDS package: send JSON, or a CSV data package zipped with datapackage.json"),
    N_("not UTF-8 text"),
    N_("not valid JSON (line %(line)s)"),
    N_("must be one JSON object with the version"),
    N_("must be a list of objects"),
    N_("required: the package lists no services"),
    N_("not a readable zip file"),
    N_("unpacks to more than %(limit)s bytes"),
    N_("a CSV data package needs datapackage.json"),
    N_("not valid JSON"),
    N_("must be one JSON object"),
    N_("names %(path)s, which is not in the zip"),
    N_("required"),
    N_("invalid: %(problem)s"),
    N_("appears twice in the package"),
    N_("no valid organization %(organization)s in the package"),
    N_("already a service of provider %(provider)s"),
    N_("no taxonomy term names a need Casework knows (map terms with --needs-map)"),
    N_("provider %(provider)s is deactivated"),
    N_("the service was withdrawn; its id cannot be used again"),
)
"""Every reason directory/hsds gives (English msgids), marked here for the catalog."""


class RefusedRowView(BaseModel):
    where: str
    resource: str
    row: int
    id: str | None
    field: str
    reason: str


class ImportView(BaseModel):
    import_id: str
    dry_run: bool
    hsds_version: str
    source_sha256: str
    added: int
    changed: int
    unchanged: int
    withdrawn: int
    refused: int
    added_services: list[str]
    changed_services: dict[str, list[str]]
    withdrawn_services: list[str]
    providers_added: list[str]
    providers_changed: list[str]
    refusals: list[RefusedRowView]
    events_written: int


def _speak(reason: str, values: Any) -> str:
    return _(reason, **dict(values)) if values else _(reason)


def _view(report: ImportReport) -> ImportView:
    return ImportView(
        import_id=report.import_id,
        dry_run=report.dry_run,
        hsds_version=report.hsds_version,
        source_sha256=report.source_sha256,
        added=len(report.added),
        changed=len(report.changed),
        unchanged=report.unchanged,
        withdrawn=len(report.withdrawn),
        refused=len(report.refused),
        added_services=report.added,
        changed_services=report.changed,
        withdrawn_services=report.withdrawn,
        providers_added=report.providers_added,
        providers_changed=report.providers_changed,
        refusals=[
            RefusedRowView(
                where=r.where,
                resource=r.resource,
                row=r.row,
                id=r.id,
                field=r.field,
                reason=_speak(r.reason, r.values),
            )
            for r in report.refused
        ],
        events_written=report.events_written,
    )


def _needs_map(text: str | None) -> dict[str, Domain] | None:
    if text is None:
        return None
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError
        return {str(k): Domain(v) for k, v in raw.items()}
    except (ValueError, TypeError):
        problem = _("must be a JSON object of taxonomy term → need (a domain)")
        raise ApiProblem(
            422,
            N_("Invalid input"),
            f"needs_map: {problem}",
            kind="invalid-input",
            errors=[FieldProblem(field="needs_map", message=problem)],
        ) from None


@router.post(
    "/directory/imports",
    status_code=201,
    response_model=ImportView,
    summary="Import an HSDS 3.0 package (JSON, or a zipped CSV data package) as the body",
    responses={
        403: {"description": "Only an admin imports the directory"},
        413: {"description": "Over CASEWORK_HSDS_MAX_BYTES"},
        415: {"description": "Not JSON or a CSV data package"},
        422: {"description": "Not HSDS 3.0, or a broken file (the field named)"},
    },
)
async def import_package(
    request: Request,
    response: Response,
    caller: Caller,
    dry_run: Annotated[bool, Query(description="Plan only: write nothing.")] = False,
    withdraw_missing: Annotated[
        bool, Query(description="Withdraw imported services the package no longer lists.")
    ] = False,
    filename: Annotated[str | None, Query(max_length=200)] = None,
    needs_map: Annotated[
        str | None, Query(max_length=20_000, description="JSON: taxonomy term → need.")
    ] = None,
) -> ImportView:
    app = casework_of(request)
    mapping = _needs_map(needs_map)
    data = bytearray()
    limit = max_bytes(app)
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:  # BodyLimit refuses first; this is the use case's own cap
            raise ApiProblem(413, N_("Request too large"), kind="request-too-large")
    try:
        report = await import_directory(
            app, caller.actor, bytes(data), filename=filename, now=request.app.state.clock(),
            dry_run=dry_run, withdraw_missing=withdraw_missing, needs_map=mapping,
        )  # fmt: skip
    except NotPermitted as exc:
        raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None
    except PackageRefused as exc:
        message = _speak(exc.reason, exc.values)
        raise ApiProblem(
            exc.status,
            N_("The package was refused"),
            _("%(field)s: %(reason)s; nothing was imported", field=exc.field, reason=message),
            kind="hsds-refused",
            errors=[FieldProblem(field=exc.field, message=message)],
        ) from None
    if dry_run:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/api/v1/directory/imports/{report.import_id}"
    return _view(report)


@router.get(
    "/directory/imports/{import_id}",
    response_model=DirectoryImported,
    summary="One import's summary",
    responses={404: {"description": "No such import"}},
)
async def show(import_id: str, request: Request, caller: Caller) -> DirectoryImported:
    try:
        return await show_import(casework_of(request), caller.actor, import_id)
    except NotFound as exc:
        raise ApiProblem(404, N_("Not found"), str(exc), kind="not-in-directory") from None


def _hsds_service(s: queries.DirectoryService) -> dict[str, Any]:
    profile = s.profile or {}
    return {
        "id": s.service_id,
        "organization": {"id": s.provider_id, "name": s.provider_name},
        "name": s.name,
        "description": profile.get("description", ""),
        "url": profile.get("url"),
        "email": profile.get("email"),
        "status": profile.get("status", "active") if s.active else "inactive",
        "eligibility_description": profile.get("eligibility", ""),
        "minimum_age": profile.get("minimum_age"),
        "maximum_age": profile.get("maximum_age"),
        "last_modified": s.modified_at.isoformat(),
        "languages": [{"code": code} for code in profile.get("languages", [])],
        "schedules": profile.get("schedules", []),
        "service_areas": [
            {"name": a["name"], "extent_type": a.get("extent_type"), "extent": ",".join(a["codes"])}
            for a in profile.get("service_areas", [])
        ],
        "service_at_locations": [
            {
                "location": {
                    "id": loc["location_id"],
                    "name": loc.get("name"),
                    "latitude": loc.get("latitude"),
                    "longitude": loc.get("longitude"),
                }
            }
            for loc in profile.get("locations", [])
        ],
        "contacts": profile.get("contacts", []),
        "capacities": profile.get("capacities", []),
        "attributes": [
            {"taxonomy_term": {"code": d, "name": d.replace("_", " ")}} for d in s.domains
        ],
    }


@router.get("/hsds/services", summary="The directory's services in HSDS 3.0's API shape")
async def hsds_services(
    request: Request,
    caller: Caller,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    modified_after: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    if modified_after is not None and modified_after.tzinfo is None:
        problem = _("must name its time zone, such as 2025-01-01T00:00:00Z")
        raise ApiProblem(
            422, N_("Invalid input"), f"modified_after: {problem}", kind="invalid-input",
            errors=[FieldProblem(field="modified_after", message=problem)],
        )  # fmt: skip
    total, rows = await queries.published_services(
        casework_of(request).pool, page=page, per_page=per_page, modified_after=modified_after
    )
    return {
        "total_items": total,
        "total_pages": (total + per_page - 1) // per_page,
        "page_number": page,
        "size": len(rows),
        "first_page": page == 1,
        "last_page": page * per_page >= total,
        "empty": not rows,
        "contents": [_hsds_service(s) for s in rows],
    }


class ServiceChoice(BaseModel):
    provider_id: str
    provider_name: str
    service_id: str
    name: str
    domains: list[str]
    languages: list[str]
    area_codes: list[str]


@router.get("/services", response_model=list[ServiceChoice], summary="Services to refer to")
async def find_services(
    request: Request,
    caller: Caller,
    need: Annotated[Domain | None, Query(description="The need (a domain).")] = None,
    language: Annotated[str | None, Query(max_length=35, pattern=r"^[A-Za-z]{2,3}(-\w+)*$")] = None,
    area: Annotated[str | None, Query(max_length=200)] = None,
    open_now: Annotated[bool, Query(description="Only services open now.")] = False,
) -> list[ServiceChoice]:
    app = casework_of(request)
    now = request.app.state.clock() if open_now else None
    found = await queries.services(
        app.pool, need=need.value if need else None, language=language, area=area,
        open_at_time=now, default_tz=ZoneInfo("UTC"),
    )  # fmt: skip
    return [
        ServiceChoice(
            provider_id=s.provider_id, provider_name=s.provider_name, service_id=s.service_id,
            name=s.name, domains=s.domains, languages=s.languages, area_codes=s.area_codes,
        )
        for s in found
    ]  # fmt: skip


__all__ = ["IMPORT_PATH", "REASONS", "router"]
