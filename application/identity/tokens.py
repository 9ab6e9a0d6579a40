"""Personal access tokens: for scripts, made by a signed-in staff member for themselves.

A token (`cwp_…`) is shown once; Casework keeps its SHA-256 digest, its name, its
expiry and when it was last used (written at most once a minute). It acts as its
owner with their current role, until it expires or is revoked (by its owner, or by
an admin), and stops at once when the owner is deactivated. A token cannot make
another token: that takes a session.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from application.bootstrap import Casework
from application.identity.account_log import active_actor, policy_of, record
from application.identity.credentials import digest, new_access_token
from application.identity.errors import NotAuthenticated, SecondFactorEnrolmentRequired
from application.identity.principal import AccessTokenInfo, IssuedToken, Principal
from directory import NotFound, NotPermitted, Refused
from directory.account_rules import (
    decide_create_access_token,
    due_for_touch,
    may_revoke_token,
    token_end,
    totp_required,
)
from events.directory_events import AccessTokenRevoked, SecondFactor

_COLUMNS = "token_id, staff_id, name, created_at, expires_at, last_used_at, revoked_at"


async def create_access_token(
    app: Casework,
    principal: Principal,
    name: str,
    expires_in: timedelta,
    *,
    now: datetime,
) -> IssuedToken:
    """A new personal access token of the principal's own, valid for `expires_in`.

    Only from a session (NotPermitted for a token). Refused naming `expires_in`
    (not positive, or beyond the maximum); EventValidationError naming `name`.
    """
    if principal.method == "token":
        raise NotPermitted("an access token cannot create another: sign in to create one")
    if principal.enrolment_only:
        raise SecondFactorEnrolmentRequired()
    staff_id = principal.actor.staff_id
    token_id = str(uuid.uuid4())
    event = decide_create_access_token(
        staff_id, token_id, name, expires_in, now=now, policy=policy_of(app.settings)
    )
    session = await app.pool.fetchrow(
        "SELECT method, second_factor FROM staff_sessions WHERE session_id = $1",
        uuid.UUID(principal.credential_id),
    )
    second_factor = session is not None and (
        session["method"] == "oidc" or session["second_factor"] == SecondFactor.TOTP.value
    )
    await record(app, staff_id, principal.actor, lambda _state: [event], now=now)
    token = new_access_token()
    await app.pool.execute(
        """INSERT INTO staff_access_tokens
               (token_id, staff_id, name, token_hash, second_factor, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        uuid.UUID(token_id),
        staff_id,
        event.name,
        digest(token),
        second_factor,
        now,
        event.expires_at,
    )
    return IssuedToken(token_id=token_id, name=event.name, token=token, expires_at=event.expires_at)


async def revoke_access_token(
    app: Casework, principal: Principal, token_id: str, *, now: datetime
) -> None:
    """Revoke a token at once: one's own, or (an admin) anyone's.

    NotFound when there is no such token the principal may revoke; Refused when it
    is revoked already.
    """
    if principal.enrolment_only:
        raise SecondFactorEnrolmentRequired()
    row = await _token_row(app, token_id)
    if row is None or not may_revoke_token(principal.actor, row["staff_id"]):
        raise NotFound(f"token_id: no access token {token_id!r} of yours")
    revoked = await app.pool.fetchval(
        """UPDATE staff_access_tokens SET revoked_at = $2
            WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_id""",
        row["token_id"],
        now,
    )
    if revoked is None:
        raise Refused(f"token_id: {token_id} is revoked already")
    owner: str = row["staff_id"]
    await record(
        app,
        owner,
        principal.actor,
        lambda _state: [AccessTokenRevoked(staff_id=owner, token_id=str(row["token_id"]))],
        now=now,
    )


async def list_access_tokens(
    app: Casework, principal: Principal, *, staff_id: str | None = None
) -> list[AccessTokenInfo]:
    """The principal's tokens (an admin may name another `staff_id`), newest first."""
    owner = staff_id or principal.actor.staff_id
    if not may_revoke_token(principal.actor, owner):
        raise NotPermitted(f"{principal.actor.staff_id} may not list {owner}'s access tokens")
    rows = await app.pool.fetch(
        f"""SELECT {_COLUMNS} FROM staff_access_tokens WHERE staff_id = $1
             ORDER BY created_at DESC, token_id""",
        owner,
    )
    return [
        AccessTokenInfo(
            token_id=str(r["token_id"]),
            staff_id=r["staff_id"],
            name=r["name"],
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            last_used_at=r["last_used_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]


async def authenticate_access_token(app: Casework, token: str, *, now: datetime) -> Principal:
    """The principal of a personal access token (see `sessions.authenticate`)."""
    row = await app.pool.fetchrow(
        """SELECT token_id, staff_id, expires_at, revoked_at, last_used_at, second_factor
             FROM staff_access_tokens WHERE token_hash = $1""",
        digest(token),
    )
    if row is None:
        raise NotAuthenticated()
    ended = token_end(expires_at=row["expires_at"], revoked_at=row["revoked_at"], now=now)
    if ended is not None:
        raise NotAuthenticated(f"the access token is {ended}: create a new one")
    actor = await active_actor(app, row["staff_id"])
    if totp_required(actor.role, policy_of(app.settings)) and not row["second_factor"]:
        raise NotAuthenticated(
            "admins' access tokens must be created from a session signed in with TOTP"
        )
    last = row["last_used_at"]
    if last is None or due_for_touch(last, now):
        await app.pool.execute(
            """UPDATE staff_access_tokens SET last_used_at = $2
                WHERE token_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)""",
            row["token_id"],
            now,
        )
    return Principal(actor=actor, method="token", credential_id=str(row["token_id"]))


async def _token_row(app: Casework, token_id: str) -> asyncpg.Record | None:
    try:
        key = uuid.UUID(token_id)
    except ValueError:
        return None
    row: asyncpg.Record | None = await app.pool.fetchrow(
        "SELECT token_id, staff_id, revoked_at FROM staff_access_tokens WHERE token_id = $1", key
    )
    return row
