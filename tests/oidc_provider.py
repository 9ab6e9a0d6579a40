"""A real OpenID Connect provider for the tests: panva's `oidc-provider` (npm, pinned in
tools/node/package-lock.json, installed by `make` with `npm ci`; nothing is fetched at
test time) run by tools/node/oidc_provider.mjs on this machine's Node.js.

* `oidc_provider` (session-scoped fixture): one provider for the whole run, on free
  ports, with signing keys the tests made (so a test can also sign a token with a key
  the provider serves, to spoil one claim at a time). Do not rotate its keys: use
  `running_oidc_provider(...)` for a provider of one's own.
* `running_oidc_provider(..., redirect_uris=[...])`: a provider whose console client
  accepts other redirect URIs than `REDIRECT_URI` (the console's browser tests serve the
  console on a free port); the script's `--redirect-uris`.
* `OidcProvider.sign_in(...)`: the authorization code flow as a browser would go
  through it, driven with httpx through the provider's development login and consent
  pages (any login; the password is ignored): the `code` and `state` the provider
  sends to the redirect URI.
* `OidcProvider.approve_device(...)`: the user's side of the device flow.
* `OidcProvider.rotate(...)` swaps the signing keys (the old kids leave the JWK Set);
  `OidcProvider.requests()` counts the requests by path (`/jwks`...).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import ECKey, KeySet, RSAKey

ROOT = Path(__file__).resolve().parent.parent
NODE_TOOLS = ROOT / "tools" / "node"
SCRIPT = NODE_TOOLS / "oidc_provider.mjs"
INSTALLED = NODE_TOOLS / "node_modules" / ".installed"

STARTUP_LIMIT = 90.0
"""Seconds the provider may take to answer its discovery document (a busy machine)."""

CONSOLE_CLIENT = "casework-console"
CONSOLE_SECRET = "casework-console-secret-for-tests"
CLI_CLIENT = "casework-cli"
REDIRECT_URI = "http://127.0.0.1:8000/oidc/callback"
API_AUDIENCE = "https://casework.test/api"
DEVICE_INTERVAL = 1
"""The device flow's polling interval (seconds) the test provider asks for."""


def signing_keys(tag: str) -> KeySet:
    """A private JWK Set of an RSA key (`rsa-<tag>`, RS256) and an EC P-256 key
    (`ec-<tag>`, ES256), for the provider to sign with."""
    return KeySet(
        [
            RSAKey.generate_key(
                2048, parameters={"kid": f"rsa-{tag}", "alg": "RS256", "use": "sig"}
            ),
            ECKey.generate_key(
                "P-256", parameters={"kid": f"ec-{tag}", "alg": "ES256", "use": "sig"}
            ),
        ]
    )


def private_jwks(keys: KeySet) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=True) for key in keys]}


CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": CONSOLE_CLIENT,
        "client_secret": CONSOLE_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    },
    {
        "client_id": CLI_CLIENT,
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": "none",
    },
]


@dataclass
class OidcProvider:
    """A running provider: its issuer, its admin URL, and the keys it signs with."""

    issuer: str
    admin: str
    keys: KeySet
    log_file: Path
    console_client: str = CONSOLE_CLIENT
    console_secret: str = CONSOLE_SECRET
    cli_client: str = CLI_CLIENT
    redirect_uri: str = REDIRECT_URI
    """The console client's first redirect URI (the one the tests use by default)."""
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,)
    """Every redirect URI the console client accepts."""
    api_audience: str = API_AUDIENCE
    retired: list[KeySet] = field(default_factory=list)

    def rotate(self, keys: KeySet) -> list[str]:
        """Sign with `keys` from now on; the previous keys leave the JWK Set. The kids
        the provider now serves."""
        answer = httpx.post(f"{self.admin}/rotate", json=private_jwks(keys), timeout=30)
        answer.raise_for_status()
        self.retired.append(self.keys)
        self.keys = keys
        kids: list[str] = answer.json()["kids"]
        return kids

    def requests(self) -> dict[str, int]:
        """How often each path of the provider was requested so far."""
        answer = httpx.get(f"{self.admin}/requests", timeout=30)
        answer.raise_for_status()
        counts: dict[str, int] = answer.json()
        return counts

    def jwks(self) -> dict[str, Any]:
        served: dict[str, Any] = httpx.get(f"{self.issuer}/jwks", timeout=30).json()
        return served

    async def sign_in(
        self, authorization_url: str, login: str, *, expect_redirect: bool = True
    ) -> dict[str, str]:
        """Follow `authorization_url` as a browser: log in as `login` on the development
        login page, consent, and return the query the provider sends to the redirect
        URI (`code`, `state`, `iss`, or `error`...)."""
        async with httpx.AsyncClient(timeout=30) as browser:
            return await _browse_to_redirect(browser, authorization_url, login, self)

    async def approve_device(self, verification_uri_complete: str, login: str) -> str:
        """The user's side of the device flow: open the verification URL, confirm the
        code, log in as `login`, consent. The text of the provider's last page."""
        async with httpx.AsyncClient(timeout=30) as browser:
            answer = await browser.get(verification_uri_complete)
            final = await _through_interactions(browser, answer, login, self)
            return final.text


@dataclass
class _Form:
    action: str
    fields: dict[str, str]


def _form(html: str, form_id: str | None = None) -> _Form:
    """The action and hidden/prefilled fields of a form of the page."""
    pattern = r"<form\b([^>]*)>(.*?)</form>"
    for attributes, body in re.findall(pattern, html, flags=re.S | re.I):
        if form_id is not None and f'id="{form_id}"' not in attributes:
            continue
        action = re.search(r'action="([^"]*)"', attributes)
        fields: dict[str, str] = {}
        for tag in re.findall(r"<input\b[^>]*>", body, flags=re.I):
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
        return _Form(action.group(1) if action else "", fields)
    raise AssertionError(f"no form {form_id or ''} on the page:\n{html[:2000]}")


async def _through_interactions(
    browser: httpx.AsyncClient, answer: httpx.Response, login: str, provider: OidcProvider
) -> httpx.Response:
    """Follow redirects and fill the login and consent pages until a page that is
    neither (or a redirect off the provider), which is returned."""
    for _ in range(20):
        if answer.is_redirect:
            target = urljoin(str(answer.url), answer.headers["location"])
            if not target.startswith(provider.issuer):
                return answer
            answer = await browser.get(target)
            continue
        page = answer.text
        if 'name="prompt" value="login"' in page:
            form = _form(page)
            form.fields.update(login=login, password="any password: dev interactions")
        elif 'name="prompt" value="consent"' in page:
            form = _form(page)
        elif 'id="op.deviceConfirmForm"' in page:  # "is this the code on your device?"
            form = _form(page, "op.deviceConfirmForm")
        elif "<title>Submitting Callback</title>" in page:  # a form a script would submit
            form = _form(page)
        else:
            return answer
        answer = await browser.post(urljoin(str(answer.url), form.action), data=form.fields)
    raise AssertionError("the provider's pages went round in circles")


async def _browse_to_redirect(
    browser: httpx.AsyncClient, url: str, login: str, provider: OidcProvider
) -> dict[str, str]:
    answer = await _through_interactions(browser, await browser.get(url), login, provider)
    if not answer.is_redirect:
        raise AssertionError(f"the provider did not redirect back:\n{answer.text[:2000]}")
    location = answer.headers["location"]
    assert any(location.startswith(uri) for uri in provider.redirect_uris), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@contextmanager
def running_oidc_provider(
    workdir: Path,
    *,
    keys: KeySet | None = None,
    tag: str = "one",
    redirect_uris: Sequence[str] = (REDIRECT_URI,),
) -> Iterator[OidcProvider]:
    """A provider of its own (free ports), stopped on exit; its log in `workdir`. Its
    console client accepts `redirect_uris` (the first is `OidcProvider.redirect_uri`)."""
    if not redirect_uris or any("," in uri for uri in redirect_uris):
        raise ValueError("redirect_uris: at least one URI, none with a comma")
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (`node`) is needed for the OpenID Connect provider tests")
    if not INSTALLED.exists():
        pytest.fail(
            "oidc-provider is not installed: run `make tools/node/node_modules/.installed` "
            "(npm ci from tools/node/package-lock.json)"
        )
    keys = keys or signing_keys(tag)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "keys.json").write_text(json.dumps(private_jwks(keys)))
    (workdir / "clients.json").write_text(json.dumps(CLIENTS))
    log_file = workdir / "oidc-provider.log"
    ready_file = workdir / "ready.json"
    with log_file.open("wb") as log, ready_file.open("wb") as ready:
        process = subprocess.Popen(
            [
                node,
                str(SCRIPT),
                "--port",
                "0",
                "--admin-port",
                "0",
                "--keys",
                str(workdir / "keys.json"),
                "--clients",
                str(workdir / "clients.json"),
                "--api-audience",
                API_AUDIENCE,
                "--device-interval",
                str(DEVICE_INTERVAL),
                "--redirect-uris",
                ",".join(redirect_uris),
            ],
            stdout=ready,
            stderr=log,
            cwd=NODE_TOOLS,
            env={**os.environ, "NODE_ENV": "test"},
        )
    try:
        started = _wait_until_ready(process, ready_file, log_file)
        yield OidcProvider(
            issuer=started["issuer"],
            admin=f"http://127.0.0.1:{started['admin_port']}",
            keys=keys,
            log_file=log_file,
            redirect_uri=redirect_uris[0],
            redirect_uris=tuple(redirect_uris),
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log_file: Path
) -> dict[str, Any]:
    """The provider's ready line, once its discovery document answers (or fail with its
    log)."""
    deadline = time.monotonic() + STARTUP_LIMIT
    delay = 0.02
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the OIDC provider exited ({process.returncode}):\n{log_file.read_text()}")
        line = ready_file.read_text().strip()
        if line:
            started: dict[str, Any] = json.loads(line.splitlines()[0])
            try:
                answer = httpx.get(
                    f"{started['issuer']}/.well-known/openid-configuration", timeout=5
                )
                if answer.status_code == 200:
                    return started
            except httpx.HTTPError:
                pass
        time.sleep(delay)  # polling for a condition, not a check
        delay = min(delay * 2, 0.5)
    process.kill()
    pytest.fail(f"the OIDC provider did not answer in {STARTUP_LIMIT} s:\n{log_file.read_text()}")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """One provider for the test session (do not rotate its keys)."""
    with running_oidc_provider(tmp_path_factory.mktemp("oidc"), tag="session") as provider:
        yield provider


__all__ = [
    "API_AUDIENCE",
    "CLI_CLIENT",
    "CONSOLE_CLIENT",
    "CONSOLE_SECRET",
    "DEVICE_INTERVAL",
    "REDIRECT_URI",
    "OidcProvider",
    "oidc_provider",
    "private_jwks",
    "running_oidc_provider",
    "signing_keys",
]
