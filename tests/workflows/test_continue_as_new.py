"""History stays bounded: a case with 5,000 contacts continues as new and loses nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from application.case_client import CASE_TASK_TIMEOUT, CaseClient
from cases import commands as c
from cases.evolve import fold
from events.store import EventStore
from events.vocabulary import ContactKind
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.workflows import scenarios
from workflows.case import CONTINUE_AS_NEW_AFTER

CONTACTS = 5_000
SENDERS = 8


# 5,000 commands through a worker: a few minutes on a loaded machine (two suites at once
# took 300 s), so the limit is twice the suite's default.
@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_five_thousand_contacts(case_worker: tuple[CaseClient, EventStore]) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    first_run = (await cases.handle(cmd.case_id).describe()).run_id
    opened = await scenarios.days_after_opening(cases, cmd.case_id, 0)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(CONTACTS):
        queue.put_nowait(n)

    async def sender() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await cases.execute(
                cmd.case_id,
                c.LogContact(
                    actor=ALICE,
                    kind=ContactKind.PHONE,
                    contact_date=opened + timedelta(days=n % 300),
                    notes=f"check-in {n}",
                ),
            )

    await asyncio.gather(*(sender() for _ in range(SENDERS)))

    state = await cases.state(cmd.case_id)
    log = await store.read_stream(f"case-{cmd.case_id}")
    assert state.contacts == CONTACTS
    contacts = [e for e in log if e.event_type == "ContactLogged"]
    assert len(contacts) == CONTACTS
    assert [e.stream_version for e in log] == list(range(1, len(log) + 1))
    assert len({e.data["contact_id"] for e in contacts}) == CONTACTS
    assert state == fold(log)

    # The workflow continued as new, and no run's history outgrew the threshold by much.
    handle = cases.handle(cmd.case_id)
    description = await handle.describe()
    assert description.run_id != first_run
    history = await handle.fetch_history()
    assert len(history.events) < CONTINUE_AS_NEW_AFTER + 500
    assert history.events[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    # Every run keeps the case's task timeout, so a slow replay of a long run can finish.
    config = description.raw_description.execution_config
    assert config.default_workflow_task_timeout.ToTimedelta() == CASE_TASK_TIMEOUT
