"""The TOTP second factor: enrolment shown once, codes required and used once, admins
held to it when the settings say so, the secret sealed and never in an event."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from pydantic import SecretStr

from application.bootstrap import Casework
from application.identity import (
    NotAuthenticated,
    SecondFactorEnrolmentRequired,
    SecondFactorRequired,
    authenticate,
    confirm_totp,
    create_access_token,
    enrol_totp,
    sign_in,
)
from application.identity.credentials import totp_code_at
from application.identity.principal import Principal
from directory import NotPermitted, Refused, change_staff
from events.keys import MasterKeyring
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


async def enrolled(app: Casework, clock: Clock, secrets_used: Secrets, principal: Principal) -> str:
    """Enrol and confirm TOTP for the principal; the secret."""
    enrolment = await enrol_totp(app, principal, now=clock.now)
    code = totp_code_at(enrolment.secret, clock.now)
    secrets_used.add(enrolment.secret, enrolment.uri, code)
    await confirm_totp(app, principal, code, now=clock.now)
    return enrolment.secret


def code_at(secrets_used: Secrets, secret: str, clock: Clock) -> str:
    code = totp_code_at(secret, clock.now)
    secrets_used.add(code)
    return code


async def test_enrolled_members_need_a_code_each_used_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    session = await signed_in(app, clock, secrets_used, "cal")
    principal = await authenticate(app, session.token, now=clock.now)
    enrolment = await enrol_totp(app, principal, now=clock.now)
    secrets_used.add(enrolment.secret, enrolment.uri)
    assert enrolment.secret not in repr(enrolment)
    assert enrolment.uri.startswith("otpauth://totp/Casework:cal?")
    assert pyotp.parse_uri(enrolment.uri).secret == enrolment.secret
    # Not on before it is confirmed: a password alone still signs in.
    await signed_in(app, clock, secrets_used, "cal")
    with pytest.raises(Refused, match="code: does not match"):
        await confirm_totp(app, principal, "000000", now=clock.now)
    await confirm_totp(
        app, principal, code_at(secrets_used, enrolment.secret, clock), now=clock.now
    )
    with pytest.raises(Refused, match="totp: already enabled"):
        await enrol_totp(app, principal, now=clock.now)

    clock.advance(minutes=1)
    with pytest.raises(SecondFactorRequired, match="totp: a code"):
        await sign_in(app, "cal", CAL_PASSWORD, now=clock.now)
    code = code_at(secrets_used, enrolment.secret, clock)
    with_code = await sign_in(app, "cal", CAL_PASSWORD, totp=code, now=clock.now)
    secrets_used.add(with_code.token)
    await authenticate(app, with_code.token, now=clock.now)
    # The same code again (replayed) is refused, and counts as a failure.
    with pytest.raises(NotAuthenticated, match="sign-in failed"):
        await sign_in(app, "cal", CAL_PASSWORD, totp=code, now=clock.now)
    # A code 30 seconds off (the app's clock drifts) is fine.
    clock.advance(seconds=60)
    drifted = totp_code_at(enrolment.secret, clock.now - timedelta(seconds=30))
    secrets_used.add(drifted)
    again = await sign_in(app, "cal", CAL_PASSWORD, totp=drifted, now=clock.now)
    secrets_used.add(again.token)

    kinds = [
        (t, d.get("second_factor"), d.get("reason")) for t, d, _ in await account_events(app, "cal")
    ]
    assert ("TotpEnrolmentStarted", None, None) in kinds and ("TotpEnabled", None, None) in kinds
    assert kinds[-3:] == [
        ("SignInSucceeded", "totp", None),
        ("SignInFailed", None, "wrong_totp"),
        ("SignInSucceeded", "totp", None),
    ]


async def test_wrong_codes_count_towards_the_lockout(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    session = await signed_in(app, clock, secrets_used, "cal")
    secret = await enrolled(
        app, clock, secrets_used, await authenticate(app, session.token, now=clock.now)
    )
    clock.advance(minutes=1)
    right = totp_code_at(secret, clock.now)
    wrong = "123456" if right != "123456" else "654321"
    for _ in range(4):
        with pytest.raises(NotAuthenticated, match="sign-in failed"):
            await sign_in(app, "cal", CAL_PASSWORD, totp=wrong, now=clock.now)
    with pytest.raises(NotAuthenticated, match="locked until"):
        await sign_in(app, "cal", CAL_PASSWORD, totp=wrong, now=clock.now)


async def test_the_secret_is_stored_sealed_and_opens_with_the_master_key_only(
    app: Casework, clock: Clock, secrets_used: Secrets, master_keyring: MasterKeyring
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    session = await signed_in(app, clock, secrets_used, "cal")
    secret = await enrolled(
        app, clock, secrets_used, await authenticate(app, session.token, now=clock.now)
    )
    row = await app.pool.fetchrow("SELECT key_id, secret_sealed FROM staff_totp")
    assert row["key_id"] == master_keyring.current_id
    assert secret.encode() not in row["secret_sealed"]
    dump = await app.pool.fetchval("SELECT string_agg(t::text, ' ') FROM staff_totp t")
    assert secret not in dump
    # Under another master key the secret does not open: sign-in fails closed.
    other = Casework(
        app.settings.model_copy(
            update={"master_keys": SecretStr(MasterKeyring.generate().to_spec())}
        ),
        app.pool,
        app.store,
    )
    with pytest.raises(Exception, match="not configured"):
        await sign_in(
            other, "cal", CAL_PASSWORD, totp=totp_code_at(secret, clock.now), now=clock.now
        )


async def test_admins_must_enrol_when_the_setting_says_so(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    strict = Casework(
        app.settings.model_copy(update={"totp_required_for_admins": True}), app.pool, app.store
    )
    await with_password(strict, clock, secrets_used, "ada")
    await with_password(strict, clock, secrets_used, "cal")
    # A caseworker is not held to it.
    cal = await signed_in(strict, clock, secrets_used, "cal")
    assert not cal.enrolment_only
    await authenticate(strict, cal.token, now=clock.now)

    first = await signed_in(strict, clock, secrets_used, "ada")
    assert first.enrolment_only
    with pytest.raises(SecondFactorEnrolmentRequired):
        await authenticate(strict, first.token, now=clock.now)
    limited = await authenticate(strict, first.token, now=clock.now, allow_enrolment_only=True)
    assert limited.enrolment_only
    with pytest.raises(SecondFactorEnrolmentRequired):
        await create_access_token(strict, limited, "x", timedelta(days=1), now=clock.now)
    secret = await enrolled(strict, clock, secrets_used, limited)
    # Confirming made this session a full one.
    full = await authenticate(strict, first.token, now=clock.now)
    assert not full.enrolment_only

    clock.advance(minutes=1)
    with pytest.raises(SecondFactorRequired):
        await sign_in(strict, "ada", PASSWORDS["ada"], now=clock.now)
    later = await sign_in(
        strict, "ada", PASSWORDS["ada"], totp=code_at(secrets_used, secret, clock), now=clock.now
    )
    secrets_used.add(later.token)
    assert not later.enrolment_only
    await authenticate(strict, later.token, now=clock.now)


async def test_a_member_made_admin_signs_in_again_with_their_code(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    strict = Casework(
        app.settings.model_copy(update={"totp_required_for_admins": True}), app.pool, app.store
    )
    await with_password(strict, clock, secrets_used, "sam")
    password_only = await signed_in(strict, clock, secrets_used, "sam")
    enrolling = await signed_in(strict, clock, secrets_used, "sam")
    await enrolled(
        strict, clock, secrets_used, await authenticate(strict, enrolling.token, now=clock.now)
    )
    await change_staff(strict.store, ADA, "sam", role="admin", team=None)
    # The session that confirmed the code proved it; the other one never did.
    principal = await authenticate(strict, enrolling.token, now=clock.now)
    assert principal.actor.role == "admin" and not principal.enrolment_only
    with pytest.raises(NotAuthenticated, match="sign in again with your TOTP code"):
        await authenticate(strict, password_only.token, now=clock.now)


async def test_access_tokens_cannot_enrol(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    session = await signed_in(app, clock, secrets_used, "cal")
    principal = await authenticate(app, session.token, now=clock.now)
    issued = await create_access_token(app, principal, "script", timedelta(days=1), now=clock.now)
    secrets_used.add(issued.token)
    by_token = await authenticate(app, issued.token, now=clock.now)
    with pytest.raises(NotPermitted):
        await enrol_totp(app, by_token, now=clock.now)
    with pytest.raises(NotPermitted):
        await confirm_totp(app, by_token, "123456", now=clock.now)
