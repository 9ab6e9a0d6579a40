"""An optional TOTP second factor (RFC 6238, 6 digits, 30-second steps).

`enrol_totp` makes a secret and shows it once (base32 and an `otpauth://` URI);
`confirm_totp` turns it on with a code from the app. From then on every password
sign-in needs a code, each code is accepted once, and a wrong code counts towards
the lockout like a wrong password. The secret is stored sealed (credentials.py),
never in an event. Where the settings require it for admins, an admin without TOTP
gets a session that may only enrol; confirming makes it a full session.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from application.bootstrap import Casework
from application.identity.account_log import record
from application.identity.credentials import (
    matching_totp_step,
    new_totp_secret,
    open_totp_secret,
    seal_totp_secret,
    totp_uri,
)
from application.identity.principal import Principal, TotpEnrolment
from directory import NotPermitted, Refused
from events.directory_events import SecondFactor, TotpEnabled, TotpEnrolmentStarted
from infrastructure.keys import master_keyring


async def totp_enabled(pool: asyncpg.Pool, staff_id: str) -> bool:
    """Whether `staff_id` confirmed a TOTP secret."""
    return bool(
        await pool.fetchval(
            "SELECT enabled_at IS NOT NULL FROM staff_totp WHERE staff_id = $1", staff_id
        )
    )


async def enrol_totp(app: Casework, principal: Principal, *, now: datetime) -> TotpEnrolment:
    """A new TOTP secret for the principal, shown once; it counts once confirmed.

    From a session only (NotPermitted for an access token); Refused when TOTP is on
    already. Enrolling again before confirming replaces the unconfirmed secret.
    """
    if principal.method == "token":
        raise NotPermitted("enrol TOTP from a signed-in session, not with an access token")
    staff_id = principal.actor.staff_id
    if await totp_enabled(app.pool, staff_id):
        raise Refused(f"totp: already enabled for {staff_id}")
    secret = new_totp_secret()
    key_id, sealed = seal_totp_secret(master_keyring(app.settings), staff_id, secret)
    await record(
        app,
        staff_id,
        principal.actor,
        lambda _state: [TotpEnrolmentStarted(staff_id=staff_id)],
        now=now,
    )
    stored = await app.pool.fetchval(
        """INSERT INTO staff_totp (staff_id, key_id, secret_sealed, created_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (staff_id) DO UPDATE
              SET key_id = excluded.key_id, secret_sealed = excluded.secret_sealed,
                  created_at = excluded.created_at, last_step = 0
            WHERE staff_totp.enabled_at IS NULL
        RETURNING staff_id""",
        staff_id,
        key_id,
        sealed,
        now,
    )
    if stored is None:
        raise Refused(f"totp: already enabled for {staff_id}")
    return TotpEnrolment(secret=secret, uri=totp_uri(secret, staff_id, app.settings.totp_issuer))


async def confirm_totp(app: Casework, principal: Principal, code: str, *, now: datetime) -> None:
    """Turn TOTP on with a code from the app (Refused naming `code` if it does not match).

    The session confirming it counts as signed in with TOTP from now on.
    """
    if principal.method == "token":
        raise NotPermitted("confirm TOTP from a signed-in session, not with an access token")
    staff_id = principal.actor.staff_id
    row = await app.pool.fetchrow(
        "SELECT key_id, secret_sealed, enabled_at, last_step FROM staff_totp WHERE staff_id = $1",
        staff_id,
    )
    if row is None:
        raise Refused("totp: enrol first")
    if row["enabled_at"] is not None:
        raise Refused(f"totp: already enabled for {staff_id}")
    secret = open_totp_secret(
        master_keyring(app.settings), staff_id, row["key_id"], row["secret_sealed"]
    )
    step = matching_totp_step(secret, code, now, row["last_step"])
    if step is None:
        raise Refused("code: does not match (check the authenticator app's clock)")
    enabled = await app.pool.fetchval(
        """UPDATE staff_totp SET enabled_at = $2, last_step = $3
            WHERE staff_id = $1 AND enabled_at IS NULL AND secret_sealed = $4
        RETURNING staff_id""",
        staff_id,
        now,
        step,
        row["secret_sealed"],
    )
    if enabled is None:
        raise Refused("totp: the enrolment changed meanwhile; enrol again")
    if principal.method in ("password", "oidc"):
        await app.pool.execute(
            "UPDATE staff_sessions SET second_factor = $2 WHERE session_id = $1",
            uuid.UUID(principal.credential_id),
            SecondFactor.TOTP.value,
        )
    session_id = principal.credential_id
    await record(
        app,
        staff_id,
        principal.actor,
        lambda _state: [TotpEnabled(staff_id=staff_id, session_id=session_id)],
        now=now,
    )


async def check_sign_in_code(app: Casework, staff_id: str, code: str, *, now: datetime) -> bool:
    """Whether `code` is a current, not yet used code of `staff_id`'s TOTP (used up by this)."""
    row = await app.pool.fetchrow(
        """SELECT key_id, secret_sealed, last_step FROM staff_totp
            WHERE staff_id = $1 AND enabled_at IS NOT NULL""",
        staff_id,
    )
    if row is None:
        return False
    secret = open_totp_secret(
        master_keyring(app.settings), staff_id, row["key_id"], row["secret_sealed"]
    )
    step = matching_totp_step(secret, code, now, row["last_step"])
    if step is None:
        return False
    claimed = await app.pool.fetchval(
        """UPDATE staff_totp SET last_step = $2
            WHERE staff_id = $1 AND last_step < $2 RETURNING staff_id""",
        staff_id,
        step,
    )
    return claimed is not None
