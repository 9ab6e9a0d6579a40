"""A service started before its database waits for it; a command run by hand does not.

The database here is the tests' real PostgreSQL, reached through a TCP relay on a port
of our own (tests/relay.py): while the relay is not listening the port refuses
connections, as a server that is down or restarting does.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from structlog.testing import capture_logs

from infrastructure.database import create_pool
from infrastructure.embedded_postgres import free_port
from infrastructure.settings import Settings
from tests.relay import relay, through_port

WAITING = "database not available yet; retrying"


async def _until(condition: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_service_waits_for_a_database_that_comes_up(database_url: str) -> None:
    port = free_port()
    with capture_logs() as logs:
        pool_task = asyncio.create_task(create_pool(through_port(database_url, port), wait=120))
        # Refused at least twice: the service is waiting, not failed.
        await _until(lambda: sum(e["event"] == WAITING for e in logs) >= 2)
        assert not pool_task.done()
        async with relay(port, database_url):
            pool = await asyncio.wait_for(pool_task, 60)
            try:
                assert await pool.fetchval("SELECT count(*) FROM events") >= 0
            finally:
                await pool.close()
    misses = [e for e in logs if e["event"] == WAITING]
    assert [e["attempt"] for e in misses[:2]] == [1, 2]
    assert all(e["log_level"] == "warning" and e["error"] for e in misses)


async def test_a_command_run_by_hand_fails_at_once(database_url: str) -> None:
    with capture_logs() as logs, pytest.raises(OSError):
        await create_pool(through_port(database_url, free_port()), wait=0)
    assert not [e for e in logs if e["event"] == WAITING]


async def test_a_wrong_dsn_is_not_waited_for(database_url: str) -> None:
    wrong = through_port(database_url, free_port()) + "?sslmode=sometimes"
    started = time.monotonic()
    with pytest.raises(asyncpg.ClientConfigurationError):
        await create_pool(wrong, wait=60)
    assert time.monotonic() - started < 30  # refused at the first attempt, not after 60 s


async def test_a_service_gives_up_once_its_wait_has_passed(database_url: str) -> None:
    started = time.monotonic()
    with capture_logs() as logs, pytest.raises(OSError):
        await create_pool(through_port(database_url, free_port()), wait=2.0)
    assert time.monotonic() - started >= 2.0
    assert [e for e in logs if e["event"] == WAITING]


def test_the_wait_is_a_setting_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEWORK_DATABASE_START_WAIT_SECONDS", raising=False)
    assert Settings().database_start_wait_seconds == 60.0
    assert Settings(CASEWORK_DATABASE_START_WAIT_SECONDS="0").database_start_wait_seconds == 0.0
    with pytest.raises(ValueError, match="CASEWORK_DATABASE_START_WAIT_SECONDS"):
        Settings(CASEWORK_DATABASE_START_WAIT_SECONDS="-1")
