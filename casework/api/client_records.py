"""Finding the client over HTTP (application/clients/use_cases.py does the work).

`GET /api/v1/clients?q=&dob=&phone=&email=&identifier=` searches (rate-limited per staff
member), `GET /api/v1/clients/{ref}` is the client record, `POST /api/v1/clients/{ref}/
links` and `…/links/{other}/unlink` link and unlink two references found to be one person
(supervisors and managers). Reads take `Casework-Reason` and `Casework-Break-Glass` like
any read of a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from application.clients import use_cases as clients
from application.clients.use_cases import Candidate, ClientNotFound, ClientRecord, LinkRefused
from cases.access import AccessDenied, BreakGlassRefused
from cases.client_matching import QueryRefused
from casework.api.auth import Caller, casework_of, now_of
from casework.api.cases import READ_REFUSALS, BreakGlassHeader, ReasonHeader
from casework.api.problems import ApiProblem, FieldProblem, invalid
from casework.i18n import N_, _
from events.fields import Identifier, ShortText

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])

ClientRef = Annotated[Identifier, Path(description="The client's reference (as on their cases).")]

SEARCHES_PER_MINUTE = 30


@dataclass
class SearchLimit:
    """At most SEARCHES_PER_MINUTE searches a minute per staff member (a search reads
    clients' details: a script walking the index is stopped)."""

    per_minute: int = SEARCHES_PER_MINUTE
    _seen: dict[str, list[datetime]] = field(default_factory=dict)

    def check(self, staff_id: str, now: datetime) -> None:
        recent = [t for t in self._seen.get(staff_id, []) if t > now - timedelta(minutes=1)]
        if len(recent) >= self.per_minute:
            retry = max(1, int((recent[0] + timedelta(minutes=1) - now).total_seconds()) + 1)
            raise ApiProblem(
                429,
                N_("Too many searches"),
                _(
                    "at most %(searches)s searches a minute; try again in %(retry)s s",
                    searches=self.per_minute,
                    retry=retry,
                ),
                kind="rate-limited",
                headers={"Retry-After": str(retry)},
            )
        recent.append(now)
        self._seen[staff_id] = recent


def _limit(request: Request) -> SearchLimit:
    state = request.app.state
    if not hasattr(state, "client_search_limit"):
        state.client_search_limit = SearchLimit()
    limit: SearchLimit = state.client_search_limit
    return limit


def _refused(exc: Exception) -> ApiProblem:
    if isinstance(exc, BreakGlassRefused):
        title = N_("Emergency access refused")
        return ApiProblem(403, title, str(exc), kind="break-glass-refused")
    if isinstance(exc, AccessDenied):
        return ApiProblem(403, N_("Not for your role"), str(exc), kind="access-denied")
    return ApiProblem(404, N_("No such client"), str(exc), kind="client-not-found")


Text = Annotated[str | None, Query(max_length=10_000)]


@router.get(
    "",
    response_model=list[Candidate],
    summary="Search clients by name, date of birth, phone, email or an identifier",
    description=(
        "Tolerant of spelling, accents, the order of names and common nicknames. Only "
        "clients with a case you may see (or, with Casework-Break-Glass, any: recorded). "
        "Each client shown is recorded in the access log."
    ),
    responses={**READ_REFUSALS, 422: {"description": "A query that cannot be searched"}},
)
async def search(
    request: Request,
    caller: Caller,
    q: Text = None,
    dob: date | None = None,
    phone: Text = None,
    email: Text = None,
    identifier: Text = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    break_glass: BreakGlassHeader = None,
) -> list[Candidate]:
    _limit(request).check(caller.actor.staff_id, now_of(request))
    try:
        return await clients.search(
            casework_of(request), caller.actor,
            text=q, date_of_birth=dob, phone=phone, email=email, identifier=identifier,
            break_glass=break_glass, limit=limit,
        )  # fmt: skip
    except QueryRefused as exc:
        raise invalid([FieldProblem(field=exc.field, message=exc.reason)]) from None
    except (AccessDenied, BreakGlassRefused) as exc:
        raise _refused(exc) from None


@router.get(
    "/{client_ref}",
    response_model=ClientRecord,
    summary="The client: their cases you may see and their details (recorded)",
    responses=READ_REFUSALS,
)
async def show(
    client_ref: ClientRef,
    request: Request,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> ClientRecord:
    try:
        return await clients.show(
            casework_of(request), caller.actor, client_ref, reason=reason, break_glass=break_glass
        )
    except (ClientNotFound, AccessDenied, BreakGlassRefused) as exc:
        raise _refused(exc) from None


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_ref: Identifier = Field(description="The other reference of the same person.")
    reason: ShortText = Field(
        description="How it was established, without personal details (not sealed)."
    )


class UnlinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText


class Linked(BaseModel):
    client_ref: str
    other_ref: str
    linked: bool


async def _link(
    request: Request, caller: Caller, client_ref: str, other_ref: str, reason: str, unlink: bool
) -> Linked:
    try:
        await clients.link(
            casework_of(request), caller.actor, client_ref, other_ref, reason, unlink=unlink
        )
    except AccessDenied as exc:
        raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None
    except LinkRefused as exc:
        status = 404 if "no client" in exc.reason else 409
        raise ApiProblem(
            status, N_("Link refused"), str(exc), kind="link-refused",

            errors=[FieldProblem(field=exc.field, message=exc.reason)],
        ) from None  # fmt: skip
    return Linked(client_ref=client_ref, other_ref=other_ref, linked=not unlink)


@router.post(
    "/{client_ref}/links",
    response_model=Linked,
    summary="Record that two client references are one person (supervisors, managers)",
    responses={403: {"description": "Not a supervisor or manager"}, 409: {}},
)
async def link(client_ref: ClientRef, body: LinkBody, request: Request, caller: Caller) -> Linked:
    return await _link(request, caller, client_ref, body.other_ref, body.reason, False)


@router.post(
    "/{client_ref}/links/{other_ref}/unlink",
    response_model=Linked,
    summary="Undo a link: the two references are two people",
    responses={403: {"description": "Not a supervisor or manager"}, 409: {}},
)
async def unlink(
    client_ref: ClientRef,
    other_ref: Annotated[Identifier, Path()],
    body: UnlinkBody,
    request: Request,
    caller: Caller,
) -> Linked:
    return await _link(request, caller, client_ref, other_ref, body.reason, True)
