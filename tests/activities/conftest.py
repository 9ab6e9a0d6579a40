from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devtools.provider_simulator import ProviderSimulator
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.replay_everything import replay_case_histories

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture
async def simulator() -> AsyncIterator[ProviderSimulator]:
    async with ProviderSimulator() as sim:
        yield sim


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping test server for the activity tests that need a real worker."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=TEST_DATA_CONVERTER,
    )
    try:
        yield env
        await replay_case_histories(env.client)
    finally:
        await env.shutdown()
