"""Single sign-on's started sign-ins, kept server-side between the redirect to the
identity provider and its redirect back (the staff console's code flow).

`begin_authorization` (oidc.py) makes an `AuthorizationRequest` whose state, nonce and
PKCE code verifier must survive the round trip through the provider without ever
appearing in a URL. `keep_sign_in` stores it in `oidc_pending_sign_ins` and answers a
random key for the browser (the console puts it in an HttpOnly cookie); the table holds
only the key's SHA-256 digest, so reading the table does not let anyone finish a
sign-in. `take_sign_in` hands the request back once: it deletes the row as it reads
it, and a row older than `PENDING_LIFETIME` is not handed back at all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from application.bootstrap import Casework
from application.identity.oidc import AuthorizationRequest

log = structlog.get_logger("casework.identity.sso")

PENDING_LIFETIME = timedelta(minutes=10)
"""How long a started sign-in may take at the provider before its answer is refused."""

KEY_LENGTHS = range(32, 101)
"""Lengths a browser's key may have (keys are 43 characters: 256 bits, base64url)."""


@dataclass(frozen=True)
class PendingSignIn:
    """A started sign-in, as `keep_sign_in` stored it."""

    request: AuthorizationRequest
    next_path: str | None
    created_at: datetime


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def keep_sign_in(
    app: Casework,
    request: AuthorizationRequest,
    *,
    now: datetime,
    next_path: str | None = None,
) -> str:
    """Store the started sign-in `request` (and where to go once signed in) until the
    provider's answer, for `PENDING_LIFETIME`; the key the browser must bring back.
    Sign-ins started long ago and never finished are deleted on the way."""
    key = secrets.token_urlsafe(32)
    async with app.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM oidc_pending_sign_ins WHERE expires_at <= $1", now)
        await conn.execute(
            """INSERT INTO oidc_pending_sign_ins (key_hash, url, state, nonce, code_verifier,
                   redirect_uri, next_path, created_at, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            _digest(key),
            request.url,
            request.state,
            request.nonce,
            request.code_verifier,
            request.redirect_uri,
            next_path,
            now,
            now + PENDING_LIFETIME,
        )
    return key


async def take_sign_in(app: Casework, key: str | None, *, now: datetime) -> PendingSignIn | None:
    """The sign-in started with `key`, removed so that it cannot be used twice; None when
    there is none (never started in this browser, already used, or superseded) or it is
    older than `PENDING_LIFETIME` (then it is removed too)."""
    if not key or len(key) not in KEY_LENGTHS:
        return None
    row = await app.pool.fetchrow(
        """DELETE FROM oidc_pending_sign_ins WHERE key_hash = $1
           RETURNING url, state, nonce, code_verifier, redirect_uri, next_path, created_at,
                     expires_at""",
        _digest(key),
    )
    if row is None:
        return None
    if row["expires_at"] <= now:
        log.info("oidc.pending_sign_in_expired", started_at=row["created_at"].isoformat())
        return None
    return PendingSignIn(
        request=AuthorizationRequest(
            url=row["url"],
            state=row["state"],
            nonce=row["nonce"],
            code_verifier=row["code_verifier"],
            redirect_uri=row["redirect_uri"],
        ),
        next_path=row["next_path"],
        created_at=row["created_at"],
    )


__all__ = ["PENDING_LIFETIME", "PendingSignIn", "keep_sign_in", "take_sign_in"]
