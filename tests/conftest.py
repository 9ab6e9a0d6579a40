from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from casework.db import apply_migrations, create_pool
from events.store import EventStore
from tests.pg import create_database, drop_database, server_dsn, with_database


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


ROOT = Path(__file__).resolve().parent.parent
