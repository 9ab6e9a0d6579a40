"""Signing in and out, and `authenticate`: who a session or access token belongs to.

A session is server-side: the client holds a random token (`cws_…`), Casework keeps
its SHA-256 digest in `staff_sessions`. `authenticate` checks, on every call, that
the session is not revoked, idle or past its absolute end, and that the staff
member is still active in the staff directory, whose current role and team make the
`Principal`. Signing out revokes the session at once.

Sign-ins, failed ones included, are events of the member's account stream; so are
lockouts and sign-outs. A failed attempt on an unknown staff id writes nothing (there
is no account to write it to) and costs the same hashing work as a real one.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from application.bootstrap import Casework
from application.identity.account_log import (
    active_actor,
    client_info,
    load_account,
    policy_of,
    record,
)
from application.identity.credentials import (
    ACCESS_TOKEN_PREFIX,
    SESSION_PREFIX,
    digest,
    hash_password,
    needs_rehash,
    new_session_token,
    spend_as_much_as_a_check,
    verify_password,
)
from application.identity.errors import (
    SIGN_IN_FAILED,
    AccountLocked,
    NotAuthenticated,
    SecondFactorEnrolmentRequired,
    SecondFactorRequired,
)
from application.identity.jwks import authenticate_bearer, looks_like_jwt, oidc_configured
from application.identity.principal import IssuedSession, Principal
from application.identity.tokens import authenticate_access_token
from application.identity.totp import check_sign_in_code, totp_enabled
from cases.actors import SYSTEM_ACTOR, Actor
from directory import load_staff_directory
from directory.account_rules import (
    decide_failed_sign_in,
    decide_sign_in,
    due_for_touch,
    locked_until,
    second_factor_standing,
    session_end,
    session_expires_at,
    totp_required,
)
from directory.accounts import AccountState
from events.directory_events import (
    AccountLockedOut,
    SecondFactor,
    SignedOut,
    SignInFailure,
    SignInMethod,
)
from events.registry import DomainEvent


async def sign_in(
    app: Casework,
    staff_id: str,
    password: str,
    *,
    totp: str | None = None,
    now: datetime,
    client: str | None = None,
) -> IssuedSession:
    """A new session for `staff_id` with their password (and TOTP code, if enrolled).

    Raises NotAuthenticated (wrong staff id, password or code: one message for all),
    AccountLocked (too many failures: `until` says how long), or SecondFactorRequired
    (the password was right and a TOTP code is needed: ask for it and call again).
    `client` (address, user agent) is recorded with the event.
    """
    policy = policy_of(app.settings)
    client = client_info(client)
    member = (await load_staff_directory(app.store)).members.get(staff_id)
    if member is None:
        await spend_as_much_as_a_check(password)
        raise NotAuthenticated(SIGN_IN_FAILED)
    if not member.active:
        await spend_as_much_as_a_check(password)
        await record_failed_sign_in(
            app, staff_id, SignInFailure.DEACTIVATED, now=now, client=client
        )
        raise NotAuthenticated(SIGN_IN_FAILED)
    state = await load_account(app.store, staff_id)
    if locked_until(state, now) is not None:
        until = await record_failed_sign_in(
            app, staff_id, SignInFailure.LOCKED, now=now, client=client
        )
        raise AccountLocked(until or state.locked_until or now)
    stored = await app.pool.fetchval(
        "SELECT password_hash FROM staff_credentials WHERE staff_id = $1", staff_id
    )
    if stored is None:
        await spend_as_much_as_a_check(password)
        await record_failed_sign_in(
            app, staff_id, SignInFailure.NO_PASSWORD, now=now, client=client
        )
        raise NotAuthenticated(SIGN_IN_FAILED)
    if not await verify_password(stored, password):
        await _refuse(app, staff_id, SignInFailure.WRONG_PASSWORD, now=now, client=client)
    actor = member.as_actor()
    factor = SecondFactor.NONE
    if await totp_enabled(app.pool, staff_id):
        if totp is None:
            raise SecondFactorRequired()
        if not await check_sign_in_code(app, staff_id, totp, now=now):
            await _refuse(app, staff_id, SignInFailure.WRONG_TOTP, now=now, client=client)
        factor = SecondFactor.TOTP
    elif totp_required(actor.role, policy):
        factor = SecondFactor.ENROLMENT_REQUIRED
    if needs_rehash(stored):
        await app.pool.execute(
            "UPDATE staff_credentials SET password_hash = $2 WHERE staff_id = $1",
            staff_id,
            await hash_password(password),
        )
    return await _open_session(app, actor, SignInMethod.PASSWORD, factor, now=now, client=client)


async def sign_in_oidc(
    app: Casework, staff_id: str, *, now: datetime, client: str | None = None
) -> IssuedSession:
    """A new session for a staff member whom the agency's identity provider vouched for.

    The caller (the HTTP layer) has verified the provider's ID token and mapped it to
    `staff_id`; the second factor is the provider's business. NotAuthenticated if the
    member is unknown or deactivated. Lockouts (of password sign-ins) do not apply.
    """
    actor = await active_actor(app, staff_id)
    return await _open_session(
        app, actor, SignInMethod.OIDC, SecondFactor.NONE, now=now, client=client_info(client)
    )


async def sign_out(app: Casework, token: str, *, now: datetime) -> None:
    """End the session of `token` at once (NotAuthenticated if it is no live session)."""
    if not token.startswith(SESSION_PREFIX):
        raise NotAuthenticated("not a session token: revoke access tokens by their id")
    row = await app.pool.fetchrow(
        """UPDATE staff_sessions SET revoked_at = $2, revoked_reason = 'signed_out'
            WHERE token_hash = $1 AND revoked_at IS NULL
        RETURNING session_id, staff_id""",
        digest(token),
        now,
    )
    if row is None:
        raise NotAuthenticated()
    staff_id, session_id = row["staff_id"], str(row["session_id"])
    directory = await load_staff_directory(app.store)
    member = directory.members.get(staff_id)
    actor = member.as_actor() if member is not None else SYSTEM_ACTOR
    await record(
        app,
        staff_id,
        actor,
        lambda _state: [SignedOut(staff_id=staff_id, session_id=session_id)],
        now=now,
    )


async def authenticate(
    app: Casework, token: str, *, now: datetime, allow_enrolment_only: bool = False
) -> Principal:
    """The principal of a session token (`cws_…`), a personal access token (`cwp_…`), or,
    when single sign-on is configured, a JWT bearer token of the identity provider
    (method "oidc"; verified locally, see jwks.py).

    NotAuthenticated when the token is unknown, revoked, idle, expired, or its staff
    member is deactivated. An admin's session that must enrol TOTP first raises
    SecondFactorEnrolmentRequired unless `allow_enrolment_only` (for the enrolment
    calls only). Last-seen and last-used times are written at most once a minute.
    """
    if token.startswith(ACCESS_TOKEN_PREFIX):
        return await authenticate_access_token(app, token, now=now)
    if not token.startswith(SESSION_PREFIX):
        if oidc_configured(app.settings) and looks_like_jwt(token):
            return await authenticate_bearer(app, token, now=now)
        raise NotAuthenticated()
    row = await app.pool.fetchrow(
        """SELECT session_id, staff_id, method, second_factor, last_seen_at, expires_at,
                  revoked_at
             FROM staff_sessions WHERE token_hash = $1""",
        digest(token),
    )
    if row is None:
        raise NotAuthenticated()
    policy = policy_of(app.settings)
    ended = session_end(
        expires_at=row["expires_at"],
        last_seen_at=row["last_seen_at"],
        revoked_at=row["revoked_at"],
        now=now,
        policy=policy,
    )
    if ended is not None:
        raise NotAuthenticated(f"the session has ended ({ended}): sign in again")
    actor = await active_actor(app, row["staff_id"])
    method = SignInMethod(row["method"])
    factor = SecondFactor(row["second_factor"])
    enrolled = False
    if totp_required(actor.role, policy) and factor is not SecondFactor.TOTP:
        enrolled = await totp_enabled(app.pool, actor.staff_id)
    standing = second_factor_standing(actor.role, method, factor, enrolled, policy)
    if standing == "sign_in_again":
        raise NotAuthenticated("sign in again with your TOTP code")
    if standing == "enrol" and not allow_enrolment_only:
        raise SecondFactorEnrolmentRequired()
    if due_for_touch(row["last_seen_at"], now):
        await app.pool.execute(
            """UPDATE staff_sessions SET last_seen_at = $2
                WHERE session_id = $1 AND last_seen_at < $2""",
            row["session_id"],
            now,
        )
    return Principal(
        actor=actor,
        method="oidc" if method is SignInMethod.OIDC else "password",
        credential_id=str(row["session_id"]),
        enrolment_only=standing == "enrol",
    )


# --- shared with the other account use cases ------------------------------------------


async def record_failed_sign_in(
    app: Casework,
    staff_id: str,
    reason: SignInFailure,
    *,
    now: datetime,
    client: str | None = None,
) -> datetime | None:
    """Record a failed attempt (the engine is its actor: nobody was proven); the end of
    the lockout it brought about, or of the one in force, if any."""
    policy = policy_of(app.settings)
    state, events = await record(
        app,
        staff_id,
        SYSTEM_ACTOR,
        lambda s: decide_failed_sign_in(s, reason, now=now, policy=policy, client=client),
        now=now,
    )
    for event in events:
        if isinstance(event, AccountLockedOut):
            return event.until
    return locked_until(state, now)


async def revoke_sessions(
    pool: asyncpg.Pool,
    staff_id: str,
    *,
    now: datetime,
    reason: str,
    keep: str | None = None,
) -> int:
    """End every live session of `staff_id` (but `keep`); how many were ended."""
    rows = await pool.fetch(
        """UPDATE staff_sessions SET revoked_at = $2, revoked_reason = $3
            WHERE staff_id = $1 AND revoked_at IS NULL AND expires_at > $2
              AND ($4::uuid IS NULL OR session_id <> $4::uuid)
        RETURNING session_id""",
        staff_id,
        now,
        reason,
        None if keep is None else uuid.UUID(keep),
    )
    return len(rows)


async def _refuse(
    app: Casework,
    staff_id: str,
    reason: SignInFailure,
    *,
    now: datetime,
    client: str | None,
) -> None:
    until = await record_failed_sign_in(app, staff_id, reason, now=now, client=client)
    if until is not None:
        raise AccountLocked(until)
    raise NotAuthenticated(SIGN_IN_FAILED)


async def _open_session(
    app: Casework,
    actor: Actor,
    method: SignInMethod,
    factor: SecondFactor,
    *,
    now: datetime,
    client: str | None,
) -> IssuedSession:
    policy = policy_of(app.settings)
    session_id = str(uuid.uuid4())

    def decide(state: AccountState) -> list[DomainEvent]:
        if method is SignInMethod.PASSWORD:
            until = locked_until(state, now)
            if until is not None:  # a concurrent attempt locked the account meanwhile
                raise AccountLocked(until)
        return [
            decide_sign_in(
                state,
                session_id,
                method=method,
                second_factor=factor,
                now=now,
                policy=policy,
                client=client,
            )
        ]

    await record(app, actor.staff_id, actor, decide, now=now)
    token = new_session_token()
    expires_at = session_expires_at(now, policy)
    await app.pool.execute(
        """INSERT INTO staff_sessions (session_id, staff_id, token_hash, method, second_factor,
               created_at, last_seen_at, expires_at, client)
           VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)""",
        uuid.UUID(session_id),
        actor.staff_id,
        digest(token),
        method.value,
        factor.value,
        now,
        expires_at,
        client,
    )
    return IssuedSession(
        session_id=session_id,
        staff_id=actor.staff_id,
        token=token,
        expires_at=expires_at,
        idle_timeout_seconds=int(policy.idle_timeout.total_seconds()),
        enrolment_only=factor is SecondFactor.ENROLMENT_REQUIRED,
    )
