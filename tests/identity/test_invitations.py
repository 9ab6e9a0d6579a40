"""Invitations: admins issue them, a code sets a password once, before it expires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.bootstrap import Casework
from application.identity import (
    InvitationInvalid,
    NotAuthenticated,
    accept_invitation,
    authenticate,
    invite,
    sign_in,
)
from cases.actors import Actor, Role
from directory import NotFound, NotPermitted, Refused, deactivate_staff
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


async def test_an_invitation_sets_the_password_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    invitation = await invite(app, ADA, "cal", now=clock.now)
    secrets_used.add(invitation.code)
    assert invitation.expires_at == clock.now + timedelta(hours=72)
    assert invitation.code not in repr(invitation)

    clock.advance(hours=1)
    await accept_invitation(app, "cal", invitation.code, CAL_PASSWORD, now=clock.now)
    await signed_in(app, clock, secrets_used, "cal")

    with pytest.raises(InvitationInvalid, match="code: this invitation was used already"):
        await accept_invitation(app, "cal", invitation.code, "another long password", now=clock.now)
    # The old password still works: the second attempt changed nothing.
    await signed_in(app, clock, secrets_used, "cal")

    assert [(t, actor) for t, _data, actor in await account_events(app, "cal")] == [
        ("StaffInvited", "ada"),
        ("PasswordSet", "cal"),
        ("SignInSucceeded", "cal"),
        ("SignInSucceeded", "cal"),
    ]
    (_, invited, _), (_, password_set, _) = (await account_events(app, "cal"))[:2]
    assert invited == {
        "staff_id": "cal",
        "invitation_id": invitation.invitation_id,
        "expires_at": invitation.expires_at.isoformat().replace("+00:00", "Z"),
    }
    assert password_set["via"] == "invitation"


async def test_an_expired_invitation_is_refused(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    invitation = await invite(app, ADA, "cal", now=clock.now)
    secrets_used.add(invitation.code)
    clock.advance(hours=72)
    with pytest.raises(InvitationInvalid, match="code: this invitation has expired"):
        await accept_invitation(app, "cal", invitation.code, CAL_PASSWORD, now=clock.now)
    with pytest.raises(NotAuthenticated):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)


async def test_the_invitation_lifetime_is_configurable(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    short = Casework(
        app.settings.model_copy(update={"invitation_lifetime": timedelta(hours=1)}),
        app.pool,
        app.store,
    )
    invitation = await invite(short, ADA, "cal", now=clock.now)
    secrets_used.add(invitation.code)
    assert invitation.expires_at == clock.now + timedelta(hours=1)


async def test_a_wrong_code_or_another_members_code_is_refused_alike(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    for_cal = await invite(app, ADA, "cal", now=clock.now)
    secrets_used.add(for_cal.code)
    messages = set()
    for staff_id, code in (
        ("cal", for_cal.code[:-2] + "xx"),
        ("sam", for_cal.code),  # cal's code for sam
        ("nobody", for_cal.code),  # an unknown id: the same answer
        ("cal", ""),
    ):
        with pytest.raises(InvitationInvalid) as refused:
            await accept_invitation(app, staff_id, code, "a fine long password", now=clock.now)
        messages.add(str(refused.value))
    assert messages == {
        "code: not a valid invitation for this staff id; ask an admin for a new invitation"
    }
    # cal's code still works after all that.
    await accept_invitation(app, "cal", for_cal.code, CAL_PASSWORD, now=clock.now)


async def test_a_newer_invitation_replaces_the_older_one(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    first = await invite(app, ADA, "cal", now=clock.now)
    second = await invite(app, ADA, "cal", now=clock.advance(minutes=5))
    secrets_used.add(first.code, second.code)
    assert first.code != second.code
    with pytest.raises(InvitationInvalid, match="a newer invitation replaced this one"):
        await accept_invitation(app, "cal", first.code, CAL_PASSWORD, now=clock.now)
    await accept_invitation(app, "cal", second.code, CAL_PASSWORD, now=clock.now)


async def test_the_password_policy_is_checked_without_using_up_the_code(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    invitation = await invite(app, ADA, "cal", now=clock.now)
    secrets_used.add(invitation.code, "too short", "calcalcalcalcal")
    with pytest.raises(Refused, match="password: must be at least 12 characters long"):
        await accept_invitation(app, "cal", invitation.code, "too short", now=clock.now)
    with pytest.raises(Refused, match="password: must not be the staff id"):
        await accept_invitation(app, "cal", invitation.code, "calcalcalcalcal", now=clock.now)
    await accept_invitation(app, "cal", invitation.code, CAL_PASSWORD, now=clock.now)


@pytest.mark.parametrize(
    "inviter",
    [
        Actor(staff_id="sam", role=Role.SUPERVISOR, team="north"),
        Actor(staff_id="cal", role=Role.CASEWORKER, team="north"),
        Actor(staff_id="mia", role=Role.MANAGER),
        Actor(staff_id="aud", role=Role.AUDITOR),
    ],
)
async def test_only_admins_invite(app: Casework, clock: Clock, inviter: Actor) -> None:
    with pytest.raises(NotPermitted, match="only an admin issues invitations"):
        await invite(app, inviter, "cal", now=clock.now)
    assert await account_events(app, "cal") == []
    assert await app.pool.fetchval("SELECT count(*) FROM staff_invitations") == 0


async def test_unknown_and_deactivated_members_are_not_invited(app: Casework, clock: Clock) -> None:
    with pytest.raises(NotFound, match="no staff member 'nobody'"):
        await invite(app, ADA, "nobody", now=clock.now)
    await deactivate_staff(app.store, ADA, "cal", "left the agency")
    with pytest.raises(Refused, match="staff_id: cal is deactivated"):
        await invite(app, ADA, "cal", now=clock.now)


async def test_a_code_issued_before_deactivation_no_longer_works(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    invitation = await invite(app, ADA, "cal", now=clock.now)
    secrets_used.add(invitation.code)
    await deactivate_staff(app.store, ADA, "cal", "left the agency")
    with pytest.raises(InvitationInvalid, match="not a valid invitation"):
        await accept_invitation(app, "cal", invitation.code, CAL_PASSWORD, now=clock.now)


async def test_a_new_invitation_resets_a_forgotten_password_and_ends_sessions(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    session = await signed_in(app, clock, secrets_used, "cal")
    reset = await invite(app, ADA, "cal", now=clock.advance(minutes=10))
    secrets_used.add(reset.code, "a brand new passphrase")
    await accept_invitation(app, "cal", reset.code, "a brand new passphrase", now=clock.now)
    with pytest.raises(NotAuthenticated):
        await authenticate(app, session.token, now=clock.now)
    with pytest.raises(NotAuthenticated):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)
    await sign_in(app, "cal", "a brand new passphrase", now=clock.now)
    (_, data, _) = [e for e in await account_events(app, "cal") if e[0] == "PasswordSet"][-1]
    assert data["sessions_revoked"] == 1
