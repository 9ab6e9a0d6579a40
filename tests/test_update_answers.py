"""Which refusals of an Update say that the case's run has ended, so that a retried
command is answered from the log (application/update_answers.py); the whole path runs in
tests/faults/test_lost_closing_update.py and under the process kills."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from application.update_answers import run_completed


@pytest.mark.parametrize(
    ("message", "ended"),
    [
        ("workflow execution already completed", True),
        # An Update the server had admitted when the run completed: every retry of its id
        # gets this answer (seen when a worker was killed during a closing approval).
        ("workflow update was aborted by closing workflow", True),
        ("Workflow Update Was Aborted By Closing Workflow", True),
        ("context deadline exceeded", False),
        ("workflow not found for ID: case-1", False),
    ],
)
def test_a_refusal_says_whether_the_run_ended(message: str, ended: bool) -> None:
    exc = RPCError(message, RPCStatusCode.NOT_FOUND, b"")
    assert run_completed(exc) is ended
