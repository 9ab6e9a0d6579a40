"""The embedded PostgreSQL starts whatever the length of its data directory's path: it
listens on TCP only, so no Unix-domain socket path (at most 107 bytes) can stop it (a
test's data directory under a deep pytest temporary path did, as would an operator's)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from infrastructure.embedded_postgres import EmbeddedPostgres, free_port


async def test_a_data_directory_at_a_long_path_starts(tmp_path: Path) -> None:
    deep = tmp_path / ("a-data-directory-with-a-long-name-" * 3) / "postgres"
    assert len(str(deep / "pgdata" / ".s.PGSQL.59999")) > 107
    server = EmbeddedPostgres(deep, free_port())
    server.start()
    try:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres")
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
    finally:
        server.stop()
