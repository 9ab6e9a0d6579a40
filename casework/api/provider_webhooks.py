"""Signed webhooks with providers: their signing secrets, and their signed replies.

| route (under `/api/v1/providers/{provider_id}`) | the CLI's | |
|---|---|---|
| `GET /webhook-secret` | `provider webhook-secret list` | admins |
| `POST /webhook-secret` | `provider webhook-secret issue` | admins |
| `POST /webhook-secret:rotate` | `provider webhook-secret rotate` | admins |
| `POST /webhook-secret:revoke` | `provider webhook-secret revoke` | admins |
| `POST /replies` | (the provider's system) | signed |

A new secret is in the answer of the call that made it, and nowhere else ever after.
The replies route takes no session or token: the Standard Webhooks signature is the
credential (application/provider_webhooks.py, docs/providers.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from application import provider_webhooks, webhook_secrets
from application.provider_webhooks import MAX_BODY_BYTES
from application.webhook_secrets import IssuedSecret
from casework.api.auth import Caller, casework_of, now_of
from casework.api.problems import ApiProblem, FieldProblem, speak
from casework.i18n import N_, _
from directory import NotFound, NotPermitted, Refused
from events.fields import Identifier

router = APIRouter(prefix="/api/v1", tags=["provider webhooks"])

ProviderId = Annotated[Identifier, Path(description="A provider id.")]

SECRET_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only an admin manages webhook secrets"},
    404: {"description": "No active provider of that id"},
    409: {"description": "The provider's secrets refuse it as they stand"},
    422: {"description": "A field is invalid (named in the problem)"},
}

REPLY_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Unsigned, badly signed, stale or future, or an unknown provider"},
    404: {"description": "No such referral to this provider"},
    409: {"description": "This webhook-id was received before (already received)"},
    413: {"description": "The body is over 64 KB"},
    422: {"description": "The body is not a reply, or the case's rules refuse it"},
}

REASON_TITLES: Final[dict[str, str]] = {
    "unknown_provider": N_("Not signed"),
    "missing": N_("Not signed"),
    "stale": N_("Signature too old"),
    "future": N_("Signature from the future"),
    "bad_signature": N_("Bad signature"),
    "replayed": N_("Already received"),
    "invalid_body": N_("Invalid input"),
    "not_found": N_("Not found"),
    "refused": N_("Refused"),
    "conflict": N_("Conflict"),
}

REASON_DETAILS: Final[dict[str, str]] = {
    "unknown_provider": N_("no active provider of that id"),
    "missing": N_("send the webhook-id, webhook-timestamp and webhook-signature headers"),
    "stale": N_("the webhook-timestamp is too old"),
    "future": N_("the webhook-timestamp is in the future"),
    "bad_signature": N_("no signature matches a live secret of the provider"),
    "replayed": N_("this webhook-id was received before; nothing was done again"),
    "not_found": N_("no such referral of yours"),
}


class SecretOut(BaseModel):
    """A new signing secret, shown this once."""

    provider_id: str
    secret_id: str
    secret: str = Field(description="The secret (whsec_…): shown once, store it now.")
    created_at: datetime
    retiring: list[str] = Field(description="Secret ids still accepted until `retires_at`.")
    retires_at: datetime | None


class SecretInfo(BaseModel):
    secret_id: str
    created_at: datetime
    retires_at: datetime | None
    revoked_at: datetime | None
    live: bool


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float = Field(
        default=24, ge=0, le=720, description="How long the old secrets stay valid."
    )


class Revoked(BaseModel):
    provider_id: str
    revoked: list[str]


class ReplyAccepted(BaseModel):
    status: str = "accepted"
    webhook_id: str
    case_id: str
    referral_id: str
    version: int | None


def _out(issued: IssuedSecret) -> SecretOut:
    return SecretOut(
        provider_id=issued.provider_id,
        secret_id=issued.secret_id,
        secret=issued.secret,
        created_at=issued.created_at,
        retiring=list(issued.retiring),
        retires_at=issued.retires_at,
    )


async def _managed(work: Any) -> Any:
    try:
        return await work
    except NotPermitted as exc:
        raise ApiProblem(403, N_("Not permitted"), str(exc), kind="not-permitted") from None
    except NotFound as exc:
        raise ApiProblem(404, N_("Not found"), str(exc), kind="not-in-directory") from None
    except Refused as exc:
        field, _sep, message = str(exc).partition(": ")
        if field == "overlap":
            raise ApiProblem(
                422, N_("Invalid input"), str(exc), kind="invalid-input",
                errors=[FieldProblem(field=field, message=message)],
            ) from None  # fmt: skip
        raise ApiProblem(409, N_("Refused"), str(exc), kind="webhook-secret-refused") from None


@router.get(
    "/providers/{provider_id}/webhook-secret",
    response_model=list[SecretInfo],
    summary="A provider's webhook signing secrets, without their values (admins)",
    responses=SECRET_REFUSALS,
)
async def list_secrets(
    provider_id: ProviderId, request: Request, caller: Caller
) -> list[SecretInfo]:
    now = now_of(request)
    rows = await _managed(
        webhook_secrets.secrets_of(casework_of(request), caller.actor, provider_id)
    )
    return [
        SecretInfo(
            secret_id=r.secret_id,
            created_at=r.created_at,
            retires_at=r.retires_at,
            revoked_at=r.revoked_at,
            live=r.live_at(now),
        )
        for r in rows
    ]


@router.post(
    "/providers/{provider_id}/webhook-secret",
    status_code=201,
    response_model=SecretOut,
    summary="Issue a provider's first webhook signing secret, shown once (admins)",
    responses=SECRET_REFUSALS,
)
async def issue_secret(provider_id: ProviderId, request: Request, caller: Caller) -> SecretOut:
    issued = await _managed(
        webhook_secrets.issue_secret(
            casework_of(request), caller.actor, provider_id, now=now_of(request)
        )
    )
    return _out(issued)


@router.post(
    "/providers/{provider_id}/webhook-secret:rotate",
    status_code=201,
    response_model=SecretOut,
    summary="A new signing secret, the old ones valid for the overlap (admins)",
    responses=SECRET_REFUSALS,
)
async def rotate_secret(
    provider_id: ProviderId, request: Request, caller: Caller, body: Rotation | None = None
) -> SecretOut:
    overlap = timedelta(hours=(body or Rotation()).overlap_hours)
    issued = await _managed(
        webhook_secrets.rotate_secret(
            casework_of(request), caller.actor, provider_id, now=now_of(request), overlap=overlap
        )
    )
    return _out(issued)


@router.post(
    "/providers/{provider_id}/webhook-secret:revoke",
    response_model=Revoked,
    summary="Revoke every signing secret of a provider at once (admins)",
    responses=SECRET_REFUSALS,
)
async def revoke_secret(provider_id: ProviderId, request: Request, caller: Caller) -> Revoked:
    revoked = await _managed(
        webhook_secrets.revoke_secret(
            casework_of(request), caller.actor, provider_id, now=now_of(request)
        )
    )
    return Revoked(provider_id=provider_id, revoked=revoked)


@router.post(
    "/providers/{provider_id}/replies",
    response_model=ReplyAccepted,
    summary="A provider's signed reply about a referral (Standard Webhooks signature)",
    responses=REPLY_REFUSALS,
)
async def receive_reply(provider_id: str, request: Request) -> ReplyAccepted:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    outcome = await provider_webhooks.receive_reply(
        casework_of(request),
        provider_id[:200],
        dict(request.headers),
        bytes(body),
        now=now_of(request),
    )
    if isinstance(outcome, provider_webhooks.Refused):
        raise _refusal(outcome)
    return ReplyAccepted(
        webhook_id=outcome.webhook_id,
        case_id=outcome.case_id,
        referral_id=outcome.referral_id,
        version=outcome.version,
    )


def _too_large() -> ApiProblem:
    return ApiProblem(
        413,
        N_("Request too large"),
        _("a reply over %(limit)s bytes is refused; nothing was done", limit=MAX_BODY_BYTES),
        kind="request-too-large",
        errors=[
            FieldProblem(field="body", message=_("over %(limit)s bytes", limit=MAX_BODY_BYTES))
        ],
    )


def _refusal(refused: provider_webhooks.Refused) -> ApiProblem:
    title = REASON_TITLES.get(refused.reason, N_("Refused"))
    fixed = REASON_DETAILS.get(refused.reason)
    errors = [FieldProblem(field=f, message=speak(m)) for f, m in refused.errors]
    if refused.reason == "invalid_body":
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or _(
            "the body is not a reply"
        )
    else:
        detail = _(fixed) if fixed is not None else refused.detail
    return ApiProblem(
        refused.status,
        title,
        detail,
        kind=f"webhook-{refused.reason.replace('_', '-')}",
        errors=errors,
    )
