"""Verifying the agency's OpenID Connect tokens locally, and who they name.

`OidcVerifier` (one per `Casework`, from `verifier_of(app)`) finds the provider through
its discovery document (`<issuer>/.well-known/openid-configuration`, whose `issuer`
must be the configured one), fetches its signing keys from `jwks_uri` with httpx and
caches them. A token is accepted only when:

* its header's `alg` is on the allow-list (`CASEWORK_OIDC_ALGORITHMS`; `none` and HMAC
  can never be configured), and its signature verifies with a key of the provider's
  JWK Set whose type fits that algorithm (RSA for RS*/PS*, the matching EC curve for
  ES*, Ed25519 for EdDSA): a key is imported as the public key it is, never as an HMAC
  secret, so a token "signed" with the public key as an HMAC secret fails;
* an unknown `kid` refetches the JWK Set once (the provider rotated its keys), and not
  more often than the refetch floor (`CASEWORK_OIDC_JWKS_REFETCH_FLOOR`): a stream of
  made-up kids cannot make Casework hammer the provider;
* `iss` is the configured issuer, `aud` holds the expected audience (and `azp`, when
  present, is the client id), `exp` is in the future and `nbf`/`iat` are not, each
  within the clock skew (`CASEWORK_OIDC_CLOCK_SKEW`), and a `nonce` matches when one
  is expected.

Then the staff directory, not the token, decides: the staff id claim
(`CASEWORK_OIDC_STAFF_ID_CLAIM`, default `sub`; with `CASEWORK_OIDC_EMAIL_FALLBACK`,
the `email` when that claim names nobody) must name an active staff member, whose
role and team make the actor. `authenticate_bearer` does all of it for an API bearer
token. Every refusal is a `NotAuthenticated` whose message says why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import httpx
import structlog
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from application.bootstrap import Casework
from application.identity.account_log import active_actor
from application.identity.errors import NotAuthenticated
from application.identity.principal import Principal
from cases.actors import Actor
from directory import load_staff_directory
from infrastructure.settings import Settings

log = structlog.get_logger("casework.identity.oidc")

HTTP_TIMEOUT = 10.0
"""Seconds for one request to the provider (discovery, keys, token endpoint)."""

MAX_TOKEN_LENGTH = 16_384
"""A longer bearer token is refused before it is parsed."""

ACCEPTED_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt", "application/jwt"})
"""The `typ` headers of ID tokens and JWT access tokens (RFC 9068); others (logout
tokens, security event tokens...) are not sign-ins."""

# The key type (and EC curve) each algorithm needs.
_RSA = ("RSA", None)
KEY_FOR_ALGORITHM: Mapping[str, tuple[str, str | None]] = {
    "RS256": _RSA, "RS384": _RSA, "RS512": _RSA,
    "PS256": _RSA, "PS384": _RSA, "PS512": _RSA,
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}  # fmt: skip

PublicKey = RSAKey | ECKey | OKPKey
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}


class OidcUnavailable(NotAuthenticated):
    """The identity provider could not be reached or answered nonsense: nobody can be
    verified until it is back (the API answers 503 on the sign-in route)."""


@dataclass(frozen=True)
class Discovery:
    """What Casework uses of the provider's discovery document."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None
    token_endpoint: str | None
    device_authorization_endpoint: str | None


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked: its header and claims."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]


@dataclass
class OidcVerifier:
    """The provider's discovery document and keys, cached, and the token checks.

    `monotonic` is the clock of the refetch floor (tests may pass their own); token
    times are checked against the `now` each call is given.
    """

    settings: Settings
    monotonic: Callable[[], float] = time.monotonic
    transport: httpx.AsyncBaseTransport | None = None
    jwks_fetches: int = 0
    """How often the JWK Set was fetched (for operators and tests)."""
    _discovery: Discovery | None = field(default=None, repr=False)
    _keys: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _unnamed: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _fetched_at: float | None = field(default=None, repr=False)
    _discovery_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _keys_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def issuer(self) -> str:
        if self.settings.oidc_issuer is None:
            raise NotAuthenticated("single sign-on is not configured (CASEWORK_OIDC_ISSUER)")
        return self.settings.oidc_issuer

    def http(self) -> httpx.AsyncClient:
        """A client for the provider (no redirects followed: endpoints are exact)."""
        return httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, follow_redirects=False, transport=self.transport
        )

    # --- discovery and keys ---------------------------------------------------------

    async def discovery(self) -> Discovery:
        """The provider's discovery document (fetched once, then kept)."""
        if self._discovery is None:
            async with self._discovery_lock:
                if self._discovery is None:
                    self._discovery = await self._discover()
        return self._discovery

    async def _discover(self) -> Discovery:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url, "the discovery document")
        if document.get("issuer") != self.issuer:
            raise OidcUnavailable(
                f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
                f"not the configured {self.issuer!r} (CASEWORK_OIDC_ISSUER must be exact)"
            )

        def endpoint(name: str, required: bool = False) -> str | None:
            value = document.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise OidcUnavailable(f"the discovery document has no valid {name}")
            return value

        jwks_uri = endpoint("jwks_uri", required=True)
        assert jwks_uri is not None
        return Discovery(
            issuer=self.issuer,
            jwks_uri=jwks_uri,
            authorization_endpoint=endpoint("authorization_endpoint"),
            token_endpoint=endpoint("token_endpoint"),
            device_authorization_endpoint=endpoint("device_authorization_endpoint"),
        )

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self.http() as http:
                answer = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("oidc.provider_unreachable", url=url, error=str(exc))
            raise OidcUnavailable(
                f"the identity provider could not be reached for {what}: {exc}"
            ) from None
        if answer.status_code != 200:
            raise OidcUnavailable(f"{what} at {url} answered HTTP {answer.status_code}")
        try:
            document = answer.json()
        except ValueError:
            raise OidcUnavailable(f"{what} at {url} is not JSON") from None
        if not isinstance(document, dict):
            raise OidcUnavailable(f"{what} at {url} is not a JSON object")
        return cast(dict[str, Any], document)

    async def _fetch_keys(self) -> None:
        discovery = await self.discovery()
        document = await self._get_json(discovery.jwks_uri, "the JWK Set")
        self.jwks_fetches += 1
        self._fetched_at = self.monotonic()
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise OidcUnavailable("the JWK Set has no `keys` list")
        named: dict[str, dict[str, Any]] = {}
        unnamed: list[dict[str, Any]] = []
        for key in keys:
            if not isinstance(key, dict):
                continue
            kid = key.get("kid")
            if isinstance(kid, str):
                named[kid] = key
            else:
                unnamed.append(key)
        self._keys, self._unnamed = named, unnamed
        log.info("oidc.jwks_fetched", kids=sorted(named), fetches=self.jwks_fetches)

    async def _refetch_allowed(self) -> bool:
        """Fetch the keys unless they were fetched less than the floor ago; whether a
        fetch happened (by this call or a concurrent one waited for)."""
        floor = self.settings.oidc_jwks_refetch_floor.total_seconds()
        before = self.jwks_fetches
        async with self._keys_lock:
            if self.jwks_fetches != before:
                return True  # another request fetched them while this one waited
            if self._fetched_at is not None and self.monotonic() - self._fetched_at < floor:
                return False
            await self._fetch_keys()
            return True

    async def _candidates(self, kid: str | None, alg: str) -> list[dict[str, Any]]:
        if self._fetched_at is None:
            await self._refetch_allowed()
        if kid is not None:
            if kid not in self._keys:
                fetched = await self._refetch_allowed()
                if kid not in self._keys:
                    log.info("oidc.unknown_kid", kid=kid, refetched=fetched)
                    why = "" if fetched else " (the keys were fetched moments ago: not again)"
                    raise NotAuthenticated(
                        f"token: signed with key {kid!r}, which the identity provider does "
                        f"not publish{why}"
                    )
            return [self._keys[kid]]
        return [k for k in (*self._keys.values(), *self._unnamed) if _fits(k, alg)]

    # --- tokens ---------------------------------------------------------------------

    async def verify(
        self,
        token: str,
        *,
        audience: str | tuple[str, ...],
        now: datetime,
        nonce: str | None = None,
        client_id: str | tuple[str, ...] | None = None,
    ) -> VerifiedToken:
        """The checked header and claims of `token` for `audience` (or one of several);
        NotAuthenticated with the reason otherwise. `nonce`: the one the authorization
        request sent (required to match). `client_id`: an `azp` claim, if any, must be it
        (or one of them)."""
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise NotAuthenticated("token: unsigned tokens (alg none) are refused")
        if alg not in KEY_FOR_ALGORITHM:  # HS*, or anything without a public key
            raise NotAuthenticated(f"token: algorithm {alg!r} is not accepted (not asymmetric)")
        if alg not in self.settings.oidc_algorithms:
            raise NotAuthenticated(
                f"token: algorithm {alg!r} is not accepted (accepted: "
                f"{', '.join(self.settings.oidc_algorithms)})"
            )
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
            raise NotAuthenticated(f"token: type {typ!r} is not an ID or access token")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise NotAuthenticated("token: the kid header is not a string")
        candidates = await self._candidates(kid, alg)
        fitting = [k for k in candidates if _fits(k, alg)]
        if not fitting:
            raise NotAuthenticated(
                f"token: no {alg} signing key of the identity provider fits it"
                + (f" (key {kid!r} is of another type or use)" if kid else "")
            )
        claims: dict[str, Any] | None = None
        for jwk in fitting:
            try:
                decoded = jwt.decode(token, _public_key(jwk), algorithms=[alg])
            except JoseError:
                continue
            claims = dict(decoded.claims)
            break
        if claims is None:
            raise NotAuthenticated("token: the signature does not verify")
        self._check_claims(claims, audience=audience, now=now, nonce=nonce, client_id=client_id)
        return VerifiedToken(header=header, claims=claims)

    def _check_claims(
        self,
        claims: Mapping[str, Any],
        *,
        audience: str | tuple[str, ...],
        now: datetime,
        nonce: str | None,
        client_id: str | tuple[str, ...] | None,
    ) -> None:
        skew = self.settings.oidc_clock_skew.total_seconds()
        at = now.timestamp()
        if claims.get("iss") != self.issuer:
            raise NotAuthenticated(
                f"token: issuer {claims.get('iss')!r} is not the configured {self.issuer!r}"
            )
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        wanted = (audience,) if isinstance(audience, str) else audience
        if not any(a in audiences for a in wanted):
            expected = " or ".join(repr(a) for a in wanted)
            raise NotAuthenticated(f"token: audience {aud!r} does not include {expected}")
        azp = claims.get("azp")
        clients = (client_id,) if isinstance(client_id, str) else client_id
        if clients is not None and azp is not None and azp not in clients:
            raise NotAuthenticated(f"token: issued to client {azp!r}, not to Casework")
        exp = _number(claims, "exp", required=True)
        assert exp is not None
        if at >= exp + skew:
            raise NotAuthenticated("token: expired (exp is past)")
        nbf = _number(claims, "nbf")
        if nbf is not None and at < nbf - skew:
            raise NotAuthenticated("token: not yet valid (nbf is in the future)")
        iat = _number(claims, "iat")
        if iat is not None and at < iat - skew:
            raise NotAuthenticated("token: issued in the future (iat)")
        if nonce is not None and claims.get("nonce") != nonce:
            raise NotAuthenticated("token: the nonce is not the one of the sign-in request")


def verifier_of(app: Casework) -> OidcVerifier:
    """The verifier kept on `app` (made on first use): its caches live as long as it."""
    held = app.oidc_verifier
    if isinstance(held, OidcVerifier) and held.settings is app.settings:
        return held
    made = OidcVerifier(app.settings)
    app.oidc_verifier = made
    return made


def oidc_configured(settings: Settings) -> bool:
    return settings.oidc_issuer is not None


async def staff_of(app: Casework, claims: Mapping[str, Any]) -> Actor:
    """The active staff member the verified `claims` name (see the module's docstring)."""
    settings = app.settings
    claim = settings.oidc_staff_id_claim
    value = claims.get(claim)
    directory = await load_staff_directory(app.store)
    if isinstance(value, str) and value in directory.members:
        return await _active(app, value, f"{claim} {value!r}")
    fallback = claims.get("email")
    if settings.oidc_email_fallback and isinstance(fallback, str):
        if claims.get("email_verified") is False:
            raise NotAuthenticated(
                f"single sign-on: {claim} {value!r} names no staff member, and the token's "
                "email is not verified by the identity provider"
            )
        if fallback in directory.members:
            return await _active(app, fallback, f"email {fallback!r}")
    if not isinstance(value, str):
        raise NotAuthenticated(f"single sign-on: the token has no {claim!r} claim (a string)")
    tried = f"{claim} {value!r}"
    if settings.oidc_email_fallback and isinstance(fallback, str):
        tried += f" nor email {fallback!r}"
    raise NotAuthenticated(f"single sign-on: {tried} names no staff member of Casework")


async def _active(app: Casework, staff_id: str, named: str) -> Actor:
    try:
        return await active_actor(app, staff_id)
    except NotAuthenticated:
        raise NotAuthenticated(
            f"single sign-on: {named} is a deactivated staff member of Casework"
        ) from None


async def authenticate_bearer(app: Casework, token: str, *, now: datetime) -> Principal:
    """The principal of an API bearer token from the identity provider (a JWT whose
    `aud` is CASEWORK_OIDC_AUDIENCE, else the client id)."""
    settings = app.settings
    audience = settings.oidc_expected_audience
    if not oidc_configured(settings) or audience is None:
        raise NotAuthenticated()
    verified = await verifier_of(app).verify(token, audience=audience, now=now)
    actor = await staff_of(app, verified.claims)
    jti = verified.claims.get("jti")
    credential = jti if isinstance(jti, str) and jti else hashlib.sha256(token.encode()).hexdigest()
    return Principal(actor=actor, method="oidc", credential_id=f"oidc:{credential[:64]}")


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts, the first a JSON object (`eyJ`)."""
    return token.startswith("eyJ") and token.count(".") == 2 and len(token) <= MAX_TOKEN_LENGTH


# --- helpers ----------------------------------------------------------------------------


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise NotAuthenticated("token: too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise NotAuthenticated("token: not a signed JWT (three dot-separated parts)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError):
        raise NotAuthenticated("token: the header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise NotAuthenticated("token: the header is not a JSON object")
    return header


def _number(claims: Mapping[str, Any], name: str, *, required: bool = False) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise NotAuthenticated(f"token: no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotAuthenticated(f"token: the {name} claim is not a number")
    return float(value)


def _fits(jwk: Mapping[str, Any], alg: str) -> bool:
    """Whether `jwk` may verify a signature made with `alg`: its type (and curve) fit,
    it is for signatures (`use`, `key_ops`), and its own `alg`, if any, is `alg`."""
    kty, curve = KEY_FOR_ALGORITHM[alg]
    if jwk.get("kty") != kty or (curve is not None and jwk.get("crv") != curve):
        return False
    if jwk.get("use") not in (None, "sig"):
        return False
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return False
    return jwk.get("alg") in (None, alg)


def _public_key(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key of `jwk` as the asymmetric key it is (private members dropped)."""
    kty = str(jwk["kty"])
    public: dict[str, str | list[str]] = {"kty": kty}
    for member in _PUBLIC_MEMBERS[kty]:
        if isinstance(jwk.get(member), str):
            public[member] = jwk[member]
    try:
        if kty == "RSA":
            return RSAKey.import_key(public)
        if kty == "EC":
            return ECKey.import_key(public)
        return OKPKey.import_key(public)
    except (JoseError, ValueError, TypeError):
        raise NotAuthenticated("token: the identity provider's key is malformed") from None
