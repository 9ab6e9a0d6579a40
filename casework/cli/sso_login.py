"""Single sign-on for the command line: the OAuth 2.0 device authorization grant
(RFC 8628) with the agency's OpenID Connect provider.

`sso_login(issuer, client_id)` (or `device_login`, its async core) finds the provider's
endpoints through discovery, asks for a device code, shows the person the verification
URL and the user code (on the console of casework/cli/output.py), and polls the token
endpoint — every `interval` seconds as the provider asks (5 by default), 5 seconds
more after each `slow_down` — until the person has signed in on another device, then
returns the provider's ID token. `casework login --sso` hands that token to the API
(`POST /api/v1/sessions/oidc`), which verifies it and opens a Casework session; the
CLI never trusts the token itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from casework.cli.output import console, run
from casework.i18n import _
from infrastructure.logs import get_logger

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_SCOPE = "openid email profile"
DEFAULT_INTERVAL = 5
SLOW_DOWN_STEP = 5
HTTP_TIMEOUT = 30.0

log = get_logger(component="sso_login")


class SsoLoginError(Exception):
    """The device flow did not end with a token; the message says why."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the person needs to sign in on another device."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


Sleep = Callable[[float], Awaitable[None]]
Show = Callable[[DeviceAuthorization], None]


def show_on_console(device: DeviceAuthorization) -> None:
    """Tell the person where to go and which code to enter."""
    console.print(
        _(
            "To sign in, open %(url)s and enter the code %(code)s",
            url=f"[bold]{device.verification_uri}[/]",
            code=f"[bold]{device.user_code}[/]",
        ),
        highlight=False,
        soft_wrap=True,
    )
    if device.verification_uri_complete:
        console.print(
            _("(or open %(url)s)", url=device.verification_uri_complete),
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        _(
            "Waiting for you to sign in (the code is valid for %(minutes)s min)...",
            minutes=device.expires_in // 60,
        ),
        highlight=False,
        soft_wrap=True,
    )


async def device_login(
    issuer: str,
    client_id: str,
    *,
    scope: str = DEFAULT_SCOPE,
    show: Show = show_on_console,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The ID token of the person who approves this device flow at `issuer` for the
    public client `client_id`. SsoLoginError when they refuse, the code expires, or the
    provider cannot be used."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, transport=transport) as http:
        endpoints = await _discover(http, issuer)
        device, device_code = await _authorize_device(
            http, endpoints["device_authorization_endpoint"], client_id, scope
        )
        show(device)
        return await _poll(http, endpoints["token_endpoint"], client_id, device, device_code, sleep)


def sso_login(issuer: str, client_id: str, *, scope: str = DEFAULT_SCOPE) -> str:
    """`device_login` for synchronous callers (the Typer command)."""
    return run(device_login(issuer, client_id, scope=scope))


async def _json(answer: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SsoLoginError(
            _(
                "%(what)s answered HTTP %(status)s without JSON",
                what=what,
                status=answer.status_code,
            )
        )
    return body


async def _discover(http: httpx.AsyncClient, issuer: str) -> dict[str, str]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = await _json(await http.get(url), _("the discovery document"))
    except httpx.HTTPError as exc:
        raise SsoLoginError(
            _("the identity provider %(issuer)s cannot be reached: %(error)s", issuer=issuer,
              error=exc)
        ) from None  # fmt: skip
    if document.get("issuer") != issuer:
        raise SsoLoginError(
            _(
                "the discovery document names issuer %(named)s, not %(issuer)s",
                named=repr(document.get("issuer")),
                issuer=repr(issuer),
            )
        )
    endpoints: dict[str, str] = {}
    for name in ("device_authorization_endpoint", "token_endpoint"):
        value = document.get(name)
        if not isinstance(value, str):
            raise SsoLoginError(
                _("the identity provider offers no %(endpoint)s (device flow)", endpoint=name)
            )
        endpoints[name] = value
    return endpoints


async def _authorize_device(
    http: httpx.AsyncClient, url: str, client_id: str, scope: str
) -> tuple[DeviceAuthorization, str]:
    """What to show the person, and the device code (the polling client's secret)."""
    try:
        answer = await http.post(url, data={"client_id": client_id, "scope": scope})
    except httpx.HTTPError as exc:
        raise SsoLoginError(_("the device authorization endpoint: %(error)s", error=exc)) from None
    body = await _json(answer, _("the device authorization endpoint"))
    if answer.status_code != 200:
        raise SsoLoginError(_refused(body.get("error"), body))
    try:
        interval = int(body.get("interval", DEFAULT_INTERVAL))
        device = DeviceAuthorization(
            verification_uri=str(body["verification_uri"]),
            user_code=str(body["user_code"]),
            verification_uri_complete=body.get("verification_uri_complete"),
            expires_in=int(body["expires_in"]),
            interval=max(1, interval),
        )
        device_code = str(body["device_code"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SsoLoginError(
            _("the device authorization answer lacks %(field)s", field=exc)
        ) from None
    return device, device_code


async def _poll(
    http: httpx.AsyncClient,
    url: str,
    client_id: str,
    device: DeviceAuthorization,
    device_code: str,
    sleep: Sleep,
) -> str:
    interval = device.interval
    deadline = time.monotonic() + device.expires_in
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "client_id": client_id}
    while True:
        await sleep(interval)
        if time.monotonic() > deadline:
            raise SsoLoginError(_expired())
        try:
            answer = await http.post(url, data=form)
        except httpx.HTTPError as exc:
            raise SsoLoginError(_("the token endpoint: %(error)s", error=exc)) from None
        body = await _json(answer, _("the token endpoint"))
        if answer.status_code == 200:
            token = body.get("id_token")
            if not isinstance(token, str):
                raise SsoLoginError(_("the identity provider answered without an ID token"))
            return token
        error = body.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            log.info("sso_login.slow_down", interval=interval)
            continue
        if error == "access_denied":
            raise SsoLoginError(_("the sign-in was refused at the identity provider"))
        if error == "expired_token":
            raise SsoLoginError(_expired())
        raise SsoLoginError(_refused(error, body))


def _expired() -> str:
    return _("the code expired before you signed in: run the login again")


def _refused(error: object, body: dict[str, Any]) -> str:
    """The provider's refusal, its error code and description as it gave them."""
    return _(
        "the identity provider refused the device flow: %(error)s %(description)s",
        error=error,
        description=body.get("error_description", ""),
    ).strip()
