"""`/api/v1/sessions` and `/api/v1/tokens`: signing in with a staff account, signing out,
and personal access tokens for scripts."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from application import identity
from casework.api.auth import Caller, casework_of, now_of, unauthenticated
from casework.api.problems import ApiProblem, FieldProblem, invalid
from casework.api.ratelimit import limit_by_address
from casework.i18n import N_
from events.fields import Identifier

router = APIRouter(prefix="/api/v1", tags=["identity"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Identifier
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(None, pattern=r"^[0-9]{6}$", description="The 6-digit code.")


class Session(BaseModel):
    token: str = Field(description="Send as Authorization: Bearer <token>. Shown once.")
    session_id: str
    expires_at: datetime


class Whoami(BaseModel):
    staff_id: str
    role: str
    team: str | None
    method: str


@router.post(
    "/sessions",
    status_code=201,
    response_model=Session,
    summary="Sign in",
    dependencies=[Depends(limit_by_address)],
    responses={
        401: {"description": "Wrong staff id, password or code (or a second factor needed)"},
        429: {"description": "Too many attempts from this address, or the account is locked"},
    },
)
async def sign_in(body: SignIn, request: Request) -> Session:
    try:
        issued = await identity.sign_in(
            casework_of(request),
            body.staff_id,
            body.password,
            totp=body.totp,
            now=now_of(request),
            client=request.client.host if request.client else None,
        )
    except identity.AccountLocked as exc:
        retry = max(1, int((exc.until - now_of(request)).total_seconds()))
        raise ApiProblem(
            429, N_("Too many failed sign-ins"), str(exc), kind="account-locked",
            headers={"Retry-After": str(retry)},
        ) from None  # fmt: skip
    except identity.SecondFactorRequired as exc:
        raise ApiProblem(
            401, N_("Second factor required"), str(exc), kind="second-factor-required",
            headers={"WWW-Authenticate": 'Bearer realm="casework"'},
        ) from None  # fmt: skip
    except identity.NotAuthenticated as exc:
        raise unauthenticated(str(exc)) from None
    return Session(token=issued.token, session_id=issued.session_id, expires_at=issued.expires_at)


class OidcSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(
        min_length=1,
        max_length=16_384,
        description="An ID token from the agency's identity provider, issued to Casework's "
        "client id (CASEWORK_OIDC_CLIENT_ID).",
    )


@router.post(
    "/sessions/oidc",
    status_code=201,
    response_model=Session,
    summary="Sign in with single sign-on (an ID token of the identity provider)",
    dependencies=[Depends(limit_by_address)],
    responses={
        401: {"description": "The token or its staff member is refused (the detail says why)"},
        404: {"description": "Single sign-on is not configured"},
        429: {"description": "Too many attempts from this address"},
        503: {"description": "The identity provider cannot be reached"},
    },
)
async def sign_in_oidc(body: OidcSignIn, request: Request) -> Session:
    app = casework_of(request)
    if app.settings.oidc_issuer is None:
        raise ApiProblem(
            404, N_("Single sign-on is not configured"), N_("set CASEWORK_OIDC_ISSUER to use it"),
            kind="sso-not-configured",
        )  # fmt: skip
    try:
        issued = await identity.sign_in_with_id_token(
            app,
            body.id_token,
            now=now_of(request),
            client=request.client.host if request.client else None,
        )
    except identity.OidcUnavailable as exc:
        raise ApiProblem(
            503, N_("Identity provider unavailable"), str(exc),
            kind="identity-provider-unavailable",
            headers={"Retry-After": "30"},
        ) from None  # fmt: skip
    except identity.NotAuthenticated as exc:
        raise unauthenticated(str(exc)) from None
    return Session(token=issued.token, session_id=issued.session_id, expires_at=issued.expires_at)


@router.delete("/sessions/current", status_code=204, summary="Sign out")
async def sign_out(request: Request, caller: Caller) -> Response:
    header = request.headers.get("Authorization", "")
    token = header.partition(" ")[2]
    await identity.sign_out(casework_of(request), token, now=now_of(request))
    return Response(status_code=204)


@router.get("/me", response_model=Whoami, summary="Who the token belongs to")
async def whoami(caller: Caller) -> Whoami:
    actor = caller.actor
    return Whoami(
        staff_id=actor.staff_id, role=actor.role.value, team=actor.team, method=caller.method
    )


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int = Field(30, ge=1, le=366)


class IssuedToken(BaseModel):
    token: str = Field(description="Shown once: store it now.")
    token_id: str
    name: str
    expires_at: datetime


@router.post("/tokens", status_code=201, response_model=IssuedToken, summary="A personal token")
async def create_token(body: NewToken, request: Request, caller: Caller) -> IssuedToken:
    issued = await identity.create_access_token(
        casework_of(request),
        caller,
        body.name,
        timedelta(days=body.expires_in_days),
        now=now_of(request),
    )
    return IssuedToken(
        token=issued.token, token_id=issued.token_id, name=body.name, expires_at=issued.expires_at
    )


class TokenInfo(BaseModel):
    token_id: str
    staff_id: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@router.get("/tokens", response_model=list[TokenInfo], summary="Your personal tokens")
async def list_tokens(request: Request, caller: Caller) -> list[TokenInfo]:
    """Your personal access tokens, newest first (never the tokens themselves)."""
    found = await identity.list_access_tokens(casework_of(request), caller)
    return [TokenInfo.model_validate(t, from_attributes=True) for t in found]


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke a personal token",
    responses={404: {"description": "No such token of yours"}},
)
async def revoke_token(token_id: str, request: Request, caller: Caller) -> Response:
    try:
        await identity.revoke_access_token(
            casework_of(request), caller, token_id, now=now_of(request)
        )
    except LookupError as exc:
        raise ApiProblem(404, N_("No such token"), str(exc), kind="token-not-found") from None

    return Response(status_code=204)


class InvitationCode(BaseModel):
    staff_id: str
    code: str = Field(description="Give it to the staff member; shown once.")
    expires_at: datetime


@router.post(
    "/staff/{staff_id}/invitations",
    status_code=201,
    response_model=InvitationCode,
    summary="Invite a staff member to set their password (admins)",
    responses={
        403: {"description": "Only administrators invite"},
        404: {"description": "No such staff member"},
    },
)
async def invite(staff_id: str, request: Request, caller: Caller) -> InvitationCode:
    made = await identity.invite(casework_of(request), caller.actor, staff_id, now=now_of(request))
    return InvitationCode(staff_id=staff_id, code=made.code, expires_at=made.expires_at)


class AcceptInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: Identifier
    code: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


@router.post(
    "/invitations/accept",
    status_code=204,
    summary="Set your password with your invitation",
    dependencies=[Depends(limit_by_address)],
    responses={429: {"description": "Too many attempts from this address"}},
)
async def accept_invitation(body: AcceptInvitation, request: Request) -> Response:
    try:
        await identity.accept_invitation(
            casework_of(request), body.staff_id, body.code, body.password, now=now_of(request)
        )
    except identity.InvitationInvalid as exc:
        raise invalid([FieldProblem(field="code", message=str(exc))]) from None
    return Response(status_code=204)
