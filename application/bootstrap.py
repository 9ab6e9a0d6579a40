"""The composition root: settings, the database pool, the event store with its cipher,
the Temporal client and the case client are built here and nowhere else.

Every entry point (the CLI, the worker, the embedded stack, the demo, the benches and
the tests) opens a `Casework` with `open_casework(...)` and calls use cases on it, so
no path can build an event store without the cipher or a Temporal client without
the payload codec.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
from temporalio.client import Client

from application.case_client import CaseClient
from cases.actors import Actor
from directory import resolve_actor
from events.crypto import FieldCipher
from events.store import EventStore
from infrastructure.database import (
    NOT_ANSWERING,
    close_pool,
    create_pool,
    database_not_answering,
    database_url,
)
from infrastructure.keys import master_keyring, origin_keyring
from infrastructure.settings import Settings, get_settings
from infrastructure.temporal import connect


def event_store(pool: asyncpg.Pool, settings: Settings) -> EventStore:
    """The event store over `pool`, personal fields sealed with the settings' master keys,
    every event signed with the settings' origin key (events/origin.py)."""
    return EventStore(
        pool,
        cipher=FieldCipher(
            master_keyring(settings), key_cache_seconds=settings.data_key_cache_seconds
        ),
        origin=origin_keyring(settings),
    )


@dataclass
class Casework:
    """What the use cases need, built once: the store now, Temporal on first use."""

    settings: Settings
    pool: asyncpg.Pool
    store: EventStore
    serve_metrics: bool = False
    _client: Client | None = field(default=None, repr=False)
    _cases: CaseClient | None = field(default=None, repr=False)
    oidc_verifier: object | None = field(default=None, repr=False)
    """Single sign-on's verifier with its cached discovery document and provider keys
    (`application.identity.jwks.verifier_of` makes it on first use)."""

    async def temporal(self) -> Client:
        """The Temporal client (with the payload codec), connected on first use;
        ServerNotAnswering (infrastructure/environment.py) when Temporal does not answer."""
        if self._client is None:
            self._client = await connect(self.settings, serve_metrics=self.serve_metrics)
        return self._client

    async def cases(self) -> CaseClient:
        """The case client: commands as Updates, state by Query, the log as fallback."""
        if self._cases is None:
            self._cases = CaseClient(await self.temporal(), self.settings.task_queue, self.store)
        return self._cases

    async def actor(self, staff_id: str) -> Actor:
        """The staff member acting, from the staff directory (active members only)."""
        return await resolve_actor(self.store, staff_id)


@asynccontextmanager
async def open_casework(
    settings: Settings | None = None,
    *,
    dsn: str | None = None,
    pool_size: int = 4,
    stateless_pool: bool = False,
    serve_metrics: bool = False,
    client: Client | None = None,
    service: bool = False,
) -> AsyncIterator[Casework]:
    """Casework on the settings' database (or `dsn`), closed on exit.

    `stateless_pool` for users that never leave session state on a connection (the
    worker): releasing one then costs no reset round trip. `client` to share a
    Temporal client that the caller already holds (tests on a test server).
    `service` for a long-running service (the worker, the API): it waits up to
    `database_start_wait_seconds` for a database that is not up yet; a database that
    does not answer raises ServerNotAnswering (infrastructure/environment.py).
    """
    settings = settings or get_settings()
    target = dsn or database_url(settings)
    try:
        pool = await create_pool(
            target,
            min_size=1,
            max_size=pool_size,
            stateless=stateless_pool,
            wait=settings.database_start_wait_seconds if service else 0.0,
        )
    except NOT_ANSWERING as exc:  # ServerNotAnswering is an OSError too: waiters still wait
        raise database_not_answering(target, exc) from exc
    try:
        yield Casework(
            settings,
            pool,
            event_store(pool, settings),
            serve_metrics=serve_metrics,
            _client=client,
        )
    finally:
        await close_pool(pool)
