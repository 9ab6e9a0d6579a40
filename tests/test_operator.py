"""`casework inspect` and `casework verify` give true answers, also after a deliberate
inconsistency is introduced by hand (on the real dev server, which lists workflows)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.case_client import CaseClient
from application.consistency import check_consistency
from application.inspect import inspect_case, operator_actor
from application.request_context import operating_system_user
from application.runtime import WORKFLOWS, activities_for
from cases import commands as c
from cases.access import AccessDenied, Query, query_relation
from cases.actors import Role
from cases.policy import DEFAULT_POLICY
from devtools.simulation import RandomChooser, simulate_case
from events.catalog import default_registry
from events.envelope import EventMetadata, NewEvent
from events.keys import MasterKeyring
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    CaseNoteRecorded,
    ClientForgotten,
    ClientLanguageRecorded,
    ClientMatchesReviewed,
    ContactKind,
    ContactLogged,
    DocumentAttached,
    DocumentKind,
    DocumentWithdrawn,
    PolicyApplied,
    ReferralWithdrawn,
)
from projections import case_summary
from projections.base import CASE_EVENT_TYPES
from projections.catalog import all_projections
from projections.runner import run_projections
from tests.cases import inputs
from tests.cases.people import ALICE, MAX
from tests.conftest import ROOT
from tests.projections.conftest import catch_up as catch_up_projections
from tests.temporal_env import BIN
from tests.test_cli_e2e import cli_stack
from tests.workflows.scenarios import approved_plan, days_after_opening


async def catch_up(database_url: str) -> None:
    """Run the projector until it has applied everything, then stop it."""
    shutdown = asyncio.Event()
    task = asyncio.create_task(run_projections(database_url, all_projections(), shutdown))
    await asyncio.sleep(2.0)
    shutdown.set()
    await task


@pytest.mark.slow
async def test_inspect_and_verify_find_what_was_broken(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    client = dev_server.client
    queue = f"operator-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client, task_queue=queue, workflows=list(WORKFLOWS), activities=activities_for(sealed_store)
    ):
        cases = CaseClient(client, queue, sealed_store)
        opened = [inputs.open_case() for _ in range(3)]
        for cmd in opened:
            await cases.open(cmd)
            await cases.execute(
                cmd.case_id,
                c.LogContact(
                    actor=ALICE,
                    kind=ContactKind.PHONE,
                    contact_date=await days_after_opening(cases, cmd.case_id, 1),
                ),
            )
        await catch_up(database_url)
        # List visibility is eventually consistent on the dev server: wait for all three.
        for _ in range(50):
            report = await check_consistency(database_url, sealed_store, client)
            if report.running_workflows >= 3:
                break
            await asyncio.sleep(0.2)
        assert report.ok, report.findings
        assert report.open_cases == 3

        first, second, third = (cmd.case_id for cmd in opened)
        seen = await inspect_case(client, sealed_store, pool, MAX, str(first))
        assert seen.findings == []
        assert seen.workflow_status == "RUNNING"
        assert seen.workflow_version == seen.log_version == 3
        assert any("fires_at" in t for t in seen.timers)  # the review timer
        assert seen.search_attributes["CaseStatus"] == "open"
        assert seen.read_model is not None

        # Break things by hand: a read-model row, a running workflow, and the log.
        await pool.execute(
            "UPDATE case_summary SET worker = 'nobody' WHERE case_id = $1", str(first)
        )
        await cases.handle(second).terminate("deliberately broken")
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            await conn.execute(
                "UPDATE events SET data = jsonb_set(data, '{duration_minutes}', '99') "
                "WHERE stream_id = $1 AND event_type = 'ContactLogged'",
                f"case-{third}",
            )
            await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")

        for _ in range(50):
            report = await check_consistency(database_url, sealed_store, client)
            if report.running_workflows <= 2:
                break
            await asyncio.sleep(0.2)
        text = "\n".join(report.findings)
        assert not report.ok
        assert f"case-{second} is open in the log but has no running workflow" in text
        assert f"hash chain: case-{third} v3" in text
        assert "read model case_summary (case_summary) differs from a rebuild" in text

        broken = await inspect_case(client, sealed_store, pool, MAX, str(second))
        assert broken.workflow_status == "TERMINATED"
        assert any("open but its workflow is TERMINATED" in f for f in broken.findings)


def test_an_operator_reads_as_their_operating_system_user() -> None:
    ops = operator_actor("ops user")
    assert ops.staff_id == "ops-user" and ops.role is Role.OPERATOR and ops.team is None
    assert operator_actor("").staff_id == "unknown"
    assert operator_actor("..x").staff_id == "x"
    # Operators see what a workflow waits on, never a case's details or history.
    assert query_relation(ops, Query.WORKFLOWS) == "any"
    with pytest.raises(AccessDenied):
        query_relation(ops, Query.CASE_HISTORY)


# --- read models against the log: what each handles -----------------------------------------


def _ending_with(event_type: str) -> list[NewEvent]:
    """A generated case whose last event is of `event_type` (the lifecycle simulator's
    steps, cut after the type's first occurrence); the types the simulator never
    produces follow a generated opening."""
    if event_type in HAND_WRITTEN:
        _, events = simulate_case(RandomChooser(0), steps=3)
        return [*events, _new(HAND_WRITTEN[event_type], events[-1].occurred_at)]
    if event_type in FOLLOWING:
        after, make = FOLLOWING[event_type]
        events = _ending_with(after)
        return [*events, _new(make(events[-1]), events[-1].occurred_at)]
    for seed in range(200):
        _, events = simulate_case(RandomChooser(seed), steps=120)
        for n, event in enumerate(events):
            if event.event_type == event_type:
                return events[: n + 1]
    raise AssertionError(f"no generated case has a {event_type}")


HAND_WRITTEN: dict[str, DomainEvent] = {
    "CaseNoteRecorded": CaseNoteRecorded(note_id="note-1", text="Rang the GP"),
    "ClientForgotten": ClientForgotten(client_ref="C-forgotten", reason="the client asked"),
    "ClientLanguageRecorded": ClientLanguageRecorded(
        preferred_language="es", interpreter_needed=True
    ),
    "PolicyApplied": PolicyApplied(version=2, policy=DEFAULT_POLICY.model_dump(mode="json")),
}
"""Case event types the lifecycle simulator does not produce."""

FOLLOWING: dict[str, tuple[str, Callable[[NewEvent], DomainEvent]]] = {
    "ReferralWithdrawn": (
        "ReferralMade",
        lambda made: ReferralWithdrawn(
            referral_id=made.data["referral_id"],
            provider_id=made.data["provider_id"],
            reason="the client moved away",
        ),
    ),
}
FOLLOWING["DocumentAttached"] = (
    "CaseOpened",
    lambda _: DocumentAttached(
        document_id="d0c1",
        kind=DocumentKind.CONSENT_FORM,
        title="Signed consent",
        filename="consent.pdf",
        media_type="application/pdf",
        size=5120,
        sha256="ab" * 32,
    ),
)
FOLLOWING["ClientMatchesReviewed"] = (
    "CaseOpened",
    lambda _: ClientMatchesReviewed(candidates=["CL-001"], hidden=1),
)
FOLLOWING["DocumentWithdrawn"] = (
    "DocumentAttached",
    lambda attached: DocumentWithdrawn(
        document_id=attached.data["document_id"], reason="attached to the wrong case"
    ),
)
"""A feature's event types the simulator does not produce, after the event they follow."""


def _new(event: DomainEvent, after: datetime) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=event.type,
        schema_version=event.schema_version,
        data=event.to_data(),
        metadata=EventMetadata(actor_id="worker-a1", actor_role="caseworker"),
        occurred_at=after + timedelta(hours=1),
    )


def _case_id(events: list[NewEvent]) -> str:
    return str(events[0].data["case_id"])


def _read_model_findings(findings: list[str]) -> list[str]:
    """Every finding but the missing workflow (these cases are written to the log alone)."""
    return [f for f in findings if not f.startswith("no workflow ")]


async def test_a_healthy_case_ending_in_any_event_type_shows_no_finding(
    time_skipping_env: WorkflowEnvironment, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """For every case event type of the vocabulary, a case whose last event is of that
    type: once the projector has caught up, inspect finds no read model behind the log,
    also where a read model ignores the last event by design (case_summary and
    ReferralAccepted, CaseNoteRecorded, ReviewDue …). A lost update, and a projection
    merely behind, are told apart."""
    client = time_skipping_env.client
    types = sorted(t for t in default_registry().types if t in CASE_EVENT_TYPES)
    assert len(types) == len(CASE_EVENT_TYPES) >= 35
    cases = {event_type: _ending_with(event_type) for event_type in types}
    for events in cases.values():
        await store.append(f"case-{_case_id(events)}", 0, events)
    await catch_up_projections(database_url, store)

    seen = {t: await inspect_case(client, store, pool, MAX, _case_id(e)) for t, e in cases.items()}
    findings = {t: _read_model_findings(i.findings) for t, i in seen.items()}
    assert {t: f for t, f in findings.items() if f} == {}
    ignored_last = 0
    for event_type, inspection in seen.items():
        assert inspection.log_version == len(cases[event_type])
        for view in inspection.read_models:
            assert view["claimed_version"] == view["expected_version"], (event_type, view)
            assert view["pending_events"] == 0
        summary = next(v for v in inspection.read_models if v["name"] == "case_summary")
        if event_type in case_summary.PROJECTION.ignores:
            ignored_last += 1
            assert summary["claimed_version"] < inspection.log_version, event_type
    assert ignored_last >= 10  # the by-design gap is exercised, not only the easy cases

    # A handled event the projector has not applied yet is lag, not a finding ...
    events = cases["ContactLogged"]
    stream, case_id = f"case-{_case_id(events)}", _case_id(events)
    later = _new(
        ContactLogged(
            contact_id="contact-late",
            kind=ContactKind.PHONE,
            contact_date=events[-1].occurred_at.date(),
        ),
        events[-1].occurred_at,
    )
    await store.append(stream, len(events), [later])
    lagging = await inspect_case(client, store, pool, MAX, case_id)
    assert _read_model_findings(lagging.findings) == []
    assert {v["name"]: v["pending_events"] for v in lagging.read_models} == {
        "case_summary": 1,
        "timeline": 1,
    }
    # ... and once applied, a read model that lost it is named, with the event it missed.
    await catch_up_projections(database_url, store)
    await pool.execute(
        "UPDATE case_summary SET stream_version = stream_version - 1 WHERE case_id = $1", case_id
    )
    await pool.execute(
        "DELETE FROM case_timeline WHERE case_id = $1 AND stream_version = $2",
        case_id,
        len(events) + 1,
    )
    broken = await inspect_case(client, store, pool, MAX, case_id)
    assert _read_model_findings(broken.findings) == [
        f"read model case_summary is at v{len(events)}, but its projection has passed "
        f"v{len(events) + 1} (ContactLogged), an event it handles",
        f"read model timeline is at v{len(events)}, but its projection has passed "
        f"v{len(events) + 1} (ContactLogged), an event it handles",
    ]


async def _pending_activity(
    client: Client,
    store: EventStore,
    pool: asyncpg.Pool,
    case_id: str,
    activity: str,
    within: float = 60.0,
) -> dict[str, Any]:
    """The workflow's pending `activity` once it has failed at least once."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        seen = await inspect_case(client, store, pool, MAX, case_id)
        for act in seen.activities:
            if act["activity"] == activity and act["last_failure"]:
                return act
        assert asyncio.get_running_loop().time() < deadline, seen.activities
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_inspect_decodes_failures_and_accepts_what_a_read_model_ignores(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    """A referral whose provider cannot be reached: inspect shows the dispatch's real
    failure (decoded with the codec, not "Encoded failure"). A case note (which the case
    summary ignores) as the last event: no finding once the projector has caught up."""
    client = dev_server.client
    queue = f"operator-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client, task_queue=queue, workflows=list(WORKFLOWS), activities=activities_for(sealed_store)
    ):
        cases = CaseClient(client, queue, sealed_store)
        case_id = await approved_plan(cases)
        await cases.execute(case_id, inputs.refer(url="http://127.0.0.1:9/unreachable"))
        await cases.execute(case_id, c.RecordNote(actor=ALICE, text="Rang the shelter"))
        act = await _pending_activity(client, sealed_store, pool, str(case_id), "dispatch_referral")
        assert act["last_failure"] == (
            "WebhookConnectionError: webhook 127.0.0.1 unreachable: ClientConnectorError"
        )

        await catch_up_projections(database_url, sealed_store)
        seen = await inspect_case(client, sealed_store, pool, MAX, str(case_id))
        assert seen.last_events[-1]["type"] == "CaseNoteRecorded"
        assert seen.read_model is not None
        assert seen.read_model["stream_version"] < seen.log_version
        assert seen.findings == []
        [dispatch] = [a for a in seen.activities if a["activity"] == "dispatch_referral"]
        assert "unreachable" in str(dispatch["last_failure"])
        assert "Encoded failure" not in str(dispatch["last_failure"])
        await cases.handle(case_id).terminate("test over")


# --- the operator's view: `casework inspect` on the servers --------------------------------


async def _casework(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`casework …` as a process (the installed command): exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "casework"), *args, cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_the_operator_inspects_a_case_from_the_command_line(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
    tmp_path: Path,
) -> None:
    """`casework inspect CASE --reason "stuck workflow"`, run on the servers by the
    operating-system user, nobody signed in: what the case's workflow waits on (its review
    timer, its next wakeup, its search attributes), and no case data; each read is in the
    access log with the operating-system user and the reason. Without a reason (or with a
    blank one) it is refused, naming --reason, and nothing is read."""
    async with cli_stack(dev_server, sealed_store, master_keyring, database_url, "inspect") as env:
        cases = CaseClient(dev_server.client, env["CASEWORK_TASK_QUEUE"], sealed_store)
        opened = inputs.open_case()
        await cases.open(opened)
        case_id = str(opened.case_id)
        operator = {**env, "CASEWORK_CONFIG_DIR": str(tmp_path / "nobody"), "COLUMNS": "200"}

        code, out, err = await _casework(operator, "inspect", case_id, "--reason", "stuck workflow")
        assert code == 0, err
        assert f"case {case_id}" in out and "workflow: RUNNING" in out, out
        assert "fires " in out and "next wakeup: " in out and "CaseStatus" in out, out
        assert "no case data" in out and "Last events" not in out, out

        code, out, err = await _casework(
            operator, "inspect", case_id, "--reason", "stuck workflow", "--json"
        )
        assert code == 0, err
        seen = json.loads(out)
        assert seen["case_id"] == case_id and seen["workflow_status"] == "RUNNING"
        assert seen["case_data"] is False
        assert seen["task_queue"] == env["CASEWORK_TASK_QUEUE"]
        assert seen["workflow_version"] == seen["log_version"] >= 1
        [timer] = seen["timers"]  # the case's one wake-up timer: its review
        assert seen["next_wakeup"] == timer["fires_at"]
        assert seen["activities"] == [] and seen["updates"] == []
        assert seen["workflow_task_failure"] is None
        assert seen["search_attributes"]["CaseStatus"] == "open"
        assert seen["search_attributes"]["AssignedWorker"] == ALICE.staff_id
        assert seen["findings"] == []
        # No case data: no events, no read-model row beyond status and version, no event
        # type, nothing personal.
        assert seen["last_events"] == []
        assert seen["read_model"] is None  # no projector here; with one: status, version
        assert all(view["expected_type"] is None for view in seen["read_models"])
        for personal in ("Rosalind", "Quennell", "555-0142", "Elm Row", "CL-1042", "hospital"):
            assert personal not in out, personal
        assert "CaseOpened" not in out

        # No reason, or a blank one: a usage error naming --reason; nothing is read.
        code, out, err = await _casework(operator, "inspect", case_id)
        assert code == 2 and "--reason" in err, (code, err)
        code, out, err = await _casework(operator, "inspect", case_id, "--json")
        assert code == 2 and json.loads(out)["error"]["field"] == "--reason", out
        code, out, err = await _casework(operator, "inspect", case_id, "--reason", "  ")
        assert code == 2 and "--reason must say why" in err, (code, err)

    rows = await sealed_store.pool.fetch(
        "SELECT * FROM access_log WHERE case_id = $1 ORDER BY access_id", case_id
    )
    os_user = operating_system_user()
    assert len(rows) == 2, rows
    for row in rows:
        assert row["staff_id"] == operator_actor(os_user).staff_id
        assert row["role"] == "operator" and row["team"] is None
        assert row["view"] == "inspect" and row["reason"] == "stuck workflow"
        assert row["auth_method"] == "operator" and row["os_user"] == os_user
        assert row["allowed"] is True and row["break_glass"] is False
        assert row["request_id"]


@workflow.defn(name="BrokenCaseWorkflow", sandboxed=False)
class BrokenCaseWorkflow:
    """A case workflow whose code fails every workflow task (a bug, not a refusal)."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in the case workflow")


@pytest.mark.slow
async def test_the_operator_sees_a_workflow_task_failing(
    dev_server: WorkflowEnvironment, store: EventStore, pool: asyncpg.Pool
) -> None:
    """A stuck workflow: its task fails over and over. The operator's inspection names the
    failure (decoded with the codec), the retried task, and the finding; no case data."""
    client = dev_server.client
    queue = f"stuck-{uuid.uuid4().hex[:6]}"
    case_id = str(uuid.uuid4())
    ops = operator_actor("ops")
    async with Worker(client, task_queue=queue, workflows=[BrokenCaseWorkflow]):
        handle = await client.start_workflow(
            BrokenCaseWorkflow.run, id=f"case-{case_id}", task_queue=queue
        )
        async with asyncio.timeout(60):  # until the task has failed and been retried
            while True:
                described = await handle.describe()
                if described.raw_description.pending_workflow_task.attempt >= 2:
                    break
                await asyncio.sleep(0.2)  # Temporal has no wake-up for this to wait on
        seen = await inspect_case(client, store, pool, ops, case_id)
        await handle.terminate("test over")
    assert seen.workflow_task is not None and seen.workflow_task["attempt"] >= 2
    failure = seen.workflow_task_failure
    assert failure is not None
    assert failure["cause"] == "WORKFLOW_WORKER_UNHANDLED_FAILURE", failure
    assert "a bug in the case workflow" in str(failure["message"]), failure
    assert failure["resolved"] is False
    assert seen.workflow_status == "RUNNING" and not seen.case_data
    assert any(f.startswith("the workflow's task has failed since") for f in seen.findings)
    assert "the workflow's state was not queried: its workflow task is failing" in seen.findings
    assert "the event log has no stream for this case" in seen.findings
