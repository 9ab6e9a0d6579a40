"""`/api/v1/staff`, `/api/v1/teams`, `/api/v1/providers`: the staff and resource directories.

| route (under `/api/v1`) | the CLI's | |
|---|---|---|
| `GET /staff` | `staff list` | `team`, `role`, `all`; paged |
| `GET /staff/{staff_id}` | `staff show` | |
| `POST /staff` | `staff add` | admins |
| `PATCH /staff/{staff_id}` | `staff change` | admins |
| `POST /staff/{staff_id}/deactivation` | `staff deactivate` | admins |
| `GET /teams` | `staff list` (the teams) | paged |
| `POST /teams` | `staff add-team` | admins |
| `GET /providers` | `provider list` | `category`, `domain`, `all`; paged |
| `GET /providers/{provider_id}` | `provider show` | |
| `POST /providers` | `provider add` | admins |
| `PATCH /providers/{provider_id}` | `provider change` | admins |
| `POST /providers/{provider_id}/deactivation` | `provider deactivate` | admins |
| `POST /providers/{provider_id}/services` | `provider add-service` | admins |
| `POST /providers/{provider_id}/services/{service_id}/withdrawal` | `withdraw-service` | admins |

(`POST /api/v1/staff/{staff_id}/invitations`, the CLI's `staff invite`, is with the
sessions in casework/api/sessions.py.)

Every signed-in staff member reads the directories (the access table's
`directories` row); only admins change them (the directories' own rules: anyone else
gets 403 and nothing is written). Each route calls one use case of
`application.directories`. A body is checked field by field before anything is
decided (422 naming the field); a rule that names a field (an id already taken, a
team that does not exist) answers 422 naming it; a rule about the directory as it
stands (the last active admin, a profile already so) answers 409; a member, team,
provider or service that is not there (or no longer active, for a change) 404.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response

from application import directories
from application.directories import (
    Deactivation,
    NewProvider,
    NewService,
    NewStaffMember,
    NewTeam,
    ProviderChange,
    StaffChange,
)
from application.read_models import DEFAULT_LIMIT, Page, PageRequest
from casework.api.auth import Caller, casework_of
from casework.api.problems import ApiProblem, FieldProblem, event_problems, invalid
from casework.api.reads import Cursor, Limit
from casework.i18n import N_
from directory import (
    DirectoryError,
    NotFound,
    NotPermitted,
    Provider,
    Refused,
    Service,
    StaffMember,
    Team,
)
from events.directory_events import ProviderCategory, StaffRole
from events.fields import Identifier
from events.registry import EventValidationError
from events.vocabulary import Domain

router = APIRouter(prefix="/api/v1", tags=["directory"])

T = TypeVar("T")

StaffId = Annotated[Identifier, Path(description="A staff id.")]
ProviderId = Annotated[Identifier, Path(description="A provider id.")]
ServiceId = Annotated[Identifier, Path(description="A service id of the provider.")]
Everyone = Annotated[bool, Query(alias="all", description="Include deactivated ones.")]

READ_REFUSALS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A parameter is invalid (named in the problem)"},
}
ONE_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not in the directory"},
}
CHANGE_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only an admin changes the directories"},
    404: {"description": "Not in the directory (or no longer active)"},
    409: {"description": "The directory's rules refuse the change as it stands"},
    422: {"description": "A field is invalid (named in the problem)"},
}


async def _change(work: Awaitable[T], fields: frozenset[str]) -> T:
    """Run a change; its refusals as problems (nothing is written when refused)."""
    try:
        return await work
    except NotPermitted as exc:
        raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None
    except NotFound as exc:
        raise ApiProblem(404, N_("Not found"), str(exc), kind="not-in-directory") from None
    except Refused as exc:
        field, named, message = str(exc).partition(": ")
        if named and field in fields:
            raise invalid([FieldProblem(field=field, message=message)]) from None
        raise ApiProblem(409, N_("Refused"), str(exc), kind="directory-refused") from None
    except EventValidationError as exc:
        raise invalid(event_problems(exc)) from None
    except DirectoryError as exc:  # the stream kept moving under concurrent changes
        raise ApiProblem(409, N_("Try again"), str(exc), kind="directory-busy") from None


def _fields(model: type[Any]) -> frozenset[str]:
    return frozenset(model.model_fields)


def _created(response: Response, location: str) -> None:
    response.headers["Location"] = location


# --- staff -------------------------------------------------------------------------------


@router.get(
    "/staff",
    response_model=Page[StaffMember],
    summary="Staff members, by staff id",
    responses=READ_REFUSALS,
)
async def list_staff(
    request: Request,
    caller: Caller,
    team: Annotated[Identifier | None, Query(description="Only this team's members.")] = None,
    role: Annotated[StaffRole | None, Query(description="Only members with this role.")] = None,
    include_inactive: Everyone = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[StaffMember]:
    return await directories.list_staff(
        casework_of(request), caller.actor, PageRequest(limit=limit, cursor=cursor),
        team=team, role=role, include_inactive=include_inactive,
    )  # fmt: skip


@router.get(
    "/staff/{staff_id}",
    response_model=StaffMember,
    summary="One staff member (active or deactivated)",
    responses=ONE_REFUSALS,
)
async def show_staff(staff_id: StaffId, request: Request, caller: Caller) -> StaffMember:
    return await directories.show_staff(casework_of(request), caller.actor, staff_id)


@router.post(
    "/staff",
    status_code=201,
    response_model=StaffMember,
    summary="Add a staff member (admins)",
    responses=CHANGE_REFUSALS,
)
async def add_staff(
    body: NewStaffMember, request: Request, response: Response, caller: Caller
) -> StaffMember:
    member = await _change(
        directories.add_staff(casework_of(request), caller.actor, body), _fields(NewStaffMember)
    )
    _created(response, f"/api/v1/staff/{member.staff_id}")
    return member


@router.patch(
    "/staff/{staff_id}",
    response_model=StaffMember,
    summary="Change a member's name, role, team or notification webhook (admins)",
    responses=CHANGE_REFUSALS,
)
async def change_staff(
    staff_id: StaffId, body: StaffChange, request: Request, caller: Caller
) -> StaffMember:
    return await _change(
        directories.change_staff(casework_of(request), caller.actor, staff_id, body),
        _fields(StaffChange),
    )


@router.post(
    "/staff/{staff_id}/deactivation",
    response_model=StaffMember,
    summary="Deactivate a staff member: they may no longer act (admins)",
    responses=CHANGE_REFUSALS,
)
async def deactivate_staff(
    staff_id: StaffId, body: Deactivation, request: Request, caller: Caller
) -> StaffMember:
    return await _change(
        directories.deactivate_staff(casework_of(request), caller.actor, staff_id, body),
        _fields(Deactivation),
    )


# --- teams -------------------------------------------------------------------------------


@router.get(
    "/teams", response_model=Page[Team], summary="The teams, by team id", responses=READ_REFUSALS
)
async def list_teams(
    request: Request, caller: Caller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[Team]:
    return await directories.list_teams(
        casework_of(request), caller.actor, PageRequest(limit=limit, cursor=cursor)
    )


@router.post(
    "/teams",
    status_code=201,
    response_model=Team,
    summary="Add a team (admins)",
    responses=CHANGE_REFUSALS,
)
async def add_team(body: NewTeam, request: Request, caller: Caller) -> Team:
    team = await _change(
        directories.add_team(casework_of(request), caller.actor, body), _fields(NewTeam)
    )
    return team


# --- providers ---------------------------------------------------------------------------


@router.get(
    "/providers",
    response_model=Page[Provider],
    summary="Providers with their services, by provider id",
    responses=READ_REFUSALS,
)
async def list_providers(
    request: Request,
    caller: Caller,
    category: Annotated[ProviderCategory | None, Query()] = None,
    domain: Annotated[
        Domain | None, Query(description="Offering an active service for this need.")
    ] = None,
    include_inactive: Everyone = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Provider]:
    return await directories.list_providers(
        casework_of(request), caller.actor, PageRequest(limit=limit, cursor=cursor),
        category=category, domain=domain, include_inactive=include_inactive,
    )  # fmt: skip


@router.get(
    "/providers/{provider_id}",
    response_model=Provider,
    summary="One provider: contact channel, eligibility and services",
    responses=ONE_REFUSALS,
)
async def show_provider(provider_id: ProviderId, request: Request, caller: Caller) -> Provider:
    return await directories.show_provider(casework_of(request), caller.actor, provider_id)


@router.post(
    "/providers",
    status_code=201,
    response_model=Provider,
    summary="Add a provider to the resource directory (admins)",
    responses=CHANGE_REFUSALS,
)
async def add_provider(
    body: NewProvider, request: Request, response: Response, caller: Caller
) -> Provider:
    provider = await _change(
        directories.add_provider(casework_of(request), caller.actor, body), _fields(NewProvider)
    )
    _created(response, f"/api/v1/providers/{provider.provider_id}")
    return provider


@router.patch(
    "/providers/{provider_id}",
    response_model=Provider,
    summary="Change a provider's name, category, contact channel or eligibility (admins)",
    responses=CHANGE_REFUSALS,
)
async def change_provider(
    provider_id: ProviderId, body: ProviderChange, request: Request, caller: Caller
) -> Provider:
    return await _change(
        directories.change_provider(casework_of(request), caller.actor, provider_id, body),
        _fields(ProviderChange),
    )


@router.post(
    "/providers/{provider_id}/deactivation",
    response_model=Provider,
    summary="Deactivate a provider: no new referrals go to it (admins)",
    responses=CHANGE_REFUSALS,
)
async def deactivate_provider(
    provider_id: ProviderId, body: Deactivation, request: Request, caller: Caller
) -> Provider:
    return await _change(
        directories.deactivate_provider(casework_of(request), caller.actor, provider_id, body),
        _fields(Deactivation),
    )


@router.post(
    "/providers/{provider_id}/services",
    status_code=201,
    response_model=Service,
    summary="Add a service to a provider (admins)",
    responses=CHANGE_REFUSALS,
)
async def add_service(
    provider_id: ProviderId,
    body: NewService,
    request: Request,
    response: Response,
    caller: Caller,
) -> Service:
    service = await _change(
        directories.add_service(casework_of(request), caller.actor, provider_id, body),
        _fields(NewService),
    )
    _created(response, f"/api/v1/providers/{provider_id}")
    return service


@router.post(
    "/providers/{provider_id}/services/{service_id}/withdrawal",
    response_model=Service,
    summary="Withdraw a provider's service (admins)",
    responses=CHANGE_REFUSALS,
)
async def withdraw_service(
    provider_id: ProviderId,
    service_id: ServiceId,
    body: Deactivation,
    request: Request,
    caller: Caller,
) -> Service:
    return await _change(
        directories.withdraw_service(
            casework_of(request), caller.actor, provider_id, service_id, body
        ),
        _fields(Deactivation),
    )
