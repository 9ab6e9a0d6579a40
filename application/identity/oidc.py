"""Single sign-on with the agency's OpenID Connect provider: the use cases.

* `sign_in_with_id_token(app, id_token, now=...)`: an ID token the caller got from the
  provider (issued to Casework's client id) → a Casework session. `POST
  /api/v1/sessions/oidc` calls it.
* The authorization code flow with PKCE, for the staff console:
  `begin_authorization(app, redirect_uri)` → an `AuthorizationRequest` (send the
  browser to its `url`; keep the rest server-side, tied to the browser, until the
  provider redirects back), then `complete_authorization(app, code=..., redirect_uri=...,
  request=..., returned_state=..., now=...)` → a Casework session: the state and the
  nonce are checked, the code is exchanged at the token endpoint with the PKCE
  verifier (and the client secret of a confidential client), the ID token verified.
* API bearer tokens from the provider are taken by `authenticate` (sessions.py)
  through `jwks.authenticate_bearer`.

How tokens are verified, and how they map to a staff member, is in `jwks.py`. The
session that follows is an ordinary Casework session (method "oidc"): idle and
absolute timeouts, sign-out and deactivation end it as any other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from application.bootstrap import Casework
from application.identity.errors import NotAuthenticated
from application.identity.jwks import OidcUnavailable, log, staff_of, verifier_of
from application.identity.principal import IssuedSession
from application.identity.sessions import sign_in_oidc

DEFAULT_SCOPE = "openid email profile"


@dataclass(frozen=True)
class AuthorizationRequest:
    """A started sign-in: send the browser to `url`; keep the rest (server-side, bound
    to this browser) for `complete_authorization`. Never show the secrets."""

    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str


def _client_id(app: Casework) -> str:
    if app.settings.oidc_issuer is None or app.settings.oidc_client_id is None:
        raise NotAuthenticated(
            "single sign-on is not configured (CASEWORK_OIDC_ISSUER, CASEWORK_OIDC_CLIENT_ID)"
        )
    return app.settings.oidc_client_id


async def sign_in_with_id_token(
    app: Casework,
    id_token: str,
    *,
    now: datetime,
    client: str | None = None,
    nonce: str | None = None,
) -> IssuedSession:
    """A Casework session for the staff member an ID token from the provider names.

    The token must be issued to Casework's client id (`aud`; or to the command line's
    client, CASEWORK_OIDC_CLI_CLIENT_ID, for `casework login --sso`), by the configured
    issuer,
    be current and correctly signed (see jwks.py), and name an active staff member.
    `nonce`, if given, must be the token's. NotAuthenticated (with the reason)
    otherwise; OidcUnavailable when the provider cannot be reached.
    """
    clients: tuple[str, ...] = (_client_id(app),)
    if app.settings.oidc_cli_client_id:
        clients += (app.settings.oidc_cli_client_id,)
    verified = await verifier_of(app).verify(
        id_token, audience=clients, now=now, nonce=nonce, client_id=clients
    )
    actor = await staff_of(app, verified.claims)
    log.info("oidc.sign_in", staff_id=actor.staff_id, subject=verified.claims.get("sub"))
    return await sign_in_oidc(app, actor.staff_id, now=now, client=client)


async def begin_authorization(
    app: Casework, redirect_uri: str, *, scope: str = DEFAULT_SCOPE
) -> AuthorizationRequest:
    """The provider's authorization URL for a sign-in with the code flow and PKCE (S256),
    with a fresh state, nonce and code verifier."""
    client_id = _client_id(app)
    _check_redirect_uri(redirect_uri)
    discovery = await verifier_of(app).discovery()
    if discovery.authorization_endpoint is None:
        raise OidcUnavailable("the identity provider has no authorization_endpoint")
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43-128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if urlsplit(discovery.authorization_endpoint).query else "?"
    return AuthorizationRequest(
        url=f"{discovery.authorization_endpoint}{separator}{query}",
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
    )


async def complete_authorization(
    app: Casework,
    *,
    code: str,
    redirect_uri: str,
    request: AuthorizationRequest,
    returned_state: str,
    now: datetime,
    client: str | None = None,
    returned_issuer: str | None = None,
) -> IssuedSession:
    """Finish the sign-in `request` started, with what the provider sent to the redirect
    URI: `code`, `returned_state` (the `state` parameter) and, if the provider sends one,
    `returned_issuer` (the `iss` parameter, RFC 9207). A Casework session, or
    NotAuthenticated with the reason (the state or nonce does not match, the provider
    refused the code, the ID token or the staff member is refused)."""
    client_id = _client_id(app)
    if not hmac.compare_digest(returned_state.encode(), request.state.encode()):
        raise NotAuthenticated("state: not the one of this sign-in (start again)")
    if redirect_uri != request.redirect_uri:
        raise NotAuthenticated("redirect_uri: not the one this sign-in started with")
    verifier = verifier_of(app)
    if returned_issuer is not None and returned_issuer != verifier.issuer:
        raise NotAuthenticated(
            f"iss: the answer came from {returned_issuer!r}, not the configured issuer"
        )
    if not code or len(code) > 4096:
        raise NotAuthenticated("code: missing or too long")
    discovery = await verifier.discovery()
    if discovery.token_endpoint is None:
        raise OidcUnavailable("the identity provider has no token_endpoint")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": request.code_verifier,
    }
    secret = app.settings.oidc_client_secret
    auth: httpx.BasicAuth | None = None
    if secret is not None:
        auth = httpx.BasicAuth(client_id, secret.get_secret_value())
    else:
        form["client_id"] = client_id
    tokens = await _token_request(verifier.http(), discovery.token_endpoint, form, auth)
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise NotAuthenticated("the identity provider answered without an ID token")
    return await sign_in_with_id_token(app, id_token, now=now, client=client, nonce=request.nonce)


async def _token_request(
    http: httpx.AsyncClient, url: str, form: dict[str, str], auth: httpx.BasicAuth | None
) -> dict[str, Any]:
    try:
        async with http:
            answer = await http.post(
                url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )  # fmt: skip
    except httpx.HTTPError as exc:
        raise OidcUnavailable(f"the identity provider's token endpoint: {exc}") from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OidcUnavailable(f"the token endpoint answered HTTP {answer.status_code}, not JSON")
    if answer.status_code != 200:
        error = body.get("error", "error")
        description = body.get("error_description", "")
        log.info("oidc.code_refused", error=error)
        raise NotAuthenticated(f"code: the identity provider refused it: {error} {description}")
    return body


def _check_redirect_uri(redirect_uri: str) -> None:
    url = urlsplit(redirect_uri)
    if url.scheme not in ("https", "http") or not url.hostname or url.fragment:
        raise NotAuthenticated("redirect_uri: an absolute http(s) URL without a fragment")
