"""`/api/v1/portal`: the provider portal's API (application/provider_portal.py).

* `GET /api/v1/portal/referrals` — the referrals sent to the caller's provider, newest
  first (`status`, `limit`, `cursor`; `provider` for managers and auditors);
* `GET /api/v1/portal/referrals/{case_id}/{referral_id}` — one referral, with only what
  the client consented to share;
* `POST /api/v1/portal/referrals/{case_id}/{referral_id}/{action}` — the provider's
  answer, `accept`, `decline`, `progress` or `complete` (`{"note": …, "reason": …}`).

A provider signs in as any staff member does (session or personal access token). A
referral that is not the caller's provider's answers 404, exactly as one that does not
exist, the attempt on record; a role that may not read providers' referrals 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from application import provider_portal as portal
from application.paging import Page, PageRequest
from application.provider_portal import PortalAction, PortalReferral, ProviderReferral
from casework.api.auth import Caller, casework_of
from casework.api.cases import answer
from casework.api.problems import ApiProblem
from casework.api.reads import Cursor, IdFilter, Limit
from casework.i18n import N_, _
from events.fields import Identifier, LongText, ShortText
from workflows.case import CommandResult

router = APIRouter(prefix="/api/v1/portal", tags=["provider portal"])

REFUSALS: dict[int | str, dict[str, object]] = {
    403: {"description": "Your role may not read providers' referrals"},
    404: {"description": "No such referral for your provider"},
}


class PortalAnswer(BaseModel):
    """The provider's words with its answer: a decline needs `reason`, a progress report
    `note` (the report itself)."""

    model_config = ConfigDict(extra="forbid")

    note: LongText = Field("", description="A note (accept, complete) or the report (progress).")
    reason: ShortText | None = Field(None, description="Why the referral is declined.")


def _missing(case_id: str, referral_id: str) -> ApiProblem:
    return ApiProblem(
        404,
        N_("No such referral"),
        _(
            "no referral %(referral_id)s of case %(case_id)s for your provider",
            referral_id=referral_id,
            case_id=case_id,
        ),
        kind="referral-not-found",
    )


@router.get(
    "/referrals",
    response_model=Page[ProviderReferral],
    summary="The referrals sent to your provider, newest first",
    responses=REFUSALS,
)
async def list_referrals(
    request: Request,
    caller: Caller,
    status: Annotated[str | None, Query(max_length=40, description="Only this status.")] = None,
    provider: IdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ProviderReferral]:
    return await portal.list_referrals(
        casework_of(request), caller.actor, PageRequest(limit=limit, cursor=cursor),
        provider=provider, status=status,
    )  # fmt: skip


@router.get(
    "/referrals/{case_id}/{referral_id}",
    response_model=PortalReferral,
    summary="One referral, with only what the client consented to share with you",
    responses=REFUSALS,
)
async def show_referral(
    case_id: str, referral_id: Identifier, request: Request, caller: Caller
) -> PortalReferral:
    try:
        return await portal.show_referral(casework_of(request), caller.actor, case_id, referral_id)
    except portal.PortalNotFound:
        raise _missing(case_id, referral_id) from None


@router.post(
    "/referrals/{case_id}/{referral_id}/{action}",
    response_model=CommandResult,
    summary="Accept, decline, report progress on or complete a referral",
    responses={
        **REFUSALS,
        409: {"description": "The referral's state does not allow this answer"},
    },
)
async def act(
    case_id: str,
    referral_id: Identifier,
    action: PortalAction,
    body: PortalAnswer,
    request: Request,
    response: Response,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CommandResult:
    result = await portal.act(
        casework_of(request), caller.actor, case_id, referral_id, action,
        note=body.note, reason=body.reason, idempotency_key=idempotency_key,
    )  # fmt: skip
    return answer(result, case_id, response)
