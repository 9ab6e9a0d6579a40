"""Opening a case answers the events the open recorded, as every other command does."""

from __future__ import annotations

from application.case_client import CaseClient
from events.store import EventStore
from tests.cases import inputs


async def test_opening_a_case_answers_the_events_it_recorded(
    case_worker: tuple[CaseClient, EventStore],
) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    result = await cases.open(cmd)
    logged = await store.read_stream(f"case-{cmd.case_id}")
    assert result.events == [e.event_type for e in logged]
    assert result.events[0] == "CaseOpened" and "ReviewScheduled" in result.events
    assert result.stream_version == len(logged)
    # The next command answers its own events only.
    after = await cases.execute(cmd.case_id, inputs.consent())
    assert after.events == ["ConsentRecorded"]
