"""Pure rules of staff accounts: who may invite, passwords, lockout, session validity.

Every function takes the time as an explicit `now` (a clock the caller controls) and
reads nothing else: the same inputs always give the same answer, so the rules are
tested without a database or a clock. Refusals raise `NotPermitted` or `Refused`
with a message naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from cases.actors import Actor, Role
from directory.accounts import AccountPolicy, AccountState
from directory.errors import NotPermitted, Refused
from directory.rules import build
from directory.staff import StaffMember
from events.directory_events import (
    AccessTokenCreated,
    AccountLockedOut,
    PasswordSet,
    SecondFactor,
    SignInFailed,
    SignInFailure,
    SignInMethod,
    SignInSucceeded,
    StaffInvited,
)
from events.registry import DomainEvent

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
"""Longer input is refused before hashing (hashing cost grows with the input)."""

TOUCH_INTERVAL = timedelta(minutes=1)
"""A session's last-seen (a token's last-used) time is written at most this often, so
a session may end up to this much before its idle timeout, never after it."""

COUNTED_FAILURES = frozenset({SignInFailure.WRONG_PASSWORD, SignInFailure.WRONG_TOTP})
"""Failures that count towards a lockout: guesses of a secret."""


# --- who may ------------------------------------------------------------------------


def may_invite(actor: Actor) -> bool:
    """Only admins invite staff members to set a password."""
    return actor.role is Role.ADMIN


def require_may_invite(actor: Actor, staff_id: str) -> None:
    if not may_invite(actor):
        raise NotPermitted(
            f"{actor.staff_id} ({actor.role}) may not invite {staff_id}: only an admin "
            "issues invitations"
        )


def decide_invite(
    actor: Actor,
    member: StaffMember,
    invitation_id: str,
    *,
    now: datetime,
    policy: AccountPolicy,
) -> StaffInvited:
    """An invitation for an active member, issued by an admin, expiring after the policy's
    lifetime."""
    require_may_invite(actor, member.staff_id)
    if not member.active:
        raise Refused(f"staff_id: {member.staff_id} is deactivated and cannot be invited")
    return build(
        StaffInvited,
        staff_id=member.staff_id,
        invitation_id=invitation_id,
        expires_at=now + policy.invitation_lifetime,
    )


# --- passwords ----------------------------------------------------------------------


def check_password(staff_id: str, password: str, field: str = "password") -> None:
    """The password policy: 12 to 1,024 characters, not the staff id (nor only it
    repeated or with spaces around it). Raises Refused naming `field`."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise Refused(f"{field}: must be at least {PASSWORD_MIN_LENGTH} characters long")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise Refused(f"{field}: must be at most {PASSWORD_MAX_LENGTH} characters long")
    if not password.strip():
        raise Refused(f"{field}: must not be only spaces")
    folded = password.strip().casefold()
    sid = staff_id.casefold()
    if sid and folded.replace(sid, "") == "":
        raise Refused(f"{field}: must not be the staff id")


def decide_password_set(
    state: AccountState,
    *,
    via: Literal["invitation", "change"],
    invitation_id: str | None = None,
    sessions_revoked: int = 0,
) -> PasswordSet:
    """A new password: from an invitation (which must have been issued), or a change by
    a member who has one."""
    if via == "invitation" and not state.invited:
        raise Refused(f"staff_id: {state.staff_id} was never invited")
    if via == "change" and not state.password_set:
        raise Refused(f"staff_id: {state.staff_id} has no password to change")
    return build(
        PasswordSet,
        staff_id=state.staff_id,
        via=via,
        invitation_id=invitation_id,
        sessions_revoked=sessions_revoked,
    )


# --- lockout ------------------------------------------------------------------------


def locked_until(state: AccountState, now: datetime) -> datetime | None:
    """The end of the account's lockout, if it is locked at `now`."""
    if state.locked_until is not None and now < state.locked_until:
        return state.locked_until
    return None


def recent_failures(failures: Sequence[datetime], now: datetime, policy: AccountPolicy) -> int:
    """Counted failures within the policy's window before `now`."""
    return sum(1 for t in failures if timedelta(0) <= now - t < policy.failure_window)


def lockout_after_failure(
    failures: Sequence[datetime], now: datetime, policy: AccountPolicy
) -> datetime | None:
    """When a new counted failure at `now`, after `failures`, locks the account: until
    when. None while fewer than `max_failures` fall within the window."""
    if recent_failures(failures, now, policy) + 1 >= policy.max_failures:
        return now + policy.lockout
    return None


def decide_failed_sign_in(
    state: AccountState,
    reason: SignInFailure,
    *,
    now: datetime,
    policy: AccountPolicy,
    client: str | None = None,
) -> list[DomainEvent]:
    """The failure, and the lockout it brings about (if it does).

    Wrong passwords and TOTP codes count; attempts while locked do not (an attacker
    could otherwise keep the owner locked out for ever).
    """
    counted = reason in COUNTED_FAILURES and locked_until(state, now) is None
    events: list[DomainEvent] = [
        build(SignInFailed, staff_id=state.staff_id, reason=reason, counted=counted, client=client)
    ]
    if counted:
        until = lockout_after_failure(state.failures, now, policy)
        if until is not None:
            failures = recent_failures(state.failures, now, policy) + 1
            events.append(
                build(AccountLockedOut, staff_id=state.staff_id, until=until, failures=failures)
            )
    return events


def decide_sign_in(
    state: AccountState,
    session_id: str,
    *,
    method: SignInMethod,
    second_factor: SecondFactor,
    now: datetime,
    policy: AccountPolicy,
    client: str | None = None,
) -> SignInSucceeded:
    """A successful sign-in opening session `session_id`. Refused (Refused) while the
    account is locked: the caller checks `locked_until` first and records a failure."""
    if method is SignInMethod.PASSWORD and locked_until(state, now) is not None:
        raise Refused(f"{state.staff_id}: the account is locked")
    return build(
        SignInSucceeded,
        staff_id=state.staff_id,
        session_id=session_id,
        method=method,
        second_factor=second_factor,
        expires_at=session_expires_at(now, policy),
        client=client,
    )


# --- second factor ------------------------------------------------------------------


def totp_required(role: Role, policy: AccountPolicy) -> bool:
    return policy.totp_required_for_admins and role is Role.ADMIN


SecondFactorStanding = Literal["ok", "enrol", "sign_in_again"]


def second_factor_standing(
    role: Role,
    method: SignInMethod,
    session_factor: SecondFactor,
    totp_enabled: bool,
    policy: AccountPolicy,
) -> SecondFactorStanding:
    """Whether a session may act for a member of `role` now.

    "ok": it may. "enrol": an admin must enrol TOTP (only enrolment is allowed).
    "sign_in_again": the member has TOTP but the session never proved it (for
    example they became an admin since): a new sign-in with a code is needed. Single
    sign-on sessions leave the second factor to the identity provider.
    """
    if not totp_required(role, policy) or method is SignInMethod.OIDC:
        return "ok"
    if session_factor is SecondFactor.TOTP:
        return "ok"
    return "sign_in_again" if totp_enabled else "enrol"


# --- sessions and tokens ------------------------------------------------------------


class CredentialEnd(StrEnum):
    """Why a session or access token no longer works."""

    REVOKED = "revoked"
    IDLE = "idle"
    EXPIRED = "expired"


def session_expires_at(signed_in_at: datetime, policy: AccountPolicy) -> datetime:
    """The absolute end of a session opened at `signed_in_at`."""
    return signed_in_at + policy.absolute_timeout


def session_end(
    *,
    expires_at: datetime,
    last_seen_at: datetime,
    revoked_at: datetime | None,
    now: datetime,
    policy: AccountPolicy,
) -> CredentialEnd | None:
    """Why the session has ended at `now`, or None while it is valid.

    Revoked (signed out, password changed) at once, whatever `revoked_at` says
    (another process's clock may be ahead); expired at its absolute end; idle when
    unused for the idle timeout.
    """
    if revoked_at is not None:  # at once, whatever the clocks of other processes say
        return CredentialEnd.REVOKED
    if now >= expires_at:
        return CredentialEnd.EXPIRED
    if now - last_seen_at >= policy.idle_timeout:
        return CredentialEnd.IDLE
    return None


def token_end(
    *, expires_at: datetime, revoked_at: datetime | None, now: datetime
) -> CredentialEnd | None:
    """Why a personal access token no longer works at `now`, or None."""
    if revoked_at is not None:
        return CredentialEnd.REVOKED
    if now >= expires_at:
        return CredentialEnd.EXPIRED
    return None


def due_for_touch(last: datetime, now: datetime) -> bool:
    """Whether the last-seen / last-used time is worth writing again."""
    return now - last >= TOUCH_INTERVAL


def may_revoke_token(actor: Actor, owner: str) -> bool:
    """The token's owner revokes it; an admin revokes anyone's (a leaked token)."""
    return actor.staff_id == owner or actor.role is Role.ADMIN


def decide_create_access_token(
    staff_id: str,
    token_id: str,
    name: str,
    expires_in: timedelta,
    *,
    now: datetime,
    policy: AccountPolicy,
) -> AccessTokenCreated:
    """A personal access token for `staff_id`, valid for `expires_in` (positive, at most
    the policy's maximum)."""
    if expires_in <= timedelta(0):
        raise Refused("expires_in: must be a positive duration")
    if expires_in > policy.access_token_max_lifetime:
        raise Refused(
            f"expires_in: at most {policy.access_token_max_lifetime.days} days; "
            "create a new token when it expires"
        )
    return build(
        AccessTokenCreated,
        staff_id=staff_id,
        token_id=token_id,
        name=name,
        expires_at=now + expires_in,
    )
