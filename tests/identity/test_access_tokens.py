"""Personal access tokens: made from a session, shown once, used by scripts, last use
recorded, revocable, expiring, and useless once their owner is deactivated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.bootstrap import Casework
from application.identity import (
    NotAuthenticated,
    authenticate,
    create_access_token,
    list_access_tokens,
    revoke_access_token,
    sign_out,
)
from application.identity.principal import Principal
from directory import NotFound, NotPermitted, Refused, deactivate_staff
from events.registry import EventValidationError
from tests.identity.conftest import (
    ADA,
    Clock,
    Secrets,
    account_events,
    signed_in,
    with_password,
)


async def session_of(
    app: Casework, clock: Clock, secrets_used: Secrets, staff_id: str
) -> tuple[str, Principal]:
    await with_password(app, clock, secrets_used, staff_id)
    session = await signed_in(app, clock, secrets_used, staff_id)
    return session.token, await authenticate(app, session.token, now=clock.now)


async def test_a_token_is_shown_once_and_acts_as_its_owner(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    session_token, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(
        app, cal, "nightly export", timedelta(days=30), now=clock.now
    )
    secrets_used.add(issued.token)
    assert issued.token.startswith("cwp_") and issued.token not in repr(issued)
    assert issued.expires_at == clock.now + timedelta(days=30)

    # The session ends; the script's token goes on, as cal, with cal's current role.
    await sign_out(app, session_token, now=clock.now)
    principal = await authenticate(app, issued.token, now=clock.advance(hours=13))
    assert principal.method == "token" and principal.credential_id == issued.token_id
    assert principal.actor.staff_id == "cal" and principal.actor.team == "north"

    (listed,) = await list_access_tokens(app, principal)
    assert (listed.token_id, listed.name, listed.last_used_at) == (
        issued.token_id,
        "nightly export",
        clock.now,
    )
    created = next(d for t, d, _ in await account_events(app, "cal") if t == "AccessTokenCreated")
    assert created == {
        "staff_id": "cal",
        "token_id": issued.token_id,
        "name": "nightly export",
        "expires_at": issued.expires_at.isoformat().replace("+00:00", "Z"),
    }


async def test_last_used_is_recorded_at_most_once_a_minute(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(app, cal, "sync", timedelta(days=1), now=clock.now)
    secrets_used.add(issued.token)
    query = "SELECT last_used_at FROM staff_access_tokens WHERE token_id = $1::uuid"
    assert await app.pool.fetchval(query, issued.token_id) is None
    first = clock.advance(minutes=5)
    await authenticate(app, issued.token, now=first)
    await authenticate(app, issued.token, now=clock.advance(seconds=59))
    assert await app.pool.fetchval(query, issued.token_id) == first
    await authenticate(app, issued.token, now=clock.advance(seconds=1))
    assert await app.pool.fetchval(query, issued.token_id) == clock.now


async def test_a_token_expires(app: Casework, clock: Clock, secrets_used: Secrets) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(app, cal, "short", timedelta(hours=1), now=clock.now)
    secrets_used.add(issued.token)
    await authenticate(app, issued.token, now=clock.advance(minutes=59))
    with pytest.raises(NotAuthenticated, match="the access token is expired"):
        await authenticate(app, issued.token, now=clock.advance(minutes=1))


async def test_a_revoked_token_stops_at_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(app, cal, "laptop", timedelta(days=7), now=clock.now)
    secrets_used.add(issued.token)
    by_token = await authenticate(app, issued.token, now=clock.now)
    await revoke_access_token(app, by_token, issued.token_id, now=clock.now)  # itself
    with pytest.raises(NotAuthenticated, match="the access token is revoked"):
        await authenticate(app, issued.token, now=clock.now)
    with pytest.raises(Refused, match="revoked already"):
        await revoke_access_token(app, cal, issued.token_id, now=clock.now)
    *_, (kind, data, actor) = await account_events(app, "cal")
    assert (kind, data, actor) == (
        "AccessTokenRevoked",
        {"staff_id": "cal", "token_id": issued.token_id},
        "cal",
    )
    (listed,) = await list_access_tokens(app, cal)
    assert listed.revoked_at == clock.now


async def test_only_the_owner_or_an_admin_revokes(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    _, sam = await session_of(app, clock, secrets_used, "sam")
    _, ada = await session_of(app, clock, secrets_used, "ada")
    issued = await create_access_token(app, cal, "cal's", timedelta(days=7), now=clock.now)
    secrets_used.add(issued.token)
    with pytest.raises(NotFound, match="no access token"):
        await revoke_access_token(app, sam, issued.token_id, now=clock.now)
    with pytest.raises(NotFound, match="no access token"):
        await revoke_access_token(app, sam, "not-a-uuid", now=clock.now)
    with pytest.raises(NotPermitted):
        await list_access_tokens(app, sam, staff_id="cal")
    assert [t.token_id for t in await list_access_tokens(app, ada, staff_id="cal")] == [
        issued.token_id
    ]
    await revoke_access_token(app, ada, issued.token_id, now=clock.now)
    with pytest.raises(NotAuthenticated):
        await authenticate(app, issued.token, now=clock.now)
    *_, (kind, _data, actor) = await account_events(app, "cal")
    assert (kind, actor) == ("AccessTokenRevoked", "ada")


async def test_a_token_cannot_make_another(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(app, cal, "ci", timedelta(days=1), now=clock.now)
    secrets_used.add(issued.token)
    by_token = await authenticate(app, issued.token, now=clock.now)
    with pytest.raises(NotPermitted, match="an access token cannot create another"):
        await create_access_token(app, by_token, "more", timedelta(days=1), now=clock.now)


async def test_lifetime_and_name_are_checked_naming_the_field(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    with pytest.raises(Refused, match="expires_in: at most 366 days"):
        await create_access_token(app, cal, "forever", timedelta(days=3650), now=clock.now)
    with pytest.raises(Refused, match="expires_in: must be a positive duration"):
        await create_access_token(app, cal, "past", timedelta(seconds=-1), now=clock.now)
    with pytest.raises(EventValidationError, match="name:"):
        await create_access_token(app, cal, "", timedelta(days=1), now=clock.now)
    with pytest.raises(EventValidationError, match=r"name: .*must not contain a Casework token"):
        await create_access_token(app, cal, "cwp_" + "A" * 30, timedelta(days=1), now=clock.now)
    assert await list_access_tokens(app, cal) == []


async def test_deactivation_stops_the_owners_tokens_at_once(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    _, cal = await session_of(app, clock, secrets_used, "cal")
    issued = await create_access_token(app, cal, "cron", timedelta(days=30), now=clock.now)
    secrets_used.add(issued.token)
    await authenticate(app, issued.token, now=clock.now)
    await deactivate_staff(app.store, ADA, "cal", "left the agency")
    with pytest.raises(NotAuthenticated, match="not signed in"):
        await authenticate(app, issued.token, now=clock.now)
