"""The pure account rules, without a database: every time is an explicit `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cases.actors import Actor, Role
from directory import NotPermitted, Refused
from directory.account_rules import (
    CredentialEnd,
    check_password,
    decide_create_access_token,
    decide_failed_sign_in,
    decide_invite,
    decide_password_set,
    decide_sign_in,
    due_for_touch,
    locked_until,
    lockout_after_failure,
    may_invite,
    may_revoke_token,
    second_factor_standing,
    session_end,
    token_end,
)
from directory.accounts import AccountPolicy, AccountState
from events.directory_events import (
    AccountLockedOut,
    PasswordSet,
    SecondFactor,
    SignInFailed,
    SignInFailure,
    SignInMethod,
    SignInSucceeded,
    StaffInvited,
    StaffRole,
    TotpEnabled,
)
from events.registry import DomainEvent
from tests.directory.factories import staff_directory

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
POLICY = AccountPolicy()
ADMIN = Actor(staff_id="ada", role=Role.ADMIN)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(*events: tuple[DomainEvent, datetime]) -> AccountState:
    return AccountState("cal").fold(events)


def failed(minutes: float, counted: bool = True) -> tuple[DomainEvent, datetime]:
    reason = SignInFailure.WRONG_PASSWORD
    return SignInFailed(staff_id="cal", reason=reason, counted=counted), at(minutes)


# --- who may invite -------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_invite(role: Role) -> None:
    if role is Role.PROVIDER:  # a provider's member: a provider, no team
        actor = Actor(staff_id="x", role=role, provider_id="shelter-1")
    else:
        actor = Actor(staff_id="x", role=role, team="north")
    assert not may_invite(actor)
    cal = staff_directory().member("cal")
    with pytest.raises(NotPermitted, match="only an admin issues invitations"):
        decide_invite(actor, cal, "inv-1", now=T0, policy=POLICY)


def test_an_invitation_expires_after_the_policys_lifetime() -> None:
    assert may_invite(ADMIN)
    cal = staff_directory().member("cal")
    event = decide_invite(ADMIN, cal, "inv-1", now=T0, policy=POLICY)
    assert event == StaffInvited(staff_id="cal", invitation_id="inv-1", expires_at=at(72 * 60))


def test_a_deactivated_member_is_not_invited() -> None:
    gone = staff_directory().member("cal").model_copy(update={"active": False})
    with pytest.raises(Refused, match="staff_id: cal is deactivated"):
        decide_invite(ADMIN, gone, "inv-1", now=T0, policy=POLICY)


# --- passwords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "password: must be at least 12 characters long"),
        ("x" * 11, "password: must be at least 12 characters long"),
        ("x" * 1025, "password: must be at most 1024 characters long"),
        (" " * 12, "password: must not be only spaces"),
        ("calcalcalcal", "password: must not be the staff id"),
    ],
)
def test_the_password_policy_names_the_field(password: str, message: str) -> None:
    with pytest.raises(Refused) as refused:
        check_password("cal", password)
    assert str(refused.value) == message


def test_the_staff_id_as_password_is_refused_in_any_case() -> None:
    with pytest.raises(Refused, match="new_password: must not be the staff id"):
        check_password("caseworker.1", "  CASEWORKER.1 ", field="new_password")


def test_a_long_password_that_merely_contains_the_id_is_fine() -> None:
    check_password("cal", "cal likes long passphrases")
    check_password("cal", "twelve chars")


def test_a_password_is_set_only_from_an_invitation_or_over_an_old_one() -> None:
    with pytest.raises(Refused, match="never invited"):
        decide_password_set(AccountState("cal"), via="invitation")
    with pytest.raises(Refused, match="no password to change"):
        decide_password_set(AccountState("cal", invited=True), via="change")
    invited = AccountState("cal", invited=True)
    assert decide_password_set(invited, via="invitation", invitation_id="i") == PasswordSet(
        staff_id="cal", via="invitation", invitation_id="i"
    )


# --- lockout ------------------------------------------------------------------------------


def test_the_fifth_failure_within_the_window_locks_for_the_lockout_time() -> None:
    failures = [at(m) for m in (0, 1, 2, 3)]
    assert lockout_after_failure(failures[:3], at(4), POLICY) is None
    assert lockout_after_failure(failures, at(4), POLICY) == at(4 + 15)


def test_failures_older_than_the_window_do_not_count() -> None:
    failures = [at(m) for m in (0, 1, 2, 3)]
    # At 15 minutes the first failure is out of the window: four in it with this one.
    assert lockout_after_failure(failures, at(15), POLICY) is None
    assert lockout_after_failure(failures, at(14.9), POLICY) == at(14.9 + 15)


def test_the_policy_is_configurable() -> None:
    strict = AccountPolicy(
        max_failures=2, failure_window=timedelta(hours=1), lockout=timedelta(hours=2)
    )
    assert lockout_after_failure([at(0)], at(59), strict) == at(59 + 120)
    with pytest.raises(ValueError, match="lockout: must be a positive duration"):
        AccountPolicy(lockout=timedelta(0))
    with pytest.raises(ValueError, match="max_failures"):
        AccountPolicy(max_failures=0)


def test_decide_failed_sign_in_locks_on_the_fifth_and_the_fold_remembers() -> None:
    state = fold(*(failed(m) for m in range(4)))
    assert len(state.failures) == 4 and locked_until(state, at(4)) is None
    events = decide_failed_sign_in(state, SignInFailure.WRONG_PASSWORD, now=at(4), policy=POLICY)
    assert events == [
        SignInFailed(staff_id="cal", reason=SignInFailure.WRONG_PASSWORD, counted=True),
        AccountLockedOut(staff_id="cal", until=at(19), failures=5),
    ]
    locked = state.fold((e, at(4)) for e in events)
    assert locked.failures == () and locked.locked_until == at(19)
    assert locked_until(locked, at(18.99)) == at(19)
    assert locked_until(locked, at(19)) is None  # back after the lock time


def test_attempts_while_locked_do_not_count_or_extend_the_lock() -> None:
    locked = AccountState("cal", locked_until=at(15))
    (event,) = decide_failed_sign_in(locked, SignInFailure.WRONG_PASSWORD, now=at(5), policy=POLICY)
    assert isinstance(event, SignInFailed) and not event.counted
    assert locked.fold([(event, at(5))]).failures == ()


@pytest.mark.parametrize(
    "reason", [SignInFailure.NO_PASSWORD, SignInFailure.DEACTIVATED, SignInFailure.LOCKED]
)
def test_only_guesses_of_a_secret_count(reason: SignInFailure) -> None:
    (event,) = decide_failed_sign_in(AccountState("cal"), reason, now=T0, policy=POLICY)
    assert isinstance(event, SignInFailed) and not event.counted


def test_a_success_or_a_new_password_clears_failures_and_lock() -> None:
    state = fold(failed(0), failed(1))
    success = decide_sign_in(
        state,
        "s-1",
        method=SignInMethod.PASSWORD,
        second_factor=SecondFactor.NONE,
        now=at(2),
        policy=POLICY,
    )
    assert success.expires_at == at(2 + 12 * 60)
    assert state.fold([(success, at(2))]).failures == ()
    locked = AccountState("cal", locked_until=at(30), invited=True)
    reset = PasswordSet(staff_id="cal", via="invitation", invitation_id="i")
    assert locked.fold([(reset, at(3))]).locked_until is None


def test_a_locked_account_refuses_a_password_sign_in_but_not_single_sign_on() -> None:
    locked = AccountState("cal", locked_until=at(30))
    with pytest.raises(Refused, match="locked"):
        decide_sign_in(
            locked,
            "s",
            method=SignInMethod.PASSWORD,
            second_factor=SecondFactor.NONE,
            now=at(1),
            policy=POLICY,
        )
    event = decide_sign_in(
        locked,
        "s",
        method=SignInMethod.OIDC,
        second_factor=SecondFactor.NONE,
        now=at(1),
        policy=POLICY,
    )
    assert isinstance(event, SignInSucceeded)


def test_the_fold_refuses_another_members_event() -> None:
    with pytest.raises(ValueError, match="another staff member"):
        AccountState("cal").fold([(TotpEnabled(staff_id="sam"), T0)])


# --- sessions and tokens ----------------------------------------------------------------


def ends(last_seen: float, now: float, revoked: bool = False) -> CredentialEnd | None:
    return session_end(
        expires_at=at(12 * 60),
        last_seen_at=at(last_seen),
        revoked_at=at(0) if revoked else None,
        now=at(now),
        policy=POLICY,
    )


def test_a_session_ends_after_thirty_idle_minutes() -> None:
    assert ends(0, 29.9) is None
    assert ends(0, 30) is CredentialEnd.IDLE
    assert ends(100, 129) is None


def test_a_session_ends_twelve_hours_after_sign_in_however_busy() -> None:
    assert ends(12 * 60 - 1, 12 * 60 - 0.1) is None
    assert ends(12 * 60 - 1, 12 * 60) is CredentialEnd.EXPIRED


def test_a_revoked_session_has_ended_whatever_the_clock_says() -> None:
    assert ends(0, 1, revoked=True) is CredentialEnd.REVOKED
    # Another process whose clock is behind the one that revoked it.
    assert (
        session_end(
            expires_at=at(60),
            last_seen_at=at(0),
            revoked_at=at(10),
            now=at(5),
            policy=POLICY,
        )
        is CredentialEnd.REVOKED
    )


def test_idle_and_absolute_timeouts_are_configurable() -> None:
    policy = AccountPolicy(idle_timeout=timedelta(minutes=5))
    assert (
        session_end(
            expires_at=at(60), last_seen_at=at(0), revoked_at=None, now=at(5), policy=policy
        )
        is CredentialEnd.IDLE
    )


def test_tokens_end_at_expiry_or_revocation() -> None:
    assert token_end(expires_at=at(10), revoked_at=None, now=at(9)) is None
    assert token_end(expires_at=at(10), revoked_at=None, now=at(10)) is CredentialEnd.EXPIRED
    assert token_end(expires_at=at(10), revoked_at=at(20), now=at(1)) is CredentialEnd.REVOKED


def test_last_seen_is_written_at_most_once_a_minute() -> None:
    assert not due_for_touch(at(0), at(0.99))
    assert due_for_touch(at(0), at(1))


def test_access_token_lifetime_and_name() -> None:
    event = decide_create_access_token(
        "cal", "t-1", "nightly export", timedelta(days=30), now=T0, policy=POLICY
    )
    assert event.expires_at == T0 + timedelta(days=30) and event.name == "nightly export"
    with pytest.raises(Refused, match="expires_in: must be a positive duration"):
        decide_create_access_token("cal", "t", "n", timedelta(0), now=T0, policy=POLICY)
    with pytest.raises(Refused, match="expires_in: at most 366 days"):
        decide_create_access_token("cal", "t", "n", timedelta(days=400), now=T0, policy=POLICY)


def test_owners_and_admins_revoke_tokens() -> None:
    cal = Actor(staff_id="cal", role=Role.CASEWORKER, team="north")
    assert may_revoke_token(cal, "cal") and not may_revoke_token(cal, "sam")
    assert may_revoke_token(ADMIN, "sam")


# --- second factor ------------------------------------------------------------------------


def test_totp_is_required_of_admins_only_when_the_policy_says_so() -> None:
    required = AccountPolicy(totp_required_for_admins=True)
    pw, none, totp = SignInMethod.PASSWORD, SecondFactor.NONE, SecondFactor.TOTP
    assert second_factor_standing(Role.ADMIN, pw, none, False, POLICY) == "ok"
    assert second_factor_standing(Role.CASEWORKER, pw, none, False, required) == "ok"
    assert second_factor_standing(Role.ADMIN, pw, none, False, required) == "enrol"
    assert second_factor_standing(Role.ADMIN, pw, none, True, required) == "sign_in_again"
    assert second_factor_standing(Role.ADMIN, pw, totp, True, required) == "ok"
    assert second_factor_standing(Role.ADMIN, SignInMethod.OIDC, none, False, required) == "ok"


def test_staff_roles_and_actor_roles_agree_on_admin() -> None:
    assert Role(StaffRole.ADMIN.value) is Role.ADMIN
