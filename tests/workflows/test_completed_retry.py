"""A command that closed its case, sent again with its Update id, gets its first answer.

The closure's approval completes the case workflow. When its answer is lost (a cut
connection, a client restarted) the caller sends it again with the same id, and the
server answers it from the completed run: the client relies on that, and falls back on
the log only for an Update the server lost before accepting it
(tests/faults/test_lost_closing_update.py). Checked on both servers: the fault tests
run the dev server, the others the time-skipping one.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient, CaseNotFound
from cases.state import CaseStatus
from devtools.provider_simulator import ProviderSimulator
from events.store import EventStore
from tests.workflows import scenarios
from tests.workflows.conftest import case_harness


async def test_the_closing_command_sent_again_gets_its_first_answer(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> None:
    async with case_harness(time_skipping_env, sealed_store) as cases:
        await closing_command_sent_again(cases, sealed_store)


async def test_the_closing_command_sent_again_to_the_dev_server(
    dev_server: WorkflowEnvironment, sealed_store: EventStore
) -> None:
    async with case_harness(dev_server, sealed_store) as cases:
        await closing_command_sent_again(cases, sealed_store)


async def closing_command_sent_again(cases: CaseClient, store: EventStore) -> None:
    closing = str(uuid.uuid4())
    async with ProviderSimulator() as provider:
        case_id = await scenarios.closed_case(
            cases, provider.provider_url("shelter-1"), closing_update_id=closing
        )
    final = await cases.handle(case_id).result()
    assert final.status is CaseStatus.CLOSED
    log = await store.read_stream(f"case-{case_id}")
    assert [e.event_type for e in log][-2:] == ["ApprovalGranted", "CaseClosed"]

    again = await cases.execute(case_id, scenarios.CLOSURE_APPROVED, update_id=closing)

    assert again.events == ["ApprovalGranted", "CaseClosed"]
    assert again.status is CaseStatus.CLOSED
    assert again.stream_version == len(log)
    assert await store.read_stream(f"case-{case_id}") == log  # nothing written twice

    # A command the closed case never ran is refused as before.
    with pytest.raises(CaseNotFound, match="no running case workflow"):
        await cases.execute(case_id, scenarios.CLOSURE_APPROVED, update_id=str(uuid.uuid4()))
