"""Recorded histories of representative cases replay against today's CaseWorkflow.

A change that breaks a running case (non-determinism) fails here. To record a new
history after a deliberate, patched change: `python -m tests.workflows.record_histories`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.codec_keys import TEST_DATA_CONVERTER
from workflows.case import CaseWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
TEXTS = {path.stem: path.read_text() for path in HISTORIES}


def test_there_are_recorded_histories() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, TEXTS[path.stem])
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=TEST_DATA_CONVERTER)
    await replayer.replay_workflow(history)
