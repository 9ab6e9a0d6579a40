"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node.js,
started by tests/oidc_provider.py): tokens the provider issued (through the code flow
with PKCE or the device flow, driven with httpx through its login and consent pages)
and tokens the test crafts with joserfc to spoil one thing at a time.

Which is which: wrong audience, expired, issued in the future, tampered, unknown and
deactivated staff, key rotation and the email fallback use tokens the provider issued
(times judged by a clock the test sets from the token's own `iat`). Wrong issuer,
`nbf` in the future, `alg: none`, the HMAC token keyed with the provider's public key,
an unverified email and a made-up `kid` are crafted: the provider would never issue
them. Crafted tokens that need a valid signature are signed with the test's private
key that the provider itself serves (tests/oidc_provider.py gives it the key).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import ValidationError

from application.bootstrap import Casework
from application.identity import (
    AuthorizationRequest,
    NotAuthenticated,
    OidcUnavailable,
    OidcVerifier,
    authenticate,
    begin_authorization,
    complete_authorization,
    sign_in_with_id_token,
    verifier_of,
)
from casework.api.app import create_api
from casework.cli.output import console
from casework.cli.sso_login import DeviceAuthorization, SsoLoginError, device_login, show_on_console
from directory import add_staff, deactivate_staff
from events.keys import MasterKeyring
from infrastructure.settings import Settings
from tests import oidc_provider as provider_fixtures
from tests.api.conftest import problem
from tests.identity.conftest import ADA, Secrets, account_events, settings_for
from tests.oidc_provider import (
    API_AUDIENCE,
    CLI_CLIENT,
    CONSOLE_CLIENT,
    CONSOLE_SECRET,
    DEVICE_INTERVAL,
    REDIRECT_URI,
    OidcProvider,
    running_oidc_provider,
    signing_keys,
)

oidc_provider = provider_fixtures.oidc_provider  # the session's provider, as a fixture here


def sso_settings(
    tmp_path: Path, keyring: MasterKeyring, provider: OidcProvider, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": CONSOLE_CLIENT,
        "oidc_client_secret": CONSOLE_SECRET,
        "oidc_cli_client_id": CLI_CLIENT,
        "oidc_audience": API_AUDIENCE,
        **overrides,
    }
    return settings_for(tmp_path, keyring, **values)


@pytest.fixture
def sso(
    app: Casework, oidc_provider: OidcProvider, tmp_path: Path, master_keyring: MasterKeyring
) -> Casework:
    """The identity tests' Casework (ada, sam and cal of team north) with single sign-on
    configured for the session's provider."""
    return replace(
        app, settings=sso_settings(tmp_path, master_keyring, oidc_provider), oidc_verifier=None
    )


@dataclass
class Tokens:
    id_token: str
    access_token: str
    request: AuthorizationRequest
    callback: dict[str, str]

    @property
    def issued_at(self) -> datetime:
        """The provider's `iat`: the tests' clock is set from it."""
        return datetime.fromtimestamp(claims_of(self.id_token)["iat"], UTC)


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token, unverified (to read `iat`, or to tamper with them)."""
    payload = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return loaded


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def provider_tokens(app: Casework, provider: OidcProvider, login: str) -> Tokens:
    """Tokens the provider issues to the console client after `login` signs in: the code
    flow with PKCE run by hand (so the tokens themselves can be inspected)."""
    request = await begin_authorization(app, provider.redirect_uri)
    callback = await provider.sign_in(request.url, login)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": provider.redirect_uri,
                "code_verifier": request.code_verifier,
            },
            auth=(CONSOLE_CLIENT, CONSOLE_SECRET),
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Tokens(body["id_token"], body["access_token"], request, callback)


def crafted(
    provider: OidcProvider,
    now: datetime,
    *,
    header: dict[str, Any] | None = None,
    key: Any = None,
    **claims: Any,
) -> str:
    """An ID token for cal signed with the provider's own RSA key (kid rsa-...), with
    `claims` changed (None removes one)."""
    rsa = next(k for k in provider.keys if k.key_type == "RSA")
    body: dict[str, Any] = {
        "iss": provider.issuer,
        "aud": CONSOLE_CLIENT,
        "sub": "cal",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 300,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(header or {"alg": "RS256", "kid": rsa.kid}, body, key or rsa)


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """A JWT "signed" with HMAC-SHA256 under `secret`."""
    signing_input = f"{b64(header)}.{b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def refused(app: Casework, token: str, now: datetime, reason: str) -> None:
    with pytest.raises(NotAuthenticated, match=reason):
        await sign_in_with_id_token(app, token, now=now)


# --- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithms", ["none", "HS256", "RS256,HS512", "", "RS1"])
def test_unsafe_or_unknown_algorithms_cannot_be_configured(algorithms: str) -> None:
    with pytest.raises(ValidationError, match="oidc_algorithms"):
        Settings(oidc_algorithms=algorithms)


def test_single_sign_on_needs_a_client_id_and_a_safe_issuer() -> None:
    with pytest.raises(ValidationError, match="CASEWORK_OIDC_CLIENT_ID"):
        Settings(oidc_issuer="https://idp.example")
    with pytest.raises(ValidationError, match="https://"):
        Settings(oidc_issuer="http://idp.example", oidc_client_id="c")
    settings = Settings(oidc_issuer="https://idp.example", oidc_client_id="c")
    assert settings.oidc_algorithms == ("RS256", "ES256", "PS256")
    assert settings.oidc_clock_skew == timedelta(seconds=60)
    assert settings.oidc_jwks_refetch_floor == timedelta(seconds=60)
    assert settings.oidc_staff_id_claim == "sub" and settings.oidc_email_fallback is False
    assert settings.oidc_expected_audience == "c"
    assert Settings().oidc_issuer is None


# --- tokens the provider issued --------------------------------------------------------


async def test_a_provider_id_token_signs_in_and_the_directory_decides_the_role(
    sso: Casework, oidc_provider: OidcProvider, secrets_used: Secrets
) -> None:
    tokens = await provider_tokens(sso, oidc_provider, "cal")
    now = tokens.issued_at
    session = await sign_in_with_id_token(sso, tokens.id_token, now=now, client="console")
    secrets_used.add(session.token, tokens.id_token, tokens.access_token)
    principal = await authenticate(sso, session.token, now=now)
    assert principal.method == "oidc" and principal.actor.staff_id == "cal"
    assert (principal.actor.role, principal.actor.team) == ("caseworker", "north")
    *_, (kind, data, actor) = await account_events(sso, "cal")
    assert (kind, actor, data["method"]) == ("SignInSucceeded", "cal", "oidc")


async def test_a_provider_access_token_is_a_bearer_for_the_api_audience_only(
    sso: Casework, oidc_provider: OidcProvider, secrets_used: Secrets
) -> None:
    tokens = await provider_tokens(sso, oidc_provider, "sam")
    secrets_used.add(tokens.id_token, tokens.access_token)
    now = tokens.issued_at
    principal = await authenticate(sso, tokens.access_token, now=now)
    assert principal.method == "oidc" and principal.actor.staff_id == "sam"
    assert principal.actor.role == "supervisor"
    assert principal.credential_id == f"oidc:{claims_of(tokens.access_token)['jti']}"
    # The ID token's audience is the console client, not the API: no bearer.
    with pytest.raises(NotAuthenticated, match="audience 'casework-console' does not include"):
        await authenticate(sso, tokens.id_token, now=now)
    # An API access token is no ID token for signing in (wrong audience) either.
    await refused(sso, tokens.access_token, now, f"audience '{API_AUDIENCE}'")
    # Without single sign-on configured, a JWT is no credential at all.
    with pytest.raises(NotAuthenticated, match="not signed in"):
        await authenticate(replace(sso, settings=Settings()), tokens.access_token, now=now)


async def test_provider_tokens_outside_their_lifetime_are_refused(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    tokens = await provider_tokens(sso, oidc_provider, "cal")
    claims = claims_of(tokens.id_token)
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    issued = tokens.issued_at
    skew = timedelta(seconds=60)
    # Within the skew either side: accepted.
    await sign_in_with_id_token(sso, tokens.id_token, now=expires + skew - timedelta(seconds=1))
    await sign_in_with_id_token(sso, tokens.id_token, now=issued - skew + timedelta(seconds=1))
    await refused(sso, tokens.id_token, expires + skew, "expired")
    await refused(
        sso, tokens.id_token, issued - skew - timedelta(seconds=1), "issued in the future"
    )
    with pytest.raises(NotAuthenticated, match="expired"):
        await authenticate(sso, tokens.access_token, now=expires + timedelta(hours=1))


async def test_tampered_provider_tokens_are_refused(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    tokens = await provider_tokens(sso, oidc_provider, "cal")
    now = tokens.issued_at
    header, payload, signature = tokens.id_token.split(".")
    as_ada = {**claims_of(tokens.id_token), "sub": "ada"}  # cal promotes herself to admin
    await refused(sso, f"{header}.{b64(as_ada)}.{signature}", now, "signature does not verify")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    await refused(sso, f"{header}.{payload}.{flipped}", now, "signature does not verify")
    await refused(sso, f"{header}.{payload}.", now, "signature does not verify")
    await refused(sso, "eyJ.not.json", now, "header is not")
    await sign_in_with_id_token(sso, tokens.id_token, now=now)  # the untouched one passes


async def test_unknown_and_deactivated_staff_are_refused_whatever_the_token(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    stranger = await provider_tokens(sso, oidc_provider, "zoe")
    await refused(sso, stranger.id_token, stranger.issued_at, "sub 'zoe' names no staff member")
    with pytest.raises(NotAuthenticated, match="names no staff member"):
        await authenticate(sso, stranger.access_token, now=stranger.issued_at)

    tokens = await provider_tokens(sso, oidc_provider, "cal")
    session = await sign_in_with_id_token(sso, tokens.id_token, now=tokens.issued_at)
    await deactivate_staff(sso.store, ADA, "cal", "left the agency")
    await refused(sso, tokens.id_token, tokens.issued_at, "'cal' is a deactivated staff member")
    with pytest.raises(NotAuthenticated, match="deactivated"):
        await authenticate(sso, tokens.access_token, now=tokens.issued_at)
    with pytest.raises(NotAuthenticated):  # the earlier SSO session ends with her too
        await authenticate(sso, session.token, now=tokens.issued_at)


async def test_the_email_fallback_is_an_explicit_opt_in(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    # lee's staff id is her email; the provider's subject for her is just "lee".
    await add_staff(sso.store, ADA, "lee@staff.example", "Lee Li", "caseworker", "north")
    tokens = await provider_tokens(sso, oidc_provider, "lee")
    now = tokens.issued_at
    assert claims_of(tokens.id_token)["email"] == "lee@staff.example"
    await refused(sso, tokens.id_token, now, "sub 'lee' names no staff member")
    fallback = replace(sso, settings=sso.settings.model_copy(update={"oidc_email_fallback": True}))
    session = await sign_in_with_id_token(fallback, tokens.id_token, now=now)
    assert session.staff_id == "lee@staff.example"
    # An address the provider says it did not verify is never used.
    unverified = crafted(
        oidc_provider, now, sub="lee", email="lee@staff.example", email_verified=False
    )
    await refused(fallback, unverified, now, "email is not verified")
    # Another claim can be the staff id.
    by_name = replace(
        sso, settings=sso.settings.model_copy(update={"oidc_staff_id_claim": "email"})
    )
    assert (await sign_in_with_id_token(by_name, tokens.id_token, now=now)).staff_id == (
        "lee@staff.example"
    )


# --- tokens the test crafted ------------------------------------------------------------

NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


async def test_crafted_tokens_with_good_signatures_and_bad_claims_are_refused(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    good = crafted(oidc_provider, NOW)
    assert (await sign_in_with_id_token(sso, good, now=NOW)).staff_id == "cal"
    cases: dict[str, dict[str, Any]] = {
        "issuer 'https://evil.example' is not the configured": {"iss": "https://evil.example"},
        "audience 'someone-else' does not include": {"aud": "someone-else"},
        "audience None": {"aud": None},
        "not yet valid": {"nbf": int(NOW.timestamp()) + 120},
        "expired": {"exp": int(NOW.timestamp()) - 61},
        "no exp claim": {"exp": None},
        "exp claim is not a number": {"exp": "tomorrow"},
        "issued to client 'other'": {"aud": [CONSOLE_CLIENT, "other"], "azp": "other"},
        "no 'sub' claim": {"sub": None},
    }
    for reason, claims in cases.items():
        await refused(sso, crafted(oidc_provider, NOW, **claims), NOW, reason)
    # Within the skew, nbf and exp pass.
    near: dict[str, Any] = {"nbf": int(NOW.timestamp()) + 59, "exp": int(NOW.timestamp()) - 59}
    await sign_in_with_id_token(sso, crafted(oidc_provider, NOW, **near), now=NOW)
    # A logout token (or any other type) is no sign-in.
    logout = crafted(oidc_provider, NOW, header={"alg": "RS256", "typ": "logout+jwt"})
    await refused(sso, logout, NOW, "type 'logout\\+jwt' is not")


async def test_unsigned_and_hmac_tokens_are_refused(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    rsa = next(k for k in oidc_provider.keys if k.key_type == "RSA")
    claims = claims_of(crafted(oidc_provider, NOW))
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'kid': rsa.kid})}.{b64(claims)}."
        await refused(sso, unsigned, NOW, "alg none")
    # HS256 keyed with the provider's public key, in every form an attacker might use
    # (made by hand: joserfc itself refuses to make an HMAC key of a public key).
    served = next(k for k in oidc_provider.jwks()["keys"] if k["kid"] == rsa.kid)
    public_pem = RSAKey.import_key(served).as_pem(private=False)
    for secret in (public_pem, json.dumps(served).encode(), served["n"].encode()):
        for header in ({"alg": "HS256", "kid": rsa.kid}, {"alg": "HS256"}):
            token = hmac_token(header, claims, secret)
            await refused(sso, token, NOW, "algorithm 'HS256' is not accepted")
    # Even were HS256 somehow allowed, it has no public key to verify it with.
    lax = OidcVerifier(
        sso.settings.model_copy(update={"oidc_algorithms": ("RS256", "ES256", "HS256")})
    )
    token = hmac_token({"alg": "HS256", "kid": rsa.kid}, claims, public_pem)
    with pytest.raises(NotAuthenticated, match="not asymmetric"):
        await lax.verify(token, audience=CONSOLE_CLIENT, now=NOW)
    # A key only verifies the algorithms of its type.
    ec_header = {"alg": "ES256", "kid": rsa.kid}
    with pytest.raises(NotAuthenticated, match="key 'rsa-session' is of another type"):
        await verifier_of(sso).verify(
            f"{b64(ec_header)}.{b64(claims)}.c2ln", audience=CONSOLE_CLIENT, now=NOW
        )
    # ES256 with the provider's EC key is on the default allow-list; PS384 is not.
    ec = next(k for k in oidc_provider.keys if k.key_type == "EC")
    by_ec = jwt.encode({"alg": "ES256", "kid": ec.kid}, claims, ec)
    assert (await sign_in_with_id_token(sso, by_ec, now=NOW)).staff_id == "cal"
    unpinned = RSAKey.import_key({k: v for k, v in rsa.as_dict(private=True).items() if k != "alg"})
    ps384 = jwt.encode({"alg": "PS384", "kid": rsa.kid}, claims, unpinned, algorithms=["PS384"])
    await refused(sso, ps384, NOW, "algorithm 'PS384' is not accepted")


# --- key rotation and the JWKS cache ----------------------------------------------------


class Monotonic:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def own_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """A provider of this test's own: its keys get rotated."""
    with running_oidc_provider(tmp_path_factory.mktemp("oidc-own"), tag="one") as provider:
        yield provider


async def test_key_rotation_refetches_once_and_not_more_often_than_the_floor(
    app: Casework, own_provider: OidcProvider, tmp_path: Path, master_keyring: MasterKeyring
) -> None:
    sso = replace(app, settings=sso_settings(tmp_path, master_keyring, own_provider))
    clock = Monotonic()
    verifier = OidcVerifier(sso.settings, monotonic=clock)
    sso.oidc_verifier = verifier
    assert verifier_of(sso) is verifier

    before = await provider_tokens(sso, own_provider, "cal")
    assert json.loads(base64.urlsafe_b64decode(before.id_token.split(".")[0] + "=="))["kid"] == (
        "rsa-one"
    )
    await sign_in_with_id_token(sso, before.id_token, now=before.issued_at)
    assert verifier.jwks_fetches == 1 and own_provider.requests()["/jwks"] == 1

    assert own_provider.rotate(signing_keys("two")) == ["rsa-two", "ec-two"]
    after = await provider_tokens(sso, own_provider, "sam")
    assert claims_of(after.id_token)["sub"] == "sam"
    # Some time after the last fetch (a rotation is no more frequent than the floor),
    # kid rsa-two is unknown to the cache: one refetch, then accepted.
    clock.at += sso.settings.oidc_jwks_refetch_floor.total_seconds()
    session = await sign_in_with_id_token(sso, after.id_token, now=after.issued_at)
    assert session.staff_id == "sam"
    assert verifier.jwks_fetches == 2 and own_provider.requests()["/jwks"] == 2
    # The retired key's tokens are refused, and within the floor nothing is fetched.
    await refused(sso, before.id_token, before.issued_at, "'rsa-one', which the identity")
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-made-up"})
    made_up = crafted(
        own_provider, NOW, header={"alg": "RS256", "kid": "rsa-made-up"}, key=stranger
    )
    await refused(sso, made_up, NOW, "fetched moments ago")
    assert verifier.jwks_fetches == 2 and own_provider.requests()["/jwks"] == 2
    # Concurrent unknown kids within the floor: still no fetch.
    results = await asyncio.gather(
        *(sign_in_with_id_token(sso, made_up, now=NOW) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, NotAuthenticated) for r in results)
    assert own_provider.requests()["/jwks"] == 2
    # Past the floor, an unknown kid may refetch once more (and is still refused).
    clock.at += sso.settings.oidc_jwks_refetch_floor.total_seconds()
    await refused(sso, made_up, NOW, "which the identity provider does not publish")
    assert verifier.jwks_fetches == 3 and own_provider.requests()["/jwks"] == 3
    # Known kids never fetch.
    await sign_in_with_id_token(sso, after.id_token, now=after.issued_at)
    assert own_provider.requests()["/jwks"] == 3


async def test_a_provider_that_is_down_or_names_another_issuer_is_unavailable(
    app: Casework, oidc_provider: OidcProvider, tmp_path: Path, master_keyring: MasterKeyring
) -> None:
    other = replace(
        app,
        settings=sso_settings(
            tmp_path, master_keyring, oidc_provider, oidc_issuer=oidc_provider.issuer + "/"
        ),
    )
    with pytest.raises(OidcUnavailable, match="names issuer"):
        await sign_in_with_id_token(other, crafted(oidc_provider, NOW), now=NOW)
    down = replace(
        app,
        settings=sso_settings(
            tmp_path, master_keyring, oidc_provider, oidc_issuer="http://127.0.0.1:9"
        ),
    )
    with pytest.raises(OidcUnavailable, match="could not be reached"):
        await sign_in_with_id_token(down, crafted(oidc_provider, NOW), now=NOW)


# --- the code flow with PKCE (the console's use cases) ---------------------------------


async def test_the_code_flow_with_pkce_end_to_end(
    sso: Casework, oidc_provider: OidcProvider, secrets_used: Secrets
) -> None:
    request = await begin_authorization(sso, REDIRECT_URI)
    assert request.url.startswith(f"{oidc_provider.issuer}/auth?")
    assert "code_challenge_method=S256" in request.url and request.code_verifier not in request.url
    assert request.code_verifier not in repr(request) and request.nonce in request.url
    callback = await oidc_provider.sign_in(request.url, "cal")
    assert callback["state"] == request.state and callback["iss"] == oidc_provider.issuer
    session = await complete_authorization(
        sso,
        code=callback["code"],
        redirect_uri=REDIRECT_URI,
        request=request,
        returned_state=callback["state"],
        returned_issuer=callback["iss"],
        now=datetime.now(UTC),
        client="203.0.113.5 console",
    )
    secrets_used.add(session.token)
    assert session.staff_id == "cal"
    principal = await authenticate(sso, session.token, now=datetime.now(UTC))
    assert principal.method == "oidc"
    # The code was used: the provider refuses it a second time.
    with pytest.raises(NotAuthenticated, match="refused it: invalid_grant"):
        await complete_authorization(
            sso, code=callback["code"], redirect_uri=REDIRECT_URI, request=request,
            returned_state=callback["state"], now=datetime.now(UTC),
        )  # fmt: skip


async def test_the_code_flow_checks_state_verifier_nonce_and_issuer(
    sso: Casework, oidc_provider: OidcProvider
) -> None:
    request = await begin_authorization(sso, REDIRECT_URI)
    callback = await oidc_provider.sign_in(request.url, "cal")
    now = datetime.now(UTC)

    async def complete(req: AuthorizationRequest, **kw: Any) -> None:
        args: dict[str, Any] = {
            "code": callback["code"], "redirect_uri": REDIRECT_URI,
            "returned_state": callback["state"], "now": now, **kw,
        }  # fmt: skip
        await complete_authorization(sso, request=req, **args)

    with pytest.raises(NotAuthenticated, match="state: not the one"):
        await complete(request, returned_state="forged-state")
    with pytest.raises(NotAuthenticated, match="redirect_uri"):
        await complete(request, redirect_uri="https://elsewhere.example/cb")
    with pytest.raises(NotAuthenticated, match="iss: the answer came from"):
        await complete(request, returned_issuer="https://evil.example")
    # A wrong PKCE verifier: the provider refuses the code (and burns it).
    with pytest.raises(NotAuthenticated, match="invalid_grant"):
        await complete(replace(request, code_verifier="x" * 64))

    # The nonce: an ID token from another sign-in's request is refused.
    other = await begin_authorization(sso, REDIRECT_URI)
    second = await oidc_provider.sign_in(other.url, "cal")
    with pytest.raises(NotAuthenticated, match="nonce"):
        await complete_authorization(
            sso, code=second["code"], redirect_uri=REDIRECT_URI,
            request=replace(other, nonce=request.nonce), returned_state=second["state"], now=now,
        )  # fmt: skip


# --- the HTTP API -----------------------------------------------------------------------


@pytest.fixture
async def api(sso: Casework) -> AsyncIterator[tuple[httpx.AsyncClient, list[datetime]]]:
    """The API over `sso`, with a clock the test sets (`clock[0]`)."""
    clock = [NOW]
    server = create_api(sso.settings.model_copy(update={"metrics_port": 0}), casework=sso,
                        clock=lambda: clock[0])  # fmt: skip
    transport = httpx.ASGITransport(app=server)
    async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
        yield http, clock


async def test_the_api_exchanges_an_id_token_for_a_session(
    sso: Casework,
    oidc_provider: OidcProvider,
    api: tuple[httpx.AsyncClient, list[datetime]],
    secrets_used: Secrets,
) -> None:
    http, clock = api
    tokens = await provider_tokens(sso, oidc_provider, "cal")
    clock[0] = tokens.issued_at
    answer = await http.post("/api/v1/sessions/oidc", json={"id_token": tokens.id_token})
    assert answer.status_code == 201, answer.text
    session = answer.json()
    secrets_used.add(session["token"])
    assert set(session) == {"token", "session_id", "expires_at"}
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.json() == {"staff_id": "cal", "role": "caseworker", "team": "north", "method": "oidc"}
    # The provider's access token is a bearer of its own.
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200 and me.json()["method"] == "oidc"

    # Refusals are problem documents that say why.
    body = problem(
        await http.post("/api/v1/sessions/oidc", json={"id_token": tokens.access_token}), 401
    )
    assert "audience" in body["detail"]
    clock[0] = tokens.issued_at + timedelta(hours=2)
    body = problem(
        await http.post("/api/v1/sessions/oidc", json={"id_token": tokens.id_token}), 401
    )
    assert "expired" in body["detail"]
    body = problem(await http.post("/api/v1/sessions/oidc", json={"token": "x"}), 422)
    assert {e["field"] for e in body["errors"]} == {"id_token", "token"}


async def test_the_api_says_when_sso_is_off_or_the_provider_is_down(
    app: Casework, oidc_provider: OidcProvider, tmp_path: Path, master_keyring: MasterKeyring
) -> None:
    token = crafted(oidc_provider, NOW)
    off = create_api(Settings(metrics_port=0), casework=app, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=off), base_url="http://casework.test"
    ) as http:
        problem(await http.post("/api/v1/sessions/oidc", json={"id_token": token}), 404)
    down = replace(
        app,
        settings=sso_settings(
            tmp_path, master_keyring, oidc_provider, oidc_issuer="http://127.0.0.1:9"
        ),
    )
    server = create_api(
        down.settings.model_copy(update={"metrics_port": 0}), casework=down, clock=lambda: NOW
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server), base_url="http://casework.test"
    ) as http:
        answer = await http.post("/api/v1/sessions/oidc", json={"id_token": token})
        assert problem(answer, 503)["title"] == "Identity provider unavailable"


# --- the device flow (the CLI's `casework login --sso`) --------------------------------


async def test_the_device_flow_returns_an_id_token_that_signs_in(
    sso: Casework,
    oidc_provider: OidcProvider,
    api: tuple[httpx.AsyncClient, list[datetime]],
    secrets_used: Secrets,
) -> None:
    shown: list[DeviceAuthorization] = []
    delays: list[float] = []
    approved = asyncio.Event()

    def show(device: DeviceAuthorization) -> None:
        shown.append(device)
        with console.capture() as printed:
            show_on_console(device)
        text = printed.get()
        assert device.verification_uri in text and device.user_code in text

    async def sleep(seconds: float) -> None:
        """The first two polls come at once (the second too soon: slow_down); before
        the third, the person approves and the provider's interval really passes."""
        delays.append(seconds)
        if len(delays) == 3:
            assert shown[0].verification_uri_complete is not None
            page = await oidc_provider.approve_device(shown[0].verification_uri_complete, "cal")
            assert "Sign-in Success" in page, page
            approved.set()
            await asyncio.sleep(DEVICE_INTERVAL)  # the provider's minimum gap between polls

    polls_before = oidc_provider.requests().get("/token", 0)
    id_token = await asyncio.wait_for(
        device_login(oidc_provider.issuer, CLI_CLIENT, sleep=sleep, show=show), timeout=120
    )
    assert approved.is_set()
    assert delays == [DEVICE_INTERVAL, DEVICE_INTERVAL, DEVICE_INTERVAL + 5]
    assert oidc_provider.requests()["/token"] - polls_before == 3
    assert shown[0].interval == DEVICE_INTERVAL
    claims = claims_of(id_token)
    assert (claims["sub"], claims["aud"]) == ("cal", CLI_CLIENT)

    http, clock = api
    clock[0] = datetime.fromtimestamp(claims["iat"], UTC)
    answer = await http.post("/api/v1/sessions/oidc", json={"id_token": id_token})
    assert answer.status_code == 201, answer.text
    secrets_used.add(answer.json()["token"])


async def test_the_device_flow_reports_a_refusal_and_a_wrong_provider(
    oidc_provider: OidcProvider,
) -> None:
    shown: list[DeviceAuthorization] = []

    async def sleep(seconds: float) -> None:
        if len(shown) == 1:
            async with httpx.AsyncClient(timeout=30) as browser:
                assert shown[0].verification_uri_complete is not None
                page = await browser.get(shown[0].verification_uri_complete)
                hidden = r'<input type="hidden" name="([^"]+)" value="([^"]*)"'
                fields = dict(re.findall(hidden, page.text))
                await browser.post(
                    f"{oidc_provider.issuer}/device", data={**fields, "abort": "yes"}
                )
            shown.append(shown[0])
        await asyncio.sleep(DEVICE_INTERVAL)

    with pytest.raises(SsoLoginError, match="refused at the identity provider"):
        await asyncio.wait_for(
            device_login(oidc_provider.issuer, CLI_CLIENT, sleep=sleep, show=shown.append),
            timeout=120,
        )
    with pytest.raises(SsoLoginError, match="names issuer"):
        await device_login(oidc_provider.issuer + "/", CLI_CLIENT, show=shown.append)
    with pytest.raises(SsoLoginError, match=r"unauthorized_client|invalid_client"):
        await device_login(oidc_provider.issuer, CONSOLE_CLIENT, show=shown.append)
