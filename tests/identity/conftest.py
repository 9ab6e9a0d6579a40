"""Fixtures of the identity tests: a Casework on this test's database, a clock the
tests move, a staff directory, and a record of every secret handed out, which the
`app` fixture looks for in the whole event log when the test ends (it must find none).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from application.bootstrap import Casework
from application.identity import accept_invitation, invite, sign_in
from application.identity.principal import IssuedSession
from cases.actors import Actor, Role
from directory import add_staff, add_team, bootstrap_admin
from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.store import EventStore
from infrastructure.settings import Settings

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)

ADA = Actor(staff_id="ada", role=Role.ADMIN)
PASSWORDS = {
    "ada": "ada's correct horse battery",
    "cal": "cal likes long passphrases",
    "sam": "sam: supervisor of the north",
}


@dataclass
class Clock:
    """The time the use cases are told; tests move it."""

    now: datetime = START

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Secrets:
    """Every secret a test handled; none may appear in any event."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if v)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def secrets_used() -> Secrets:
    return Secrets(set(PASSWORDS.values()))


def settings_for(tmp_path: Path, keyring: MasterKeyring, **overrides: Any) -> Settings:
    return Settings(master_keys=keyring.to_spec(), data_dir=tmp_path, **overrides)


@pytest.fixture
async def app(
    pool: asyncpg.Pool,
    master_keyring: MasterKeyring,
    tmp_path: Path,
    secrets_used: Secrets,
) -> AsyncIterator[Casework]:
    """Casework as the entry points open it (the store with its cipher), on a staff
    directory of ada (admin), team north with sam (supervisor) and cal (caseworker)."""
    store = EventStore(pool, cipher=FieldCipher(master_keyring))
    await bootstrap_admin(store, "ada", "Ada Admin")
    await add_team(store, ADA, "north", "North team")
    await add_staff(store, ADA, "sam", "Sam Supervisor", "supervisor", "north")
    await add_staff(store, ADA, "cal", "Cal Caseworker", "caseworker", "north")
    yield Casework(settings_for(tmp_path, master_keyring), pool, store)
    found = await secrets_in_the_log(pool, secrets_used)
    assert not found, f"secrets in the event log: {found}"


async def stored_secret_forms(pool: asyncpg.Pool | asyncpg.Connection) -> set[str]:
    """What the identity tables hold of the secrets (hashes, digests, sealed secrets),
    as text, hex and base64: none of it may be in an event either."""
    import base64

    forms: set[str] = set()
    for row in await pool.fetch("SELECT password_hash FROM staff_credentials"):
        forms.add(row["password_hash"])
        forms.add(row["password_hash"].rsplit("$", 1)[-1])  # the hash without parameters
    digests = [
        *(r[0] for r in await pool.fetch("SELECT code_hash FROM staff_invitations")),
        *(r[0] for r in await pool.fetch("SELECT token_hash FROM staff_sessions")),
        *(r[0] for r in await pool.fetch("SELECT token_hash FROM staff_access_tokens")),
        *(r[0] for r in await pool.fetch("SELECT secret_sealed FROM staff_totp")),
    ]
    for raw in digests:
        forms.add(raw.hex())
        forms.add(base64.b64encode(raw).decode().rstrip("="))
        forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return forms


async def secrets_in_the_log(pool: asyncpg.Pool | asyncpg.Connection, used: Secrets) -> list[str]:
    """The secrets (and their stored forms) found in any event's data or metadata."""
    rows = await pool.fetch("SELECT data::text AS data, metadata::text AS metadata FROM events")
    log = "\n".join(f"{r['data']}\n{r['metadata']}" for r in rows)
    found = []
    for secret in used.values | await stored_secret_forms(pool):
        if secret.isdigit():  # a TOTP code: only as a number of its own, not inside a uuid
            if re.search(rf"(?<![0-9a-f]){secret}(?![0-9a-f])", log):
                found.append(secret)
        elif secret in log:
            found.append(secret)
    return found


async def with_password(app: Casework, clock: Clock, secrets_used: Secrets, staff_id: str) -> None:
    """Invite `staff_id` (by ada) and set their password from PASSWORDS."""
    invitation = await invite(app, ADA, staff_id, now=clock.now)
    secrets_used.add(invitation.code)
    await accept_invitation(app, staff_id, invitation.code, PASSWORDS[staff_id], now=clock.now)


async def signed_in(
    app: Casework, clock: Clock, secrets_used: Secrets, staff_id: str, **kw: Any
) -> IssuedSession:
    session = await sign_in(app, staff_id, PASSWORDS[staff_id], now=clock.now, **kw)
    secrets_used.add(session.token)
    return session


async def account_events(app: Casework, staff_id: str) -> list[tuple[str, dict[str, Any], str]]:
    """(type, data, actor id) of each event of the member's account stream."""
    return [
        (e.event_type, e.data, e.metadata.actor_id)
        for e in await app.store.read_stream(f"account-{staff_id}")
    ]
