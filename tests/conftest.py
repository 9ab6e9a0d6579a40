from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from application.migrations import apply_migrations
from application.runtime import cache_workflow_bytecode
from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.store import EventStore
from infrastructure.database import create_pool
from infrastructure.keys import allow_development_keys
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.pg import create_database, drop_database, server_dsn, with_database
from tests.replay_everything import Replayed, replay_case_histories
from tests.temporal_env import DEV_SERVER, TEST_SERVER
from workflows import search_attributes as sa


@pytest.fixture(scope="session", autouse=True)
def workflow_bytecode() -> None:
    """The tests' workers (built here and there, not all by `build_worker`) read the
    workflow module's bytecode instead of compiling it for every workflow run."""
    cache_workflow_bytecode()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dsn, owned = server_dsn(tmp_path_factory.mktemp("pg"))
    try:
        yield dsn
    finally:
        if owned is not None:
            owned.stop()


@pytest.fixture(scope="session")
async def migrated_template(pg_server: str) -> AsyncIterator[str]:
    """A database with every migration applied, copied for each test."""
    name = await create_database(pg_server)
    await apply_migrations(with_database(pg_server, name))
    try:
        yield name
    finally:
        await drop_database(pg_server, name)


allow_development_keys()
"""In-process tests use the development keys of their data directories, as the embedded
stack does; the processes they start outside it are given keys (tests/keys.py)."""

SHARED_REPLAYED = Replayed()
"""The runs of the session's shared time-skipping server replayed so far."""


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (shipped binary), shared by the session."""
    async with time_skipping_server(SHARED_REPLAYED) as env:
        yield env


@pytest.fixture(autouse=True)
async def replay_what_the_test_made(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that used the shared time-skipping server: every case workflow run it
    made (or moved on) replays from a cold cache (tests/replay_everything.py). Servers of a
    test's own are replayed before they stop."""
    yield
    if "time_skipping_env" in request.fixturenames:
        env = request.getfixturevalue("time_skipping_env")
        await replay_case_histories(env.client, SHARED_REPLAYED)


@asynccontextmanager
async def time_skipping_server(
    replayed: Replayed | None = None,
) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of one's own (tests that jump time use one each:
    another test's cases left on a shared server would hold back its time jumps).
    Its case workflows are replayed from a cold cache before it stops."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=TEST_DATA_CONVERTER
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: cast(Any, k.indexed_value_type.value) for k in sa.ALL},
        )
    )
    try:
        yield env
        await replay_case_histories(env.client, replayed)
    finally:
        await env.shutdown()


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (shipped binary, in-memory), for what needs visibility.
    Its case workflows are replayed from a cold cache before it stops."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(DEV_SERVER),
        data_converter=TEST_DATA_CONVERTER,
        search_attributes=sa.ALL,
    )
    try:
        yield env
        await replay_case_histories(env.client)
    finally:
        await env.shutdown()


@pytest.fixture
async def database_url(pg_server: str, migrated_template: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = await create_database(pg_server, template=migrated_template)
    try:
        yield with_database(pg_server, name)
    finally:
        await drop_database(pg_server, name)


@pytest.fixture
async def empty_database_url(pg_server: str) -> AsyncIterator[str]:
    """A fresh database with no migration applied."""
    name = await create_database(pg_server)
    try:
        yield with_database(pg_server, name)
    finally:
        await drop_database(pg_server, name)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=12)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def store(pool: asyncpg.Pool) -> EventStore:
    return EventStore(pool)


@pytest.fixture(scope="session")
def master_keyring() -> MasterKeyring:
    return MasterKeyring.generate("test-master")


@pytest.fixture
async def sealed_store(pool: asyncpg.Pool, master_keyring: MasterKeyring) -> EventStore:
    """The store as the worker runs it: personal fields encrypted per client."""
    return EventStore(pool, cipher=FieldCipher(master_keyring))


ROOT = Path(__file__).resolve().parent.parent
