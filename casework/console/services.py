"""Finding a service to refer a case's client to: the community's service directory
(the `service_directory` read model, filled by the HSDS import and the admins' provider
commands) filtered by need, language, area and "open now", at
`/console/cases/{case_id}/services?need=&language=&area=&open_now=`.

A GET form (no script: the strict CSP is unchanged), a table of the services found, and
for each a link that shows the case's refer form with that provider and service chosen
(`&provider_id=&service_id=`). The form is the case page's own (case_actions.forms_for,
offered only when the caller may refer on the case as it stands) and is sent to the case
page's route, `/console/cases/{case_id}/do/refer`, so the referral goes through the same
command use case. Opening the page reads the case (its goals are in the form): the read
is checked and recorded like the case page's (application/case_view.view_case).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import case_view
from cases.access import AccessDenied, BreakGlassRefused, CaseNotVisible
from casework.console.case_actions import forms_for
from casework.console.case_page import not_visible
from casework.console.forms import Filled, enum_choices
from casework.console.web import PREFIX, casework_of, now_of, page, signed_in
from casework.i18n import N_, _
from directory import load_resource_directory
from events.vocabulary import Domain
from projections import queries

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
"""A language as BCP 47 writes it (`es`, `pt-BR`), as the API's `language` filter."""
AREA_MAX = 200
DEFAULT_TZ = ZoneInfo("UTC")
"""The time zone of a schedule that names none (as GET /api/v1/services)."""

ANY_NEED = N_("any need")
DAY_WORDS = {
    "MO": N_("Mon"), "TU": N_("Tue"), "WE": N_("Wed"), "TH": N_("Thu"), "FR": N_("Fri"),
    "SA": N_("Sat"), "SU": N_("Sun"),
}  # fmt: skip
"""The days of a schedule as the hours column writes them."""


@dataclass(frozen=True)
class Filters:
    need: str
    language: str
    area: str
    open_now: bool

    def query(self) -> dict[str, str]:
        """The filters as the page's query (for links that keep them)."""
        out = {"need": self.need, "language": self.language, "area": self.area}
        if self.open_now:
            out["open_now"] = "on"
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class Found:
    """One service of the results table."""

    provider_id: str
    provider_name: str
    service_id: str
    name: str
    needs: list[str]
    languages: list[str]
    areas: list[str]
    hours: list[str]


def _filters(request: Request) -> tuple[Filters, dict[str, str]]:
    """The filters asked for, and each refused one's message by field."""
    params = request.query_params
    need = params.get("need", "").strip()
    language = params.get("language", "").strip()
    area = params.get("area", "").strip()
    errors: dict[str, str] = {}
    if need and need not in {d.value for d in Domain}:
        errors["need"] = _("Choose a need from the list.")
    if language and (len(language) > 35 or not LANGUAGE.match(language)):
        errors["language"] = _("Write a language code, such as es or pt-BR.")
    if len(area) > AREA_MAX:
        errors["area"] = _("At most %(n)s characters.", n=AREA_MAX)
    open_now = params.get("open_now", "") in ("on", "true", "1")
    return Filters(need, language, area, open_now), errors


def _hours(profile: dict[str, Any] | None) -> list[str]:
    lines = []
    for s in (profile or {}).get("schedules", []):
        days = ", ".join(_(DAY_WORDS[d]) if d in DAY_WORDS else d for d in s["byday"].split(","))
        zone = f" ({s['timezone']})" if s.get("timezone") else ""
        lines.append(f"{days} {s['opens_at']}–{s['closes_at']}{zone}")
    return lines


def _found(s: queries.DirectoryService) -> Found:
    profile = s.profile or {}
    return Found(
        provider_id=s.provider_id,
        provider_name=s.provider_name,
        service_id=s.service_id,
        name=s.name,
        needs=s.domains,
        languages=list(profile.get("languages", s.languages)),
        areas=[a["name"] for a in profile.get("service_areas", [])],
        hours=_hours(s.profile),
    )


def _valid_id(case_id: str) -> str | None:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        return None


@router.get("/{case_id}/services")
async def services_page(request: Request, case_id: str) -> Response:
    principal = await signed_in(request)
    valid = _valid_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    app = casework_of(request)
    try:
        state = await case_view.view_case(app, principal.actor, valid)
    except CaseNotVisible:
        return not_visible(request, principal, valid)
    except (AccessDenied, BreakGlassRefused) as exc:
        return page(request, "refused.html", title=_("Not for your role"), message=str(exc),
                    status_code=403)  # fmt: skip
    filters, errors = _filters(request)
    found: list[Found] = []
    if not errors:
        rows = await queries.services(
            app.pool,
            need=filters.need or None,
            language=filters.language or None,
            area=filters.area or None,
            open_at_time=now_of(request) if filters.open_now else None,
            default_tz=DEFAULT_TZ,
        )
        found = [_found(s) for s in rows]
    resources = await load_resource_directory(app.store)
    refer = next(
        (f for f in forms_for(state, principal.actor, resources) if f.action == "refer"), None
    )
    params = request.query_params
    chosen = (params.get("provider_id", ""), params.get("service_id", ""))
    preselected: Filled | None = None
    if refer is not None and all(chosen):
        offered = {i.name: {c.value for c in i.choices} for i in refer.inputs}
        if chosen[0] in offered["provider_id"] and chosen[1] in offered["service_id"]:
            preselected = Filled(values={"provider_id": [chosen[0]], "service_id": [chosen[1]]})
    return page(
        request,
        "services.html",
        title=_("Find a service for case %(ref)s", ref=state.client_ref),
        current="caseload",
        case_id=valid,
        client_ref=state.client_ref,
        version=state.stream_version,
        filters=filters,
        errors=errors,
        needs=enum_choices(Domain, ANY_NEED),
        found=found,
        refer=refer,
        preselected=preselected,
        chosen=chosen if preselected is not None else None,
        status_code=422 if errors else 200,
    )


__all__ = ["router"]
