"""What every console page shares: the session cookie, CSRF tokens, the templates, the
security headers, and who is signed in.

* **Session.** Signing in (application/identity `sign_in`) hands out a server-side
  session token; the console keeps it in the cookie `casework_session` — HttpOnly,
  SameSite=Lax, path `/console`, Secure when the request came over HTTPS. Every page
  checks it with `authenticate` (idle and absolute timeouts, revocation, the staff
  directory's current role), exactly as the HTTP API checks a bearer token, and records
  how the caller proved who they are (`request_context.authenticated`: the sign-in
  method and session id) for every access-log entry the request writes.
* **CSRF.** Every form carries a token checked before anything else is read.
  Signed in, the token is bound to the session: SHA-256 over a fixed label and the
  session token, which a cross-site page cannot read (the cookie is HttpOnly) and so
  cannot compute; it is not the digest the server stores, which has no label. On the
  sign-in form (no session yet) it is a double-submit token: a random value in the
  cookie `casework_csrf` (HttpOnly, SameSite=Strict) that the form must repeat.
* **Headers.** A Content-Security-Policy with no inline script or style
  (`script-src 'self'`: the board's one script is a file), `Cache-Control: no-store`
  on every console response, framing refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from babel.numbers import get_decimal_symbol
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from application import request_context
from application.bootstrap import Casework
from application.identity import NotAuthenticated, Principal, authenticate
from application.identity.errors import SecondFactorEnrolmentRequired
from application.identity.preferences import language_of
from cases.actors import Role
from casework import i18n
from casework.i18n import N_

PREFIX = "/console"
SESSION_COOKIE = "casework_session"
SIGN_IN_CSRF_COOKIE = "casework_csrf"
CSRF_FIELD = "csrf"
_CSRF_LABEL = b"casework-console-csrf\x00"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CONSOLE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
)
# Every page speaks the request's language (casework/i18n: the staff member's setting,
# else the browser's Accept-Language): `{{ _("…") }}` and `{% trans %}` in templates.
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.raw_gettext, i18n.raw_ngettext, newstyle=True, pgettext=i18n.raw_pgettext
)


def _when(value: datetime | None) -> str:
    return i18n.format_when(value)


def _words(value: object) -> str:
    """A vocabulary value (an enum's `value`) as words in the page's language: the
    words are catalog entries (`N_` in the vocabulary's labels), else the value's own
    words."""
    text = str(getattr(value, "value", value)).replace("_", " ")
    return i18n.raw_gettext(text)


def _decimal(value: float | int | None, digits: int | None = None) -> str:
    """A measured figure (an average, hours) with the locale's decimal sign: the digits
    the English page shows (`2.0`, `3.75`; `digits` fixes them), `2,0` in Spanish."""
    if value is None:
        return ""
    text = str(value) if digits is None else f"{value:.{digits}f}"
    language = i18n.current()
    if language == i18n.DEFAULT:
        return text
    return text.replace(".", get_decimal_symbol(language))


def translated(text: str) -> str:
    """A message made by another layer (an access refusal, a rule's reason) in the
    page's language when a catalog translates it, else as it came."""
    return i18n.raw_gettext(text)


templates.env.filters["when"] = _when
templates.env.filters["words"] = _words
templates.env.filters["said"] = lambda line: line.shown(i18n.raw_gettext, i18n.raw_ngettext)
templates.env.filters["day"] = lambda value: i18n.format_day(value)
templates.env.filters["number"] = lambda value: i18n.format_number(value)
templates.env.filters["decimal"] = _decimal


class SignInNeeded(Exception):
    """The request has no live session: answered by a redirect to the sign-in page."""

    def __init__(self, why: str, next_path: str | None) -> None:
        super().__init__(why)
        self.why = why
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form came without the right CSRF token: nothing is done."""


def casework_of(request: Request) -> Casework:
    app: Casework = request.app.state.casework
    return app


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def csrf_for_session(token: str) -> str:
    digest = hashlib.sha256(_CSRF_LABEL + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


async def signed_in(request: Request) -> Principal:
    """The staff member of the session cookie; SignInNeeded when there is none."""
    token = request.cookies.get(SESSION_COOKIE)
    next_path = request.url.path if request.method == "GET" else None
    if not token:
        raise SignInNeeded("", next_path)
    try:
        principal = await authenticate(casework_of(request), token, now=now_of(request))
    except SecondFactorEnrolmentRequired:
        raise SignInNeeded("enrol", None) from None
    except NotAuthenticated:
        raise SignInNeeded("ended", next_path) from None
    request.state.principal = principal
    request.state.csrf = csrf_for_session(token)
    # The staff member's own language, else the browser's (set by the API's middleware).
    preferred = await language_of(casework_of(request), principal.actor.staff_id)
    request.state.language_setting = preferred
    if preferred:
        i18n.use(i18n.negotiate(None, preferred))
    # How the caller proved who they are, for every access-log entry of this request.
    request_context.authenticated(principal.method, principal.credential_id)
    return principal


def check_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """The session-bound token of a signed-in form (call after `signed_in`)."""
    expected: str | None = getattr(request.state, "csrf", None)
    sent = form.get(CSRF_FIELD)
    if not same(expected, sent if isinstance(sent, str) else None):
        raise CsrfRefused()


def sign_in_csrf(request: Request) -> str:
    """The double-submit token of the sign-in form: the cookie's, or a new one."""
    found = request.cookies.get(SIGN_IN_CSRF_COOKIE)
    if found and 20 <= len(found) <= 100:
        return found
    token: str = getattr(request.state, "new_sign_in_csrf", None) or secrets.token_urlsafe(32)
    request.state.new_sign_in_csrf = token
    return token


NAV: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("caseload", N_("My caseload"), frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.MANAGER})),
    ("approvals", N_("Approvals"), frozenset({Role.SUPERVISOR})),
    ("actions", N_("Actions"), frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.MANAGER})),
    ("board", N_("Overdue and escalations"), frozenset({Role.SUPERVISOR, Role.MANAGER})),
    ("transfers", N_("Transfers"), frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.MANAGER})),
    ("outcomes", N_("Outcomes"), frozenset({Role.SUPERVISOR, Role.MANAGER, Role.AUDITOR})),
    (
        "dashboard",
        N_("KPI dashboard"),
        frozenset(Role) - {Role.ADMIN, Role.OPERATOR, Role.SYSTEM, Role.PROVIDER},
    ),
    ("audit", N_("Audit"), frozenset({Role.AUDITOR, Role.MANAGER})),
    ("directory", N_("Directory and policy"), frozenset(Role)),
    ("portal", N_("Our referrals"), frozenset({Role.PROVIDER})),
)

HOME: dict[Role, str] = {
    Role.CASEWORKER: "caseload",
    Role.SUPERVISOR: "caseload",
    Role.MANAGER: "board",
    Role.AUDITOR: "audit",
    Role.ADMIN: "directory",
    Role.OPERATOR: "directory",
    Role.SYSTEM: "directory",
    Role.PROVIDER: "portal",
}

PATHS = {
    "caseload": f"{PREFIX}/caseload",
    "approvals": f"{PREFIX}/approvals",
    "actions": f"{PREFIX}/actions",
    "board": f"{PREFIX}/board",
    "transfers": f"{PREFIX}/transfers",
    "outcomes": f"{PREFIX}/outcomes",
    "dashboard": f"{PREFIX}/dashboard",
    "audit": f"{PREFIX}/audit",
    "directory": f"{PREFIX}/directory",
    "portal": f"{PREFIX}/portal",
}


def page(
    request: Request,
    template: str,
    *,
    title: str,
    current: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A console page: the layout with the navigation of the signed-in member's role."""
    principal: Principal | None = getattr(request.state, "principal", None)
    nav = []
    if principal is not None:
        role = principal.actor.role
        nav = [
            (PATHS[key], i18n.gettext(label), key == current)
            for key, label, roles in NAV
            if role in roles
        ]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "principal": principal,
            "nav": nav,
            "csrf": getattr(request.state, "csrf", None),
            "prefix": PREFIX,
            "lang": i18n.current(),
            "dir": i18n.direction(),
            "console_languages": [(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
            "language_setting": getattr(request.state, "language_setting", None),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Content-Language"] = i18n.current()
    return response


def not_for_your_role(request: Request, exc: Exception) -> HTMLResponse:
    """The page of a refusal by the access table (403), its reason in the page's
    language when a catalog has it."""
    return page(
        request,
        "refused.html",
        title=i18n.gettext("Not for your role"),
        message=translated(str(exc)),
        status_code=403,
    )


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def sign_in_redirect(why: str, next_path: str | None) -> Response:
    query = []
    if why:
        query.append(f"why={quote(why)}")
    if next_path and next_path.startswith(f"{PREFIX}/") and not next_path.startswith("//"):
        query.append(f"next={quote(next_path)}")
    target = f"{PREFIX}/sign-in" + ("?" + "&".join(query) if query else "")
    response = redirect(target)
    if why:
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
