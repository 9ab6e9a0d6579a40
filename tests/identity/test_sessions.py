"""Signing in and out: lockout and its end, idle and absolute timeouts, sign-out and
deactivation ending sessions at once, all under a clock the tests move."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from application.bootstrap import Casework
from application.identity import (
    AccountLocked,
    NotAuthenticated,
    authenticate,
    change_password,
    sign_in,
    sign_in_oidc,
    sign_out,
)
from directory import NotPermitted, Refused, change_staff, deactivate_staff
from tests.identity.conftest import (
    ADA,
    PASSWORDS,
    Clock,
    Secrets,
    account_events,
    signed_in,
    with_password,
)

CAL_PASSWORD = PASSWORDS["cal"]
GENERIC = "sign-in failed: wrong staff id, password or code"


@pytest.fixture
async def cal(app: Casework, clock: Clock, secrets_used: Secrets) -> None:
    """cal has a password."""
    await with_password(app, clock, secrets_used, "cal")


async def wrong_password(app: Casework, clock: Clock, staff_id: str = "cal") -> str:
    with pytest.raises(NotAuthenticated) as refused:
        await sign_in(app, staff_id, "not the password at all", now=clock.now)
    return str(refused.value)


@pytest.mark.usefixtures("cal")
async def test_sign_in_gives_a_session_that_authenticates_as_the_member(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal", client="203.0.113.9 curl/8")
    assert session.token.startswith("cws_") and session.token not in repr(session)
    assert session.expires_at == clock.now + timedelta(hours=12)
    assert session.idle_timeout_seconds == 30 * 60
    principal = await authenticate(app, session.token, now=clock.advance(minutes=1))
    assert principal.actor.staff_id == "cal" and principal.actor.role == "caseworker"
    assert principal.actor.team == "north"
    assert principal.method == "password" and principal.credential_id == session.session_id
    *_, (kind, data, actor) = await account_events(app, "cal")
    assert (kind, actor) == ("SignInSucceeded", "cal")
    assert data["session_id"] == session.session_id and data["client"] == "203.0.113.9 curl/8"
    assert data["method"] == "password" and data["second_factor"] == "none"


@pytest.mark.usefixtures("cal")
async def test_unknown_ids_wrong_passwords_and_members_without_one_read_the_same(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    assert await wrong_password(app, clock, "cal") == GENERIC
    assert await wrong_password(app, clock, "nobody") == GENERIC
    assert await wrong_password(app, clock, "sam") == GENERIC  # never set a password
    assert await wrong_password(app, clock, "not a valid id!") == GENERIC
    with pytest.raises(NotAuthenticated, match=GENERIC):
        await sign_in(app, "sam", CAL_PASSWORD, now=clock.now)
    # Nothing is written for an unknown id; the members' failures are on record.
    assert await app.store.stream_version("account-nobody") == 0
    failures = [d["reason"] for t, d, _ in await account_events(app, "sam") if t == "SignInFailed"]
    assert failures == ["no_password", "no_password"]
    cal_failed = [e for e in await account_events(app, "cal") if e[0] == "SignInFailed"]
    assert cal_failed == [
        (
            "SignInFailed",
            {"staff_id": "cal", "reason": "wrong_password", "counted": True, "client": None},
            "casework",  # the engine records it: nobody was proven
        )
    ]


@pytest.mark.usefixtures("cal")
async def test_five_wrong_passwords_lock_the_account_until_the_lock_time_is_over(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    for _ in range(4):
        assert await wrong_password(app, clock) == GENERIC
        clock.advance(minutes=2)
    with pytest.raises(AccountLocked) as locked:
        await sign_in(app, "cal", "still not the password", now=clock.now)
    until = clock.now + timedelta(minutes=15)
    assert locked.value.until == until
    assert "locked until" in str(locked.value)

    # Locked: even the right password is refused, and trying does not extend the lock.
    clock.advance(minutes=14)
    with pytest.raises(AccountLocked) as still:
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)
    assert still.value.until == until

    clock.now = until
    session = await signed_in(app, clock, secrets_used, "cal")
    await authenticate(app, session.token, now=clock.now)

    kinds = [(t, d.get("reason")) for t, d, _ in await account_events(app, "cal")]
    assert kinds[2:] == [
        *[("SignInFailed", "wrong_password")] * 5,
        ("AccountLockedOut", None),
        ("SignInFailed", "locked"),
        ("SignInSucceeded", None),
    ]
    lock = next(d for t, d, _ in await account_events(app, "cal") if t == "AccountLockedOut")
    assert lock["failures"] == 5


@pytest.mark.usefixtures("cal")
async def test_failures_spread_beyond_the_window_do_not_lock(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    for _ in range(8):
        assert await wrong_password(app, clock) == GENERIC
        clock.advance(minutes=4)  # never five within fifteen minutes
    await signed_in(app, clock, secrets_used, "cal")


@pytest.mark.usefixtures("cal")
async def test_a_success_starts_the_count_again(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    for _ in range(4):
        await wrong_password(app, clock)
    await signed_in(app, clock, secrets_used, "cal")
    for _ in range(4):
        await wrong_password(app, clock)
    await signed_in(app, clock, secrets_used, "cal")


@pytest.mark.usefixtures("cal")
async def test_concurrent_wrong_passwords_still_lock_after_five(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    results = await asyncio.gather(
        *(sign_in(app, "cal", f"wrong password number {i}", now=clock.now) for i in range(8)),
        return_exceptions=True,
    )
    assert all(isinstance(r, NotAuthenticated) for r in results)
    assert any(isinstance(r, AccountLocked) for r in results)
    events = await account_events(app, "cal")
    assert sum(1 for t, d, _ in events if t == "SignInFailed" and d["counted"]) == 5
    assert sum(1 for t, _, _ in events if t == "AccountLockedOut") == 1
    with pytest.raises(AccountLocked):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)


async def test_lockout_settings_are_honoured(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    strict = Casework(
        app.settings.model_copy(
            update={"sign_in_max_failures": 2, "sign_in_lockout": timedelta(hours=1)}
        ),
        app.pool,
        app.store,
    )
    await with_password(strict, clock, secrets_used, "cal")
    await wrong_password(strict, clock)
    with pytest.raises(AccountLocked) as locked:
        await sign_in(strict, "cal", "wrong again, sadly", now=clock.now)
    assert locked.value.until == clock.now + timedelta(hours=1)


@pytest.mark.usefixtures("cal")
async def test_a_session_ends_after_thirty_idle_minutes(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    for _ in range(5):  # kept busy: never idle
        await authenticate(app, session.token, now=clock.advance(minutes=29))
    clock.advance(minutes=30)
    with pytest.raises(NotAuthenticated, match=r"the session has ended \(idle\): sign in again"):
        await authenticate(app, session.token, now=clock.now)


@pytest.mark.usefixtures("cal")
async def test_a_session_ends_twelve_hours_after_sign_in_however_busy(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    signed_in_at = clock.now
    while clock.advance(minutes=20) < signed_in_at + timedelta(hours=12):
        await authenticate(app, session.token, now=clock.now)
    with pytest.raises(NotAuthenticated, match=r"\(expired\)"):
        await authenticate(app, session.token, now=clock.now)


@pytest.mark.usefixtures("cal")
async def test_last_seen_is_written_at_most_once_a_minute(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    start = clock.now
    await authenticate(app, session.token, now=clock.advance(seconds=30))
    seen = "SELECT last_seen_at FROM staff_sessions WHERE session_id = $1::uuid"
    assert await app.pool.fetchval(seen, session.session_id) == start
    await authenticate(app, session.token, now=clock.advance(seconds=30))
    assert await app.pool.fetchval(seen, session.session_id) == clock.now


@pytest.mark.usefixtures("cal")
async def test_sign_out_ends_the_session_at_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    other = await signed_in(app, clock, secrets_used, "cal")
    await sign_out(app, session.token, now=clock.now)
    with pytest.raises(NotAuthenticated, match=r"\(revoked\)"):
        await authenticate(app, session.token, now=clock.now)
    with pytest.raises(NotAuthenticated):
        await sign_out(app, session.token, now=clock.now)
    await authenticate(app, other.token, now=clock.now)  # the other session goes on
    *_, (kind, data, actor) = await account_events(app, "cal")
    assert (kind, data, actor) == (
        "SignedOut",
        {"staff_id": "cal", "session_id": session.session_id},
        "cal",
    )


@pytest.mark.usefixtures("cal")
async def test_unknown_or_malformed_tokens_are_refused(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    for token in ("", "cws_", session.token + "x", session.token[4:], "Bearer " + session.token):
        with pytest.raises(NotAuthenticated, match="not signed in"):
            await authenticate(app, token, now=clock.now)


@pytest.mark.usefixtures("cal")
async def test_deactivation_ends_the_members_sessions_at_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    await authenticate(app, session.token, now=clock.now)
    await deactivate_staff(app.store, ADA, "cal", "left the agency")
    with pytest.raises(NotAuthenticated, match="not signed in"):
        await authenticate(app, session.token, now=clock.now)
    with pytest.raises(NotAuthenticated, match=GENERIC):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)
    *_, (kind, data, _) = await account_events(app, "cal")
    assert (kind, data["reason"]) == ("SignInFailed", "deactivated")


@pytest.mark.usefixtures("cal")
async def test_a_change_of_role_applies_to_live_sessions_at_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await signed_in(app, clock, secrets_used, "cal")
    await change_staff(app.store, ADA, "cal", role="supervisor")
    principal = await authenticate(app, session.token, now=clock.now)
    assert principal.actor.role == "supervisor"


@pytest.mark.usefixtures("cal")
async def test_change_password_ends_the_other_sessions(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    here = await signed_in(app, clock, secrets_used, "cal")
    elsewhere = await signed_in(app, clock, secrets_used, "cal")
    principal = await authenticate(app, here.token, now=clock.now)
    new = "cal's new and longer passphrase"
    secrets_used.add(new)
    with pytest.raises(Refused, match="new_password: must be at least 12 characters long"):
        await change_password(app, principal, CAL_PASSWORD, "short", now=clock.now)
    with pytest.raises(Refused, match="current_password: does not match"):
        await change_password(app, principal, "a wrong current one", new, now=clock.now)
    await change_password(app, principal, CAL_PASSWORD, new, now=clock.now)
    await authenticate(app, here.token, now=clock.now)
    with pytest.raises(NotAuthenticated, match=r"\(revoked\)"):
        await authenticate(app, elsewhere.token, now=clock.now)
    with pytest.raises(NotAuthenticated):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)
    await sign_in(app, "cal", new, now=clock.now)
    changed = [d for t, d, _ in await account_events(app, "cal") if t == "PasswordSet"][-1]
    assert changed == {
        "staff_id": "cal",
        "via": "change",
        "invitation_id": None,
        "sessions_revoked": 1,
    }


async def test_single_sign_on_opens_a_session_for_active_members_only(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session = await sign_in_oidc(app, "sam", now=clock.now, client="sso")
    secrets_used.add(session.token)
    principal = await authenticate(app, session.token, now=clock.now)
    assert principal.method == "oidc" and principal.actor.staff_id == "sam"
    with pytest.raises(NotAuthenticated):
        await sign_in_oidc(app, "nobody", now=clock.now)
    with pytest.raises(NotPermitted):
        await change_password(app, principal, "x" * 12, "y" * 12, now=clock.now)
