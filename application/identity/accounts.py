"""Staff accounts: an admin invites, the staff member sets their own password.

An admin never chooses (nor sees) a staff member's password: `invite` hands the admin
a one-time code to pass on, and the staff member sets a password with it
(`accept_invitation`). A newer invitation makes older unused ones void; a code works
once, until it expires (72 hours by default), and only for its staff id.

Order of writes: what takes access away (voiding invitations, ending sessions)
happens before its event; what grants access (an invitation, a password) after its
event. A crash in between therefore never leaves a credential the log does not
mention, only (at worst) an event whose credential must be issued again.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from application.bootstrap import Casework
from application.identity.account_log import policy_of, record
from application.identity.credentials import (
    digest,
    hash_password,
    new_invitation_code,
    verify_password,
)
from application.identity.errors import AccountLocked, InvitationInvalid
from application.identity.principal import Invitation, Principal
from application.identity.sessions import record_failed_sign_in, revoke_sessions
from cases.actors import Actor
from directory import NotFound, NotPermitted, Refused, load_staff_directory
from directory.account_rules import (
    check_password,
    decide_invite,
    decide_password_set,
    require_may_invite,
)
from events.directory_events import SignInFailure


async def invite(app: Casework, admin: Actor, staff_id: str, *, now: datetime) -> Invitation:
    """A one-time invitation for `staff_id` to set a password (admins only).

    Earlier unused invitations of the member stop working. The code is in the result
    only: give it to the staff member through a channel you trust (in person, by
    phone); Casework keeps only its SHA-256 digest. Raises NotPermitted (not an
    admin), NotFound (no such member) or Refused (deactivated).
    """
    policy = policy_of(app.settings)
    require_may_invite(admin, staff_id)
    member = (await load_staff_directory(app.store)).member(staff_id)
    invitation_id = str(uuid.uuid4())
    event = decide_invite(admin, member, invitation_id, now=now, policy=policy)
    code = new_invitation_code()
    await app.pool.execute(
        """UPDATE staff_invitations SET superseded_at = $2
            WHERE staff_id = $1 AND used_at IS NULL AND superseded_at IS NULL""",
        staff_id,
        now,
    )
    await record(app, staff_id, admin, lambda _state: [event], now=now)
    await app.pool.execute(
        """INSERT INTO staff_invitations
               (invitation_id, staff_id, code_hash, invited_by, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        uuid.UUID(invitation_id),
        staff_id,
        digest(code),
        admin.staff_id,
        now,
        event.expires_at,
    )
    return Invitation(
        staff_id=staff_id, invitation_id=invitation_id, code=code, expires_at=event.expires_at
    )


async def accept_invitation(
    app: Casework, staff_id: str, code: str, password: str, *, now: datetime
) -> None:
    """Set `staff_id`'s password with the invitation `code` (used up by this).

    The password policy is checked first (Refused naming `password`: at least 12
    characters, not the staff id). A wrong, used, replaced or expired code raises
    InvitationInvalid (a NotAuthenticated) without saying whether the id exists.
    Setting a password ends every session the member had.
    """
    check_password(staff_id, password)
    row = await app.pool.fetchrow(
        """SELECT invitation_id, staff_id, expires_at, used_at, superseded_at
             FROM staff_invitations WHERE code_hash = $1""",
        digest(code),
    )
    if row is None or row["staff_id"] != staff_id:
        raise InvitationInvalid()
    if row["used_at"] is not None:
        raise InvitationInvalid("this invitation was used already")
    if row["superseded_at"] is not None:
        raise InvitationInvalid("a newer invitation replaced this one")
    if now >= row["expires_at"]:
        raise InvitationInvalid("this invitation has expired")
    directory = await load_staff_directory(app.store)
    member = directory.members.get(staff_id)
    if member is None or not member.active:
        raise InvitationInvalid()
    password_hash = await hash_password(password)
    claimed = await app.pool.fetchval(
        """UPDATE staff_invitations SET used_at = $2
            WHERE invitation_id = $1 AND used_at IS NULL AND superseded_at IS NULL
        RETURNING invitation_id""",
        row["invitation_id"],
        now,
    )
    if claimed is None:
        raise InvitationInvalid("this invitation was used already")
    revoked = await revoke_sessions(app.pool, staff_id, now=now, reason="password_set")
    invitation_id = str(row["invitation_id"])
    await record(
        app,
        staff_id,
        member.as_actor(),
        lambda state: [
            decide_password_set(
                state, via="invitation", invitation_id=invitation_id, sessions_revoked=revoked
            )
        ],
        now=now,
    )
    await _store_password(app.pool, staff_id, password_hash, now)


async def change_password(
    app: Casework,
    principal: Principal,
    current_password: str,
    new_password: str,
    *,
    now: datetime,
) -> None:
    """Change one's own password from a signed-in session.

    The current password is checked (a wrong one counts towards a lockout, as at
    sign-in: Refused naming `current_password`, or AccountLocked); the new one must
    meet the policy (Refused naming `new_password`). Every other session of the
    member ends; this one goes on.
    """
    if principal.method != "password" or principal.enrolment_only:
        raise NotPermitted("change your password from a session signed in with your password")
    staff_id = principal.actor.staff_id
    check_password(staff_id, new_password, field="new_password")
    if new_password == current_password:
        raise Refused("new_password: must differ from the current password")
    stored = await app.pool.fetchval(
        "SELECT password_hash FROM staff_credentials WHERE staff_id = $1", staff_id
    )
    if stored is None:
        raise NotFound(f"{staff_id} has no password to change")
    if not await verify_password(stored, current_password):
        until = await record_failed_sign_in(app, staff_id, SignInFailure.WRONG_PASSWORD, now=now)
        if until is not None:
            raise AccountLocked(until)
        raise Refused("current_password: does not match")
    password_hash = await hash_password(new_password)
    revoked = await revoke_sessions(
        app.pool, staff_id, now=now, reason="password_changed", keep=principal.credential_id
    )
    await record(
        app,
        staff_id,
        principal.actor,
        lambda state: [decide_password_set(state, via="change", sessions_revoked=revoked)],
        now=now,
    )
    await _store_password(app.pool, staff_id, password_hash, now)


async def _store_password(
    pool: asyncpg.Pool, staff_id: str, password_hash: str, now: datetime
) -> None:
    await pool.execute(
        """INSERT INTO staff_credentials (staff_id, password_hash, password_set_at)
           VALUES ($1, $2, $3)
           ON CONFLICT (staff_id) DO UPDATE
              SET password_hash = excluded.password_hash,
                  password_set_at = excluded.password_set_at""",
        staff_id,
        password_hash,
        now,
    )
