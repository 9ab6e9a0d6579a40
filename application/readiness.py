"""Readiness of a service: whether the servers it depends on answer now.

`casework ready` runs it as a container's health check (docker-compose.yml): the worker
and the API need PostgreSQL and Temporal, the projector and the notary PostgreSQL only.
A dependency that refuses, does not answer within the timeout, or answers an error
makes the service not ready, named with the reason; the check holds no key (it reads
nothing but the servers' answers to `SELECT 1` and Temporal's health check).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from enum import StrEnum

import asyncpg
from temporalio.client import Client

from infrastructure.database import database_url
from infrastructure.environment import one_line
from infrastructure.settings import Settings

TIMEOUT = timedelta(seconds=5)


class Dependency(StrEnum):
    POSTGRESQL = "postgresql"
    TEMPORAL = "temporal"


async def _postgresql(settings: Settings) -> None:
    conn = await asyncpg.connect(database_url(settings), timeout=TIMEOUT.total_seconds())
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def _temporal(settings: Settings) -> None:
    client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
    )
    await client.service_client.check_health(timeout=TIMEOUT)


async def readiness(settings: Settings, needs: list[Dependency]) -> dict[str, str]:
    """Each of `needs`: "ok", or "unavailable: <why>"."""
    checks = {Dependency.POSTGRESQL: _postgresql, Dependency.TEMPORAL: _temporal}

    async def one(dependency: Dependency) -> str:
        try:
            await asyncio.wait_for(checks[dependency](settings), TIMEOUT.total_seconds() + 1)
        except Exception as exc:  # any failure is the answer, not an error of the check
            reason = one_line(str(exc)) or type(exc).__name__
            return f"unavailable: {reason[:200]}"
        return "ok"

    answers = await asyncio.gather(*(one(d) for d in needs))
    return {d.value: a for d, a in zip(needs, answers, strict=True)}
