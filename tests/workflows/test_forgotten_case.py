"""A forgotten client's running case, through the workflow: it refuses personal text (in
the Update's validator, so the text never enters history), still takes commands without
any, and sheds the history that held the client's details (continues as new from its
erased state). Deleting the old runs needs a server that can: see
tests/security/test_erasure_everywhere.py."""

from __future__ import annotations

import pytest

from application.case_client import CaseClient, CaseCommandRejected
from application.forget import forget
from cases import commands as c
from directory import bootstrap_admin, resolve_actor
from events.store import EventStore
from events.vocabulary import ContactKind
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.security.test_erasure_everywhere import payloads_in
from tests.workflows.scenarios import days_after_opening
from workflows.case import CaseWorkflow

Harness = tuple[CaseClient, EventStore]


async def test_a_forgotten_clients_case_refuses_personal_text_and_sheds_its_history(
    case_worker: Harness,
) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.consent())
    day = await days_after_opening(cases, cmd.case_id, 1)
    note = "Rosalind's neighbour Wilhelmina called about the rent arrears"
    await cases.execute(
        cmd.case_id, c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=day, notes=note)
    )
    first_run = (await cases.handle(cmd.case_id).describe()).run_id
    await bootstrap_admin(store, "root", "Agency admin")
    admin = await resolve_actor(store, "root")

    result = await forget(store, admin, cmd.client_ref, "erasure request #4", cases)

    # The running case continued as new from its erased state.
    handle = cases.handle(cmd.case_id)
    now = await handle.describe()
    assert now.run_id != first_run
    history = await cases.client.get_workflow_handle(handle.id, run_id=now.run_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id == first_run
    codec = TEST_DATA_CONVERTER.payload_codec
    assert codec is not None
    [payload] = await codec.decode(list(started.input.payloads))
    assert b'"forgotten":true' in payload.data
    for secret in (b"Quennell", b"Wilhelmina", b"555-0142"):
        assert secret not in payload.data
    # This server cannot delete the old run: the answer says so (a dev server deletes it).
    assert result.histories_not_erased == (f"case-{cmd.case_id}",)

    # Personal text is refused, naming the field and the day of the erasure.
    log = await store.read_stream(f"case-{cmd.case_id}")
    erased_on = log[-1].occurred_at.date().isoformat()
    assert log[-1].event_type == "ClientForgotten"
    with pytest.raises(CaseCommandRejected) as refused:
        await cases.execute(
            cmd.case_id,
            c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=day, notes=note),
        )
    assert str(refused.value) == (
        f"notes: the client was forgotten on {erased_on}; personal details can no longer be "
        "recorded on this case"
    )
    assert await store.stream_version(f"case-{cmd.case_id}") == len(log)
    history = await cases.client.get_workflow_handle(handle.id, run_id=now.run_id).fetch_history()
    decoded = await codec.decode([p for e in history.events for p in payloads_in(e)])
    assert len(decoded) > 1
    assert not any(b"Wilhelmina" in p.data for p in decoded)  # the validator refused it

    # A command without personal text still runs, on the new run.
    done = await cases.execute(
        cmd.case_id, c.LogContact(actor=ALICE, kind=ContactKind.PHONE, contact_date=day)
    )
    assert done.events == ["ContactLogged"]
    state = await handle.query(CaseWorkflow.case)
    assert state is not None and state.forgotten and state.client.name == "[erased]"
    assert state.forgotten_at is not None and state.forgotten_at.date().isoformat() == erased_on
