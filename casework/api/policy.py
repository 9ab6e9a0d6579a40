"""`/api/v1/policy`: the agency's review and escalation policy.

| route | the CLI's | who |
|---|---|---|
| `GET /api/v1/policy` | `policy show` | every signed-in staff member |
| `POST /api/v1/policy` | `policy apply FILE` | managers and admins |

`GET` answers the policy in force with `ETag: "<n>"`, the policy stream's version
(0 until a policy is applied). `POST` takes a whole policy (durations as seconds or
`90d`, `12h`, `30s`; its `version` is assigned: the next one), records it and sends it
to every running case, answering how many took it. Send `If-Match` with the ETag you
read to be sure you change the policy you saw: when another version was applied
meanwhile it answers 412 with the current version, and nothing is recorded or sent.
An invalid policy answers 422 naming the field; a role that may not change the policy
403; in both cases nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from application import agency_policy
from application.agency_policy import AppliedPolicy, PolicyChanged, PolicyInForce
from application.policies import POLICY_STREAM, PolicyRefused
from cases.policy import Policy
from casework.api.auth import Caller, casework_of
from casework.api.problems import ApiProblem, FieldProblem, invalid
from casework.i18n import N_
from events.store import ConcurrencyError

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag of the policy you edited: "<stream version>" (optional).',
    ),
]


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise invalid([FieldProblem(field="If-Match", message=N_('expected "<version>"'))])
    return int(value)


def _changed(current: int, detail: str) -> ApiProblem:
    return ApiProblem(
        412, N_("The policy changed"), detail, kind="policy-changed",
        current_version=current, headers={"ETag": _etag(current)},
    )  # fmt: skip


@router.get("", response_model=PolicyInForce, summary="The policy in force")
async def show_policy(request: Request, response: Response, caller: Caller) -> PolicyInForce:
    found = await agency_policy.policy_in_force(casework_of(request))
    response.headers["ETag"] = _etag(found.stream_version)
    return found


@router.post(
    "",
    response_model=AppliedPolicy,
    summary="Apply a new policy version and send it to every running case",
    responses={
        403: {"description": "Your role may not change the policy"},
        412: {"description": "Another version was applied since the ETag sent"},
        422: {"description": "The policy is invalid (the field named)"},
    },
)
async def apply_policy(
    body: Policy, request: Request, response: Response, caller: Caller, if_match: IfMatch = None
) -> AppliedPolicy:
    app = casework_of(request)
    try:
        applied = await agency_policy.apply(
            app, caller.actor, body, expected_version=_expected(if_match)
        )
    except PolicyRefused as exc:
        raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None

    except PolicyChanged as exc:
        raise _changed(exc.current, str(exc)) from None
    except ConcurrencyError as exc:
        current = await app.store.stream_version(POLICY_STREAM)
        raise _changed(current, str(exc)) from None
    response.headers["ETag"] = _etag(applied.version)
    return applied
