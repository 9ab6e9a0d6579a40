"""No secret reaches the event log, and the projector takes account events in its stride.

Every test of this package ends with the `app` fixture scanning the whole event log
(data and metadata of every event) for each password, invitation code, session and
access token, TOTP secret and code it used, and for the hashes, digests and sealed
secrets of the identity tables. The test here makes that scan explicit over a
session that uses every kind of secret, and checks the scan itself finds a planted
one.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from application.bootstrap import Casework
from application.identity import (
    NotAuthenticated,
    authenticate,
    confirm_totp,
    create_access_token,
    enrol_totp,
    revoke_access_token,
    sign_in,
    sign_out,
)
from application.identity.credentials import totp_code_at
from events.directory_events import ACCOUNT_EVENT_MODELS
from events.envelope import EventMetadata
from events.registry import event_type_of
from events.store import EventStore
from projections.catalog import all_projections
from tests.identity.conftest import (
    PASSWORDS,
    Clock,
    Secrets,
    secrets_in_the_log,
    signed_in,
    with_password,
)
from tests.projections.conftest import catch_up


async def test_no_password_hash_code_token_or_totp_secret_is_in_any_event(
    app: Casework, clock: Clock, secrets_used: Secrets
) -> None:
    for staff_id in ("ada", "cal"):
        await with_password(app, clock, secrets_used, staff_id)
    session = await signed_in(app, clock, secrets_used, "cal", client="10.0.0.7 firefox")
    cal = await authenticate(app, session.token, now=clock.now)
    enrolment = await enrol_totp(app, cal, now=clock.now)
    code = totp_code_at(enrolment.secret, clock.now)
    secrets_used.add(enrolment.secret, enrolment.uri, code)
    await confirm_totp(app, cal, code, now=clock.now)
    token = await create_access_token(app, cal, "export", timedelta(days=30), now=clock.now)
    secrets_used.add(token.token)
    await authenticate(app, token.token, now=clock.now)
    await revoke_access_token(app, cal, token.token_id, now=clock.now)
    clock.advance(minutes=1)
    later = totp_code_at(enrolment.secret, clock.now)
    secrets_used.add(later)
    # Secrets typed in the wrong place are not recorded either, nor a token that found
    # its way into the client's description (a header copied whole).
    for wrong in (PASSWORDS["ada"], token.token, session.token):
        header = "" if wrong == PASSWORDS["ada"] else f"; auth={wrong}"
        with pytest.raises(NotAuthenticated):
            await sign_in(app, "cal", wrong, totp=later, now=clock.now, client=f"ua{header}")
    again = await sign_in(app, "cal", PASSWORDS["cal"], totp=later, now=clock.now)
    secrets_used.add(again.token)
    await sign_out(app, again.token, now=clock.now)
    await sign_out(app, session.token, now=clock.now)

    count = await app.pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'account-%'")
    assert count >= 15
    assert await secrets_in_the_log(app.pool, secrets_used) == []
    # The identity tables hold no secret in the clear either.
    tables = await app.pool.fetchval(
        """SELECT concat_ws(' ', (SELECT string_agg(t::text, ' ') FROM staff_credentials t),
                  (SELECT string_agg(t::text, ' ') FROM staff_invitations t),
                  (SELECT string_agg(t::text, ' ') FROM staff_sessions t),
                  (SELECT string_agg(t::text, ' ') FROM staff_access_tokens t),
                  (SELECT string_agg(t::text, ' ') FROM staff_totp t))"""
    )
    for secret in secrets_used.values:
        if not secret.isdigit():
            assert secret not in tables


async def test_the_scan_finds_a_planted_secret(pool: asyncpg.Pool) -> None:
    planted = "cwp_planted-secret-" + uuid.uuid4().hex
    metadata = EventMetadata(actor_id="ada", actor_role="admin", correlation_id=planted)
    await pool.execute(
        """INSERT INTO events (stream_id, stream_version, event_id, event_type,
               schema_version, data, metadata, occurred_at)
           VALUES ('account-x', 1, $1, 'SignedOut', 1, $2::jsonb, $3::jsonb, now())""",
        uuid.uuid4(),
        '{"staff_id": "x", "session_id": "s"}',
        metadata.model_dump_json(),
    )
    assert await secrets_in_the_log(pool, Secrets({planted, "123456"})) == [planted]


def test_every_projection_ignores_the_account_events() -> None:
    types = {event_type_of(m) for m in ACCOUNT_EVENT_MODELS}
    for projection in all_projections():
        assert types <= projection.ignores, projection.name


async def test_the_projector_runs_over_account_events(
    app: Casework, clock: Clock, secrets_used: Secrets, database_url: str
) -> None:
    await with_password(app, clock, secrets_used, "cal")
    await signed_in(app, clock, secrets_used, "cal")
    await catch_up(database_url, EventStore(app.pool))  # raises if a projection stops
    status = await app.pool.fetch("SELECT name, global_position FROM projection_checkpoints")
    last = await app.pool.fetchval("SELECT max(global_position) FROM events")
    assert len(status) == len(all_projections())
    assert all(r["global_position"] == last for r in status)
