from __future__ import annotations

import asyncio

import asyncpg
import pytest

from application.migrations import all_migrations, apply_migrations
from events.migrate import Migration, MigrationError, migrate


async def test_migrations_run_twice(empty_database_url: str) -> None:
    first = await apply_migrations(empty_database_url)
    second = await apply_migrations(empty_database_url)
    assert first == [m.version for m in all_migrations()]
    assert second == []


async def test_migrations_run_concurrently(empty_database_url: str) -> None:
    results = await asyncio.gather(*(apply_migrations(empty_database_url) for _ in range(4)))
    applied = [v for r in results for v in r]
    assert sorted(applied) == sorted(m.version for m in all_migrations())
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, [Migration("t", "0001_a.sql", "CREATE TABLE a (x int)")])
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, [Migration("t", "0001_a.sql", "CREATE TABLE a (y int)")])
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_done(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        broken = Migration("t", "0001_b.sql", "CREATE TABLE b (x int); SELECT no_such_function()")
        with pytest.raises(MigrationError, match=r"0001_b\.sql failed"):
            await migrate(conn, [broken])
        assert await conn.fetchval("SELECT to_regclass('b')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()
