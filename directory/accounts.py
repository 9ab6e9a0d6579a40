"""Staff accounts as a pure fold of their stream `account-<staff_id>`, and the policy.

An account's events say who was invited, when a password was set, which sign-ins
failed and when the account was locked. `AccountState.fold` turns them (each with
the time it occurred) into what the rules in `directory/account_rules.py` decide
on. Nothing here reads a clock: every rule takes an explicit `now`.

The secrets themselves (password hashes, invitation codes, session and access
tokens, TOTP secrets) are never in an event; the application keeps them in tables
of their own (application/identity/).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from events.directory_events import (
    AccessTokenCreated,
    AccessTokenRevoked,
    AccountLockedOut,
    PasswordSet,
    SignedOut,
    SignInFailed,
    SignInSucceeded,
    StaffInvited,
    TotpEnabled,
    TotpEnrolmentStarted,
)
from events.registry import DomainEvent

MAX_REMEMBERED_FAILURES = 50
"""Counted failures the fold keeps (the newest); more never change a decision."""


@dataclass(frozen=True)
class AccountPolicy:
    """How long things last and when an account locks (from the settings)."""

    max_failures: int = 5
    """Counted failed sign-ins within `failure_window` that lock the account."""
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    """How long a locked account refuses every sign-in."""
    idle_timeout: timedelta = timedelta(minutes=30)
    """A session unused this long has ended."""
    absolute_timeout: timedelta = timedelta(hours=12)
    """A session has ended this long after its sign-in, however busy."""
    invitation_lifetime: timedelta = timedelta(hours=72)
    access_token_max_lifetime: timedelta = timedelta(days=366)
    totp_required_for_admins: bool = False

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures: at least 1")
        for name in (
            "failure_window",
            "lockout",
            "idle_timeout",
            "absolute_timeout",
            "invitation_lifetime",
            "access_token_max_lifetime",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name}: must be a positive duration")


@dataclass(frozen=True)
class AccountState:
    """One staff member's account as of stream version `version`."""

    staff_id: str
    version: int = 0
    """The stream version folded so far (0: no account event yet)."""
    invited: bool = False
    password_set: bool = False
    totp_enabled: bool = False
    failures: tuple[datetime, ...] = ()
    """When counted sign-in failures happened since the last success, lock or new password."""
    locked_until: datetime | None = None
    last_sign_in: datetime | None = None

    def fold(self, events: Iterable[tuple[DomainEvent, datetime]]) -> AccountState:
        """This state with the stream's next events (each with its occurred_at) applied."""
        state = self
        for event, occurred_at in events:
            state = replace(_apply(state, event, occurred_at), version=state.version + 1)
        return state


def _apply(state: AccountState, event: DomainEvent, at: datetime) -> AccountState:
    if getattr(event, "staff_id", state.staff_id) != state.staff_id:
        raise ValueError(f"{event.type} of another staff member in {state.staff_id}'s account")
    match event:
        case StaffInvited():
            return replace(state, invited=True)
        case PasswordSet():
            # A new password (from an invitation an admin issued) ends a lockout.
            return replace(state, password_set=True, failures=(), locked_until=None)
        case SignInSucceeded():
            return replace(state, failures=(), last_sign_in=at)
        case SignInFailed():
            if not event.counted:
                return state
            return replace(state, failures=(*state.failures, at)[-MAX_REMEMBERED_FAILURES:])
        case AccountLockedOut():
            return replace(state, failures=(), locked_until=event.until)
        case TotpEnabled():
            return replace(state, totp_enabled=True)
        case SignedOut() | TotpEnrolmentStarted() | AccessTokenCreated() | AccessTokenRevoked():
            return state
        case _:
            raise ValueError(f"{event.type} is not an event of a staff account")
