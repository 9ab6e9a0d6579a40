"""Signing in (password, then a TOTP code where the account has one, or single sign-on
with the agency's OpenID Connect provider), signing out, and the pages that say why a
session ended, an account is locked or a single sign-on was refused.

The console calls the same use cases as the HTTP API (application/identity): `sign_in`
checks the password (and code), the lockout and the staff directory, and records the
attempt in the account's stream; `sign_out` revokes the session at once. Attempts are
also limited per client address (10 a minute), as on the API.

Single sign-on (shown when CASEWORK_OIDC_ISSUER is set): "Sign in with <provider>" is a
link to `GET /console/sign-in/oidc` (a link, not a form: the page's CSP allows forms to
send only to the console, and a form's redirect to the provider would be blocked). It
starts the authorization code flow with PKCE (`begin_authorization`), keeps the request's
state, nonce and verifier server-side (`pending_sign_ins.keep_sign_in`) under a random
key that only the browser's `casework_sso` cookie holds (HttpOnly, SameSite=Lax so that
the provider's top-level redirect back brings it, path `/console/sign-in/oidc`, ten
minutes), and sends the browser to the provider. The provider redirects back to
`GET /console/sign-in/oidc/callback`, which takes the request back once
(`take_sign_in`), checks the state, exchanges the code and verifies the ID token
(`complete_authorization`), and signs the person in with the same session cookie as a
password sign-in — or answers a page saying why not.
"""

from __future__ import annotations

import contextlib
from collections import deque
from datetime import datetime, timedelta
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from application import identity
from application.identity.pending_sign_ins import PENDING_LIFETIME, keep_sign_in, take_sign_in
from casework.console.web import (
    HOME,
    PATHS,
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    casework_of,
    check_csrf,
    now_of,
    page,
    redirect,
    same,
    set_session_cookie,
    sign_in_csrf,
    signed_in,
    translated,
)
from casework.i18n import N_, _

router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = structlog.get_logger("casework.console.sign_in")

SSO_PATH = f"{PREFIX}/sign-in/oidc"
SSO_COOKIE = "casework_sso"
"""The key of the browser's started single sign-on (the request itself is server-side)."""
PENDING_SECONDS = PENDING_LIFETIME.total_seconds()

ATTEMPTS_PER_MINUTE = 10
"""Sign-in attempts a minute from one address (`app.state.console_sign_in_limit`
overrides it: a test whose browsers all come from 127.0.0.1)."""

WHY = {
    "ended": N_(
        "Your session has ended (it timed out, or was signed out or revoked). "
        "Sign in again to carry on."
    ),
    "signed-out": N_("You are signed out."),
    "enrol": N_(
        "Administrators must enrol a second factor (TOTP) before using the console: "
        "run `casework login` and enrol, then sign in here with your code."
    ),
}
"""Why the sign-in page is shown (`?why=`), translated where it is shown."""


class _Attempts:
    """A sliding window of sign-in attempts per client address (per process)."""

    def __init__(self, per_minute: int = ATTEMPTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, deque[datetime]] = {}

    def allow(self, address: str, now: datetime) -> bool:
        seen = self.seen.setdefault(address, deque())
        while seen and seen[0] <= now - timedelta(minutes=1):
            seen.popleft()
        if len(seen) >= self.per_minute:
            return False
        seen.append(now)
        if len(self.seen) > 10_000:
            for stale in [k for k, v in self.seen.items() if not v][:5_000]:
                del self.seen[stale]
        return True


def _attempts(request: Request) -> _Attempts:
    found: _Attempts | None = getattr(request.app.state, "console_sign_in_attempts", None)
    if found is None:
        limit = getattr(request.app.state, "console_sign_in_limit", ATTEMPTS_PER_MINUTE)
        found = _Attempts(int(limit))
        request.app.state.console_sign_in_attempts = found
    return found


def _safe_next(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(f"{PREFIX}/") and "//" not in value:
        return value
    return None


def _form(
    request: Request,
    *,
    staff_id: str = "",
    step: str = "password",
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    next_path: str | None = None,
    status_code: int = 200,
) -> Response:
    token = sign_in_csrf(request)
    response = page(
        request,
        "sign_in.html",
        title=_("Sign in"),
        staff_id=staff_id,
        step=step,
        errors=errors or {},
        notice=notice,
        next_path=next_path or "",
        sign_in_csrf=token,
        oidc_name=_provider_name(request),
        oidc_start=_sso_start(next_path),
        status_code=status_code,
    )
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE, token, path=PREFIX, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", max_age=3600,
    )  # fmt: skip
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, why: str = "", next: str = "") -> Response:
    notice = _(WHY[why]) if why in WHY else None
    return _form(request, notice=notice, next_path=_safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    staff_id = str(form.get("staff_id", "")).strip()
    password = str(form.get("password", ""))
    code = str(form.get("totp", "")).strip() or None
    next_path = _safe_next(form.get("next"))
    sent = form.get("csrf")
    if not same(request.cookies.get(SIGN_IN_CSRF_COOKIE), sent if isinstance(sent, str) else None):
        return _form(
            request,
            staff_id=staff_id,
            errors={"form": _("The form had expired: please sign in again.")},
            next_path=next_path,
            status_code=400,
        )
    errors: dict[str, str] = {}
    if not staff_id:
        errors["staff_id"] = _("Enter your staff id.")
    if not password:
        errors["password"] = _("Enter your password.")
    if code is not None and not (len(code) == 6 and code.isdigit()):
        errors["totp"] = _("The code is the 6 digits your authenticator app shows.")
    if errors:
        step = "totp" if "totp" in form else "password"
        return _form(
            request, staff_id=staff_id, step=step, errors=errors, next_path=next_path,
            status_code=422,
        )  # fmt: skip
    now = now_of(request)
    address = request.client.host if request.client else "unknown"
    if not _attempts(request).allow(address, now):
        return _form(
            request,
            staff_id=staff_id,
            errors={"form": _("Too many sign-in attempts from your address: wait a minute.")},
            next_path=next_path,
            status_code=429,
        )
    app = casework_of(request)
    try:
        issued = await identity.sign_in(
            app, staff_id, password, totp=code, now=now,
            client=f"{address} console {request.headers.get('user-agent', '')[:80]}",
        )  # fmt: skip
    except identity.AccountLocked as exc:
        return page(
            request, "locked.html", title=_("Account locked"), until=exc.until, status_code=423
        )
    except identity.SecondFactorRequired:
        return _form(
            request,
            staff_id=staff_id,
            step="totp",
            errors={"totp": _("Enter the 6-digit code from your authenticator app.")}
            if "totp" in form
            else {},
            next_path=next_path,
            status_code=401,
        )
    except identity.NotAuthenticated as exc:
        return _form(
            request,
            staff_id=staff_id,
            step="totp" if code else "password",
            errors={"form": translated(str(exc)).capitalize() + "."},
            next_path=next_path,
            status_code=401,
        )
    if issued.enrolment_only:
        await identity.sign_out(app, issued.token, now=now)
        return _form(request, notice=_(WHY["enrol"]), status_code=403)
    member = await app.actor(staff_id)
    target = next_path or PATHS[HOME[member.role]]
    response = redirect(target)
    max_age = max(60, int((issued.expires_at - now).total_seconds()))
    set_session_cookie(request, response, issued.token, max_age)
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=PREFIX)
    return response


def _provider_name(request: Request) -> str | None:
    """The provider's name for "Sign in with …", or None when single sign-on is off."""
    settings = casework_of(request).settings
    if settings.oidc_issuer is None:
        return None
    return settings.oidc_provider_name


def _sso_start(next_path: str | None) -> str:
    return SSO_PATH + (f"?next={quote(next_path)}" if next_path else "")


def _sso_refused(
    request: Request,
    *,
    title: str,
    message: str,
    status_code: int,
    detail: str | None = None,
    next_path: str | None = None,
) -> Response:
    """A page saying why single sign-on did not sign the person in, with the ways on."""
    response = page(
        request,
        "sso_refused.html",
        title=title,
        message=message,
        detail=detail,
        provider=_provider_name(request),
        oidc_start=_sso_start(next_path),
        status_code=status_code,
    )
    response.delete_cookie(SSO_COOKIE, path=SSO_PATH)
    return response


def _unavailable(request: Request, exc: Exception, next_path: str | None) -> Response:
    log.warning("console.sso_unavailable", error=str(exc))
    name = _provider_name(request) or _("the sign-in provider")
    return _sso_refused(
        request,
        title=_("Sign-in provider unavailable"),
        message=_(
            "Casework cannot reach %(provider)s at the moment, so nobody can sign in with it. "
            "Try again in a few minutes, or sign in with your staff id and password.",
            provider=name,
        ),
        status_code=503,
        next_path=next_path,
    )


def _sso_off(request: Request) -> Response:
    return _sso_refused(
        request,
        title=_("Single sign-on is off"),
        message=_(
            "This Casework is not set up for single sign-on: sign in with your "
            "staff id and password."
        ),
        status_code=404,
    )


@router.get("/sign-in/oidc")
async def sso_start(request: Request, next: str = "") -> Response:
    """Start a single sign-on: keep the request server-side, send the browser away."""
    next_path = _safe_next(next)
    app = casework_of(request)
    if app.settings.oidc_issuer is None:
        return _sso_off(request)
    now = now_of(request)
    address = request.client.host if request.client else "unknown"
    if not _attempts(request).allow(address, now):
        return _form(
            request,
            errors={"form": _("Too many sign-in attempts from your address: wait a minute.")},
            next_path=next_path,
            status_code=429,
        )
    callback = str(request.url_for("sso_callback"))
    try:
        started = await identity.begin_authorization(app, callback)
    except identity.OidcUnavailable as exc:
        return _unavailable(request, exc, next_path)
    key = await keep_sign_in(app, started, now=now, next_path=next_path)
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        SSO_COOKIE, key, path=SSO_PATH, httponly=True, samesite="lax",
        secure=request.url.scheme == "https", max_age=int(PENDING_SECONDS),
    )  # fmt: skip
    log.info("console.sso_started", address=address)
    return response


@router.get("/sign-in/oidc/callback", name="sso_callback")
async def sso_callback(request: Request) -> Response:
    """The provider's answer: finish the sign-in this browser started, once."""
    app = casework_of(request)
    if app.settings.oidc_issuer is None:
        return _sso_off(request)
    now = now_of(request)
    name = _provider_name(request) or _("the sign-in provider")
    query = request.query_params
    pending = await take_sign_in(app, request.cookies.get(SSO_COOKIE), now=now)
    if pending is None:
        log.info("console.sso_refused", reason="no pending sign-in")
        return _sso_refused(
            request,
            title=_("Sign-in not recognised"),
            message=_(
                "This answer from %(provider)s does not belong to a sign-in started in this "
                "browser in the last 10 minutes, or it was used already. Nobody was signed "
                "in: start again.",
                provider=name,
            ),
            status_code=400,
        )
    next_path = _safe_next(pending.next_path)
    error = query.get("error")
    if error is not None:
        log.info("console.sso_refused", reason="provider error", error=error[:100])
        description = query.get("error_description", "")[:300]
        return _sso_refused(
            request,
            title=_("Single sign-on did not finish"),
            message=_(
                "%(provider)s did not sign you in, so neither did Casework. Start again, or "
                "sign in with your staff id and password.",
                provider=_capitalized(name),
            ),
            detail=f"{error[:100]}: {description}" if description else error[:100],
            status_code=401,
            next_path=next_path,
        )
    address = request.client.host if request.client else "unknown"
    try:
        issued = await identity.complete_authorization(
            app,
            code=query.get("code", ""),
            redirect_uri=str(request.url_for("sso_callback")),
            request=pending.request,
            returned_state=query.get("state", ""),
            returned_issuer=query.get("iss"),
            now=now,
            client=f"{address} console sso {request.headers.get('user-agent', '')[:80]}",
        )
    except identity.OidcUnavailable as exc:
        return _unavailable(request, exc, next_path)
    except identity.NotAuthenticated as exc:
        reason = str(exc)
        log.info("console.sso_refused", reason=reason)
        title, message, status_code = _refusal(reason, name)
        return _sso_refused(
            request, title=title, message=message, detail=_capitalized(translated(reason)) + ".",
            status_code=status_code, next_path=next_path,
        )  # fmt: skip
    member = await app.actor(issued.staff_id)
    response = redirect(next_path or PATHS[HOME[member.role]])
    max_age = max(60, int((issued.expires_at - now).total_seconds()))
    set_session_cookie(request, response, issued.token, max_age)
    response.delete_cookie(SSO_COOKIE, path=SSO_PATH)
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=PREFIX)
    return response


def _refusal(reason: str, provider: str) -> tuple[str, str, int]:
    """The title, message and status of a refused single sign-on, by its reason."""
    if reason.startswith("state:"):
        return (
            _("Sign-in not recognised"),
            _(
                "This answer does not match the sign-in this browser started last (was one "
                "started again, in another tab?). Nobody was signed in: start again."
            ),
            400,
        )
    if "deactivated staff member" in reason:
        return (
            _("Account deactivated"),
            _(
                "%(provider)s knows you, but your Casework account is deactivated, so you "
                "cannot sign in. Ask an administrator if this is a mistake.",
                provider=_capitalized(provider),
            ),
            403,
        )
    if "names no staff member" in reason or ("has no" in reason and "claim" in reason):
        return (
            _("No Casework account"),
            _(
                "%(provider)s signed you in, but no Casework staff account is yours. Ask an "
                "administrator to add you to the staff directory.",
                provider=_capitalized(provider),
            ),
            403,
        )
    return (
        _("Single sign-on refused"),
        _(
            "Casework could not verify this sign-in, so nobody was signed in. Start again, "
            "or sign in with your staff id and password."
        ),
        401,
    )


def _capitalized(text: str) -> str:
    """`text` with its first letter a capital (a provider's name opening a sentence)."""
    return text[:1].upper() + text[1:]


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    token = request.cookies.get(SESSION_COOKIE, "")
    with contextlib.suppress(identity.NotAuthenticated):
        await identity.sign_out(casework_of(request), token, now=now_of(request))
    response = redirect(f"{PREFIX}/sign-in?why=signed-out")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    principal = await signed_in(request)
    return redirect(PATHS[HOME[principal.actor.role]])
