"""Finding the client: the search box in every page's header, the results page and the
client page, on the use cases of application/clients (as the HTTP API's
casework/api/client_records.py is).

* **Search** (`GET /console/clients?q=&date_of_birth=&phone=&email=&identifier=`): a
  plain GET form, in the header for the roles the access table lets read a case's
  details (`case_details`), and on the results page with every field. Only clients with
  a case the reader may see are found, each with those cases; each client shown is
  recorded in the access log (`clients.search`). A query that cannot be searched
  (`QueryRefused`) is shown beside the field it names; searches are limited per staff
  member, as on the API.
* **Break the glass** (`POST /console/clients/break-glass`): as on the case page, the
  reason comes first, in the body (never the URL), with the query repeated as hidden
  fields; the search then runs over every client, recorded and notified like any
  emergency read, the results marked. From there each client page and each case out of
  the reader's scope is a form that sends the reason again (`POST …/{ref}/break-glass`,
  the case page's `…/cases/{id}/break-glass`), as the documents of a break-the-glass
  case page do.
* **The client page** (`GET /console/clients/{ref}`, `clients.show`): their details (or
  "forgotten"), their cases the reader may see, the references linked to them; the same
  404 page whether the client does not exist or none of their cases is visible.
* **Links** (`POST …/{ref}/links`, `…/{ref}/links/{other}/unlink`: `clients.link`): the
  forms are offered to supervisors and managers (`LINKERS`), never on a page opened by
  breaking the glass; a refusal (`LinkRefused`) is shown beside the field it names and
  what was typed kept; a form sent by anyone else gets 403.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, ValidationError

from application.clients import use_cases as clients
from application.clients.use_cases import (
    LINKERS,
    Candidate,
    ClientCase,
    ClientNotFound,
    ClientRecord,
    LinkRefused,
)
from application.identity import Principal
from cases.access import (
    BREAK_GLASS_ROLES,
    AccessDenied,
    BreakGlassRefused,
    Query,
    query_relation,
    sees,
)
from cases.actors import Actor
from cases.client_matching import MAX_QUERY_CHARS, QueryRefused
from casework.console.numbers import localized
from casework.console.web import (
    PREFIX,
    casework_of,
    check_csrf,
    now_of,
    page,
    redirect,
    signed_in,
    templates,
)
from casework.i18n import N_, _
from events.fields import Identifier, ShortText

router = APIRouter(prefix=f"{PREFIX}/clients", include_in_schema=False)

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("q", N_("Name"), "text"),
    ("date_of_birth", N_("Date of birth"), "date"),
    ("phone", N_("Phone"), "text"),
    ("email", N_("Email"), "text"),
    ("identifier", N_("Identifier"), "text"),
)
"""The search form's inputs (name, label, type): the names `QueryRefused.field` uses
(the labels translated where the page shows them)."""

SEARCHES_PER_MINUTE = 30
"""Searches a minute per staff member, as on the API (`app.state.console_client_search_
limit` overrides it): a search reads clients' details, a script walking the index is
stopped."""

DONE = {
    "linked": N_("Recorded: %(ref)s linked to %(other)s."),
    "unlinked": N_("Recorded: %(ref)s no longer linked to %(other)s."),
}
"""The notice after a link form (`?done=…&other=<ref>`)."""

_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
"""A client reference (`events.fields.Identifier`): anything else is no client."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def finds_clients(principal: Principal | None) -> bool:
    """Whether the header offers the search: roles the access table lets read a case."""
    if principal is None:
        return False
    try:
        query_relation(principal.actor, Query.CASE_DETAILS)
    except AccessDenied:
        return False
    return True


templates.env.globals["finds_clients"] = finds_clients
templates.env.globals["figure"] = localized
"""A number's English text in the page's language (`87.5` → `87,5`)."""


# --- the search limit ------------------------------------------------------------------------


class _Searches:
    """A sliding window of searches per staff member (per process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque[datetime]] = {}

    def wait(self, staff_id: str, now: datetime) -> int:
        """0 and counted when the search may run, else the seconds to wait."""
        seen = self.seen.setdefault(staff_id, deque())
        while seen and seen[0] <= now - timedelta(minutes=1):
            seen.popleft()
        if len(seen) >= self.per_minute:
            return max(1, int((seen[0] + timedelta(minutes=1) - now).total_seconds()) + 1)
        seen.append(now)
        return 0


def _searches(request: Request) -> _Searches:
    found: _Searches | None = getattr(request.app.state, "console_client_searches", None)
    if found is None:
        limit = getattr(request.app.state, "console_client_search_limit", SEARCHES_PER_MINUTE)
        found = _Searches(int(limit))
        request.app.state.console_client_searches = found
    return found


# --- the query -------------------------------------------------------------------------------


@dataclass
class Asked:
    """The search as the form sent it: what was typed (kept in the form), what of it is
    unusable before the search runs."""

    values: dict[str, str]
    sent: bool
    """Any of the fields came (a blank search is refused; no field at all: a new page)."""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> Asked:
        values = {name: str(given.get(name) or "") for name, _, _ in FIELDS}
        return cls(values, sent=any(name in given for name, _, _ in FIELDS))

    def value(self, name: str) -> str | None:
        return self.values[name].strip() or None

    def date_of_birth(self) -> date | None:
        raw = self.value("date_of_birth")
        if raw is None:
            return None
        try:
            if _DATE.fullmatch(raw):
                return date.fromisoformat(raw)
        except ValueError:
            pass
        self.errors["date_of_birth"] = _("date_of_birth: a date, as YYYY-MM-DD")
        return None


@dataclass(frozen=True)
class CaseRow:
    case: ClientCase
    in_scope: bool
    """Within the reader's scope (else shown only by breaking the glass)."""


@dataclass(frozen=True)
class Found:
    candidate: Candidate
    cases: list[CaseRow]

    @property
    def emergency(self) -> bool:
        """Shown only because the glass was broken: no case of theirs is in scope."""
        return not any(c.in_scope for c in self.cases)


def _rows(actor: Actor, cases: list[ClientCase]) -> list[CaseRow]:
    relation = query_relation(actor, Query.CASE_DETAILS)
    return [CaseRow(c, sees(actor, relation, team=c.team, worker=c.worker)) for c in cases]


def _may_break_glass(actor: Actor) -> bool:
    """Breaking the glass would find more: a role that may, with less than every case."""
    if actor.role not in BREAK_GLASS_ROLES:
        return False
    try:
        return query_relation(actor, Query.CASE_DETAILS) != "any"
    except AccessDenied:
        return False


def _refused(request: Request, exc: Exception) -> Response:
    if isinstance(exc, BreakGlassRefused):
        return page(request, "refused.html", title=_("Emergency access refused"),
                    message=str(exc), status_code=403)  # fmt: skip
    return page(request, "refused.html", title=_("Not for your role"), message=str(exc),
                status_code=403)  # fmt: skip


def _results(
    request: Request,
    principal: Principal,
    asked: Asked,
    *,
    found: list[Found] | None = None,
    break_glass: str | None = None,
    reason: str = "",
    reason_error: str | None = None,
    form_error: str | None = None,
    status_code: int = 200,
) -> Response:
    searched = found is not None
    offer = _may_break_glass(principal.actor) and not break_glass
    return page(
        request,
        "clients.html",
        title=_("Find a client"),
        fields=FIELDS,
        asked=asked,
        found=found or [],
        searched=searched,
        break_glass=break_glass,
        offer_break_glass=offer and (reason_error is not None or (searched and not asked.errors)),
        reason=reason,
        reason_error=reason_error,
        form_error=form_error,
        max_chars=MAX_QUERY_CHARS,
        status_code=status_code,
    )


async def _search(
    request: Request, principal: Principal, asked: Asked, *, break_glass: str | None = None
) -> Response:
    actor = principal.actor
    date_of_birth = asked.date_of_birth()
    if asked.errors:
        return _results(request, principal, asked, reason=break_glass or "", status_code=422)
    wait = _searches(request).wait(actor.staff_id, now_of(request))
    if wait:
        return _results(
            request, principal, asked, reason=break_glass or "", status_code=429,
            form_error=_("At most %(most)s searches a minute: try again in %(wait)s s.",
                         most=_searches(request).per_minute, wait=wait),
        )  # fmt: skip
    try:
        candidates = await clients.search(
            casework_of(request), actor,
            text=asked.value("q"), date_of_birth=date_of_birth, phone=asked.value("phone"),
            email=asked.value("email"), identifier=asked.value("identifier"),
            break_glass=break_glass,
        )  # fmt: skip
    except QueryRefused as exc:
        name = exc.field if exc.field in asked.values else "q"
        asked.errors[name] = str(exc)
        return _results(request, principal, asked, reason=break_glass or "", status_code=422)
    except (AccessDenied, BreakGlassRefused) as exc:
        return _refused(request, exc)
    found = [Found(c, _rows(actor, c.cases)) for c in candidates]
    return _results(request, principal, asked, found=found, break_glass=break_glass)


@router.get("")
async def search(request: Request) -> Response:
    principal = await signed_in(request)
    asked = Asked.of(request.query_params)
    if not asked.sent:
        try:
            query_relation(principal.actor, Query.CASE_DETAILS)
        except AccessDenied as exc:
            return _refused(request, exc)
        return _results(request, principal, asked)
    return await _search(request, principal, asked)


@router.post("/break-glass")
async def search_break_glass(request: Request) -> Response:
    """Emergency search: the reason comes first, in the body (never the URL)."""
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    asked = Asked.of(form)
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return _results(request, principal, asked, status_code=422,
                        reason_error=_("Say why you must find this client."))  # fmt: skip
    return await _search(request, principal, asked, break_glass=reason)


# --- the client page -------------------------------------------------------------------------


@dataclass
class Filled:
    """A link form sent back: what was typed, and the refusals by field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def not_found(request: Request, client_ref: str) -> Response:
    """The same page for a client that does not exist and one with no case in scope."""
    return page(
        request,
        "refused.html",
        title=_("Client not found"),
        message=_(
            "There is no client %(ref)s that you can see: no such reference, or none "
            "of their cases is in your caseload.",
            ref=client_ref,
        ),
        status_code=404,
    )


async def render_client(
    request: Request,
    principal: Principal,
    client_ref: str,
    *,
    break_glass: str | None = None,
    link_form: Filled | None = None,
    unlink_form: tuple[str, Filled] | None = None,
    status_code: int = 200,
) -> Response:
    if not _REF.fullmatch(client_ref):
        return not_found(request, client_ref)
    actor = principal.actor
    try:
        record: ClientRecord = await clients.show(
            casework_of(request), actor, client_ref, break_glass=break_glass
        )
    except ClientNotFound:
        return not_found(request, client_ref)
    except (AccessDenied, BreakGlassRefused) as exc:
        return _refused(request, exc)
    done = request.query_params.get("done", "")
    other = request.query_params.get("other", "")
    return page(
        request,
        "client.html",
        title=_("Client %(ref)s", ref=record.client_ref),
        record=record,
        cases=_rows(actor, record.cases),
        break_glass=break_glass if record.break_glass else None,
        reason=break_glass,
        may_link=actor.role in LINKERS and not break_glass,
        link_form=link_form or Filled(),
        unlink_form=unlink_form,
        done=(
            _(DONE[done], ref=record.client_ref, other=other)
            if done in DONE and _REF.fullmatch(other)
            else None
        ),
        status_code=status_code,
    )


@router.get("/{client_ref}")
async def client_page(request: Request, client_ref: str) -> Response:
    principal = await signed_in(request)
    return await render_client(request, principal, client_ref)


@router.post("/{client_ref}/break-glass")
async def client_break_glass(request: Request, client_ref: str) -> Response:
    """The client page from an emergency search: the reason sent again, in the body."""
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return page(request, "refused.html", title=_("Emergency access refused"),
                    message=_("Say why you must open this client's record: search again and "
                              "give your reason."), status_code=422)  # fmt: skip
    return await render_client(request, principal, client_ref, break_glass=reason)


class LinkForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    other_ref: Identifier
    reason: ShortText


class UnlinkForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: ShortText


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "reason"
        if name == "other_ref":
            message = _("a client reference: letters, digits and . _ @ - (at most 100)")
        elif error["type"] == "string_too_short":
            message = _("say how it was established")
        else:
            message = error["msg"]
        found.setdefault(name, f"{name}: {message}")
    return found


async def _link(
    request: Request, client_ref: str, other_ref: str | None, *, unlink: bool
) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    if not _REF.fullmatch(client_ref):
        return not_found(request, client_ref)
    actor = principal.actor
    typed = {k: str(form.get(k, "")) for k in ("other_ref", "reason")}
    typed["other_ref"] = (other_ref if other_ref is not None else typed["other_ref"]).strip()
    filled = Filled(values=typed)

    async def again(status: int) -> Response:
        if unlink:
            assert other_ref is not None
            return await render_client(
                request, principal, client_ref, unlink_form=(other_ref, filled), status_code=status
            )
        return await render_client(
            request, principal, client_ref, link_form=filled, status_code=status
        )

    if actor.role not in LINKERS:
        return page(request, "refused.html", title=_("Not permitted"),
                    message=_("%(staff)s (%(role)s) may not link clients: a supervisor or "
                              "manager may.", staff=actor.staff_id, role=actor.role),
                    status_code=403)  # fmt: skip
    try:
        sent = (UnlinkForm if unlink else LinkForm).model_validate(typed)
    except ValidationError as exc:
        filled.errors = _errors(exc)
        return await again(422)
    other = typed["other_ref"]
    if unlink and not _REF.fullmatch(other):
        filled.errors = {
            "form": _("other_ref: no client %(other)s linked to %(ref)s", other=other,
                      ref=client_ref)
        }  # fmt: skip
        return await again(409)
    try:
        await clients.link(
            casework_of(request), actor, client_ref, other, sent.reason, unlink=unlink
        )
    except AccessDenied as exc:
        return page(request, "refused.html", title=_("Not permitted"), message=str(exc),
                    status_code=403)  # fmt: skip
    except LinkRefused as exc:
        filled.errors = {exc.field if exc.field == "other_ref" else "form": str(exc)}
        return await again(409)
    done = "unlinked" if unlink else "linked"
    return redirect(f"{PREFIX}/clients/{client_ref}?done={done}&other={other}#outcome")


@router.post("/{client_ref}/links")
async def link(request: Request, client_ref: str) -> Response:
    return await _link(request, client_ref, None, unlink=False)


@router.post("/{client_ref}/links/{other_ref}/unlink")
async def unlink(request: Request, client_ref: str, other_ref: str) -> Response:
    return await _link(request, client_ref, other_ref, unlink=True)
