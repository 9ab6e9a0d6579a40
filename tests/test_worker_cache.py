"""The worker keeps as many cases in memory as the settings say."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from application.runtime import build_worker
from events.store import EventStore
from infrastructure.settings import Settings


async def test_the_worker_keeps_as_many_cases_as_the_settings_say(
    time_skipping_env: WorkflowEnvironment, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASEWORK_WORKER_CACHED_CASES", raising=False)
    assert Settings().worker_cached_cases == 1_000  # Temporal's own default
    settings = Settings(CASEWORK_WORKER_CACHED_CASES="20000")
    worker = build_worker(
        time_skipping_env.client,
        "cache-size",
        store,
        cached_cases=settings.worker_cached_cases,
    )
    assert worker.config()["max_cached_workflows"] == 20_000
