"""The embedded stack starts, answers, stops cleanly and keeps its data.

Ports are free ones and the data directory is temporary; PostgreSQL is a fresh test
database on the test server (DATABASE_URL path) or an embedded server of the
test's own (the newcomer's default path). Neither ever touches the shared server
beyond creating and dropping a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import WorkflowExecutionStatus

from application.bootstrap import open_casework
from application.identity import sign_in
from devtools.demo.advocacy import advocacy_line, feedback_line
from devtools.demo.agency import PROVIDERS
from devtools.demo.notarised import checkpoint_lines
from devtools.demo.run import actions_line, escalated_case, reviews_line, webhooks_handed_over
from devtools.demo.setup import seed_directories, webhook_templates
from devtools.provider_simulator import ProviderSimulator
from devtools.stack import StackAlreadyRunning, running_stack, simulator_url
from directory import load_resource_directory, load_staff_directory
from events.checkpoints import SignedCheckpoint, TrustedKeys
from events.store import EventStore
from infrastructure.embedded_postgres import free_port, port_answers
from infrastructure.settings import Settings
from infrastructure.temporal import connect
from projections.reviews import OpenEscalation
from tests.api_server import served_api
from tests.cases import inputs
from tests.conftest import ROOT
from tests.events.factories import contact_event
from tests.replay_everything import replay_case_histories
from tests.workflows.scenarios import approved_plan
from workflows import search_attributes
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.timeout(120)


def stack_settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        CASEWORK_DATA_DIR=data_dir,
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        CASEWORK_TEMPORAL_UI_PORT=free_port(),
        CASEWORK_EMBEDDED_PG_PORT=free_port(),
        CASEWORK_TASK_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
    )


async def test_stack_runs_stops_and_keeps_temporal_data(database_url: str, tmp_path: Path) -> None:
    settings = stack_settings(tmp_path / "data", database_url)
    workflow_id = f"persistence-check-{uuid.uuid4()}"

    async with running_stack(settings) as stack:
        assert port_answers("127.0.0.1", settings.temporal_ui_port)
        assert set(stack.tasks) >= {"worker", "projector", "notary"}
        reply = await stack.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=settings.temporal_namespace)
        )
        for key in search_attributes.ALL:
            assert key.name in reply.custom_attributes

        store = EventStore(stack.pool)
        appended = await store.append("case-stack-test", 0, [contact_event(1)])
        [event] = await store.read_stream("case-stack-test")
        assert event.global_position == appended.global_positions[0]

        # A workflow no worker polls for: it must still be there after a restart.
        await stack.client.start_workflow(
            "NoSuchWorkflow", id=workflow_id, task_queue="nobody-polls-this"
        )

        # A second stack on the same data directory is refused, clearly.
        with pytest.raises(StackAlreadyRunning, match="already running"):
            async with running_stack(settings):
                pass
        process = stack.temporal

    assert process.returncode is not None
    assert not port_answers("127.0.0.1", settings.temporal_port)
    assert all(task.done() for task in stack.tasks.values())
    # the notary made its development signing key (0600) and stopped cleanly
    assert stack.tasks["notary"].exception() is None
    assert (settings.data_dir / "keys" / "notary.key").stat().st_mode & 0o777 == 0o600
    db_file = settings.data_dir / "temporal.db"
    assert db_file.stat().st_size > 0

    async with running_stack(settings, services=()) as again:
        assert again.temporal.pid != process.pid
        handle = again.client.get_workflow_handle(workflow_id)
        description = await handle.describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")
        assert await EventStore(again.pool).stream_version("case-stack-test") == 1
    assert again.temporal.returncode is not None


async def test_embedded_postgres_path(tmp_path: Path) -> None:
    """No DATABASE_URL: the stack runs, migrates and stops an embedded PostgreSQL."""
    settings = stack_settings(tmp_path / "data", None)
    async with running_stack(settings, services=()) as stack:
        server = stack.embedded_postgres
        assert server is not None
        assert server.pgdata.is_relative_to(settings.data_dir.resolve())
        assert stack.dsn.endswith(f":{settings.embedded_pg_port}/casework")
        conn = await asyncpg.connect(stack.dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM events") == 0
        finally:
            await conn.close()
    assert not server.is_running()
    assert not port_answers("127.0.0.1", settings.embedded_pg_port)


async def signs_in(settings: Settings, dsn: str, passwords: dict[str, str]) -> bool:
    """Each demo account signs in with its password (sign_in raises otherwise)."""
    async with open_casework(settings, dsn=dsn) as app:
        for staff_id, password in passwords.items():
            await sign_in(app, staff_id, password, now=datetime.now(UTC))
    return True


def _demo_failures(stdout: str) -> object:
    """The failures the demo's JSON summary lists (what made it exit 1)."""
    try:
        return json.loads(stdout.strip().splitlines()[-1]).get("failures")
    except (ValueError, IndexError):
        return stdout[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(720)
def test_demo_command(database_url: str, tmp_path: Path) -> None:
    """End to end on the real dev server with second-scale policy durations: the demo
    walks a small caseload; the workers do their reviews on time, so only the neglected
    cases' reviews go due, lapse and escalate (once each, up to the manager);
    notifications reach the simulator, and the command exits 0 after the summary."""
    settings = stack_settings(tmp_path / "data", database_url)
    api_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(settings.data_dir),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "CASEWORK_TEMPORAL_UI_PORT": str(settings.temporal_ui_port),
        "CASEWORK_TASK_QUEUE": settings.task_queue,
        "CASEWORK_LOG_FORMAT": "console",
        "CASEWORK_HTTP_PORT": str(api_port),
    }
    args = ["demo", "--cases", "12", "--seed", "3", "--watch-seconds", "120", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "starter", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert result.returncode == 0, (result.stderr[-3000:], _demo_failures(result.stdout))
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["ok"] is True and data["failures"] == []
    assert data["cases"] == 12
    neglected = data["paths"].get("neglected", 0)
    assert neglected >= 1
    # Every neglected case reached the ladder's top (the manager) while we watched, and
    # the open escalations are theirs only: one each, not one per open case.
    assert data["escalations_by_level"] == {"2": neglected}
    assert data["escalations_by_path"] == {"neglected": neglected}
    assert data["notifications_delivered"] >= 2 * neglected
    # The workers did the other cases' reviews on time: no review of a case that is
    # not neglected lapsed or is overdue, and at least one was done while we watched.
    reviews = data["reviews"]
    assert reviews["lapsed_by_path"] == {"neglected": neglected}, reviews
    assert set(data["overdue_by_path"]) == {"neglected"}, data["overdue_by_path"]
    assert reviews["on_time"] >= 1 and reviews["late"] == 0, reviews
    assert data["interesting_case"] is not None
    summary = reviews_line(reviews, data["escalations_by_path"])
    assert f"lapsed: {neglected} (neglected {neglected}); open escalations" in summary
    assert sum(data["outcomes"]["closures"].values()) >= 1
    # Plans have actions: a neglected case's crisis-plan action fell overdue and climbed
    # the ladder (kept apart from the reviews' escalations above); the workers left some
    # of their own overdue on cases that stay open, and the summary counts them by team.
    assert data["action_escalations_by_level"].get("2", 0) >= 1, data
    assert sum(t["overdue"] for t in data["actions_overdue_by_team"].values()) >= neglected
    assert actions_line(data["actions_overdue_by_team"]).startswith("Actions overdue by team: ")
    # Advocacy on a share of the cases, some appeals won; the clients rated their
    # providers and their plans; the summary has a line for each (issue 16).
    advocacy = data["outcomes"]["advocacy"]
    assert sum(r["won_on_appeal"] for r in advocacy) >= 1, advocacy
    assert any(r["not_resolved"] or r["partly_resolved"] for r in advocacy), advocacy
    assert data["outcomes"]["feedback"] and data["outcomes"]["plan_feedback"]["ratings"] >= 1
    assert "appeals won" in advocacy_line(data["outcomes"])
    assert feedback_line(data["outcomes"]).startswith("Client feedback by provider: ")
    # The agency's KPIs, as of a signed checkpoint: every closure the outcomes count, the
    # times from the referral in, reviews done on time (issue 32).
    kpis = data["kpis"]
    assert kpis is not None, data
    assert kpis["sequence"] >= data["checkpoint"]["sequence"]
    by_kpi = {f["kpi"]: f for f in kpis["figures"]}
    assert by_kpi["case_duration"]["count"] == sum(data["outcomes"]["closures"].values())
    assert by_kpi["referral_to_first_contact"]["count"] >= 1
    assert by_kpi["review_on_time"]["count"] >= reviews["on_time"] >= 1
    # The demo's staff have accounts: the summary offers four sign-ins, kept in a file
    # only its owner reads, and each password signs in.
    assert data["api_url"] == f"http://127.0.0.1:{api_port}"
    assert set(data["sign_ins"]) == {"j.morales", "s.patel", "m.okafor", "a.lindqvist"}
    accounts = settings.data_dir / "demo-accounts.json"
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    assert asyncio.run(signs_in(settings, database_url, data["sign_ins"]))
    assert not port_answers("127.0.0.1", settings.temporal_port)
    # The log lines went to the data directory's log file, not to the terminal; server
    # addresses are not personal data and stay readable there.
    log_file = settings.data_dir / "casework.log"
    assert f"logs: {log_file}" in result.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "stack ready" in logged and "stack ready" not in result.stderr
    assert f"temporal_address={settings.temporal_address}" in logged
    # The summary ends with the latest signed checkpoint (it covers the named case,
    # a closed one) and the auditor's two commands; run as printed, they verify it.
    checkpoint = data["checkpoint"]
    assert checkpoint is not None, data
    case_id = checkpoint["case_id"]
    assert checkpoint["export_as"] == "a.lindqvist" and "a.lindqvist" in data["sign_ins"]
    lines = checkpoint_lines(checkpoint)
    assert lines[0].startswith(
        f"Signed checkpoint #{checkpoint['sequence']}: {checkpoint['tree_size']} events, "
        f"root {checkpoint['root_hash'][:16]}…, "
    ), lines
    assert lines[0].endswith(f"key {checkpoint['key_id']}"), lines
    assert f"  casework case export {case_id} --out case.json" in lines
    assert f"  casework verify-export case.json --public-key {checkpoint['public_key']}" in lines
    published = SignedCheckpoint.from_json(json.loads(Path(checkpoint["file"]).read_text()))
    TrustedKeys.load(Path(checkpoint["public_key"])).check(published)
    assert published.tree_size == checkpoint["tree_size"]
    assert published.root_hash.hex() == checkpoint["root_hash"]
    (tmp_path / "auditor").mkdir()
    exported, verified = asyncio.run(
        auditor_runs(env, checkpoint, data["sign_ins"]["a.lindqvist"], tmp_path / "auditor")
    )
    wrote = re.search(r"(\d+) event\(s\), (\d+) within the latest signed checkpoint", exported)
    assert wrote is not None and int(wrote[1]) >= 3 and wrote[1] == wrote[2], exported
    assert f"verified: case {case_id}" in verified, verified
    # The demo left a sane agency: its realistic policy is back in force, and the case
    # the summary points to is still escalated under it.
    assert data["policy_in_force"] is not None and data["escalated_after"] >= 1, data
    # The README's next step: `casework up` on the same data, a new worker process with
    # an empty cache. No case is stuck: every open case answers, `casework verify` exits
    # 0, every history replays from a cold cache, and nothing logged a nondeterminism.
    up_after_the_demo(env, settings, tmp_path / "up.log")
    assert "Nondeterminism" not in log_file.read_text(encoding="utf-8")


@contextlib.contextmanager
def casework_up(env: dict[str, str], settings: Settings, output: Path) -> Iterator[None]:
    """`casework up` on the data directory, as a new process, until the block ends."""
    log_file = settings.data_dir / "casework.log"
    ready_before = log_file.read_text(encoding="utf-8").count("stack ready")
    with output.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "starter", "up"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 180
        while log_file.read_text(encoding="utf-8").count("stack ready") == ready_before:
            assert up.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < deadline, "casework up was not ready within 180 s"
            time.sleep(0.5)  # the log file has no wake-up to wait on
        yield
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
            raise


def up_after_the_demo(env: dict[str, str], settings: Settings, output: Path) -> None:
    """`casework up` on the demo's data: once ready, every open case answers a query,
    `casework verify` exits 0 and every case workflow run replays from a cold cache."""
    with casework_up(env, settings, output):
        assert asyncio.run(every_open_case_answers(settings)) >= 1
        verify = subprocess.run(
            [sys.executable, "-m", "starter", "verify"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert verify.returncode == 0, (verify.stdout[-3000:], verify.stderr[-3000:])
        asyncio.run(replay_everything_on(settings))


async def every_open_case_answers(settings: Settings) -> int:
    """Query every running case workflow (each one replayed by the new worker): how many."""
    client = await connect(settings)
    running = 'WorkflowType="CaseWorkflow" AND ExecutionStatus="Running"'
    opened = [w.id async for w in client.list_workflows(running)]
    for workflow_id in opened:
        state = await client.get_workflow_handle(workflow_id).query(CaseWorkflow.case)
        assert state is not None, workflow_id
    return len(opened)


async def replay_everything_on(settings: Settings) -> None:
    await replay_case_histories(await connect(settings))


async def auditor_runs(
    env: dict[str, str], checkpoint: dict[str, Any], password: str, workdir: Path
) -> tuple[str, str]:
    """`casework serve` on the demo's database and data directory; the auditor signs in,
    then runs the summary's export and verify-export commands as printed (in `workdir`):
    their outputs. Each must exit 0."""

    def casework(args: list[str], cli_env: dict[str, str], stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "starter", *args],
            cwd=workdir, env=cli_env, input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    async with served_api({**env, "CASEWORK_LOG_LEVEL": "WARNING"}) as api_url:
        cli_env = {
            **env,
            "CASEWORK_API_URL": api_url,
            "CASEWORK_CONFIG_DIR": str(workdir / "config"),
            "COLUMNS": "400",
        }
        login = ["login", checkpoint["export_as"], "--password-stdin"]
        await asyncio.to_thread(casework, login, cli_env, password + "\n")
        outputs = []
        for command in (checkpoint["export_command"], checkpoint["verify_command"]):
            program, *args = shlex.split(command)
            assert program == "casework", command
            outputs.append(await asyncio.to_thread(casework, args, cli_env))
    return outputs[0], outputs[1]


async def test_the_demo_agency_still_works_under_the_stack_after_the_demo(
    database_url: str, tmp_path: Path
) -> None:
    """The demo seeds its webhooks at a simulator of its own, which stops with it; on the
    way out it hands them to the simulated providers every stack on the data directory
    serves. A referral to a demo provider made afterwards is delivered and answered."""
    settings = stack_settings(tmp_path / "data", database_url)
    async with running_stack(settings) as stack:
        assert "simulated-providers" in stack.tasks
        store = stack.app.store
        async with webhooks_handed_over(store, settings.data_dir), ProviderSimulator() as own:
            await seed_directories(store, *webhook_templates(own.base_url))
        base = simulator_url(settings.data_dir)
        assert base == simulator_url(settings.data_dir)  # the port is kept
        resources = await load_resource_directory(store)
        staff = await load_staff_directory(store)
        provider = PROVIDERS[0].provider_id
        url = str(resources.any_provider(provider).channel.webhook_url)
        assert url == f"{base}/providers/{provider}/referrals"
        assert all(
            str(m.webhook_url).startswith(base) for m in staff.members.values() if m.webhook_url
        )

        cases = await stack.app.cases()
        case_id = await approved_plan(cases, provider_ids=(provider,))
        await cases.execute(case_id, inputs.refer(url=url, provider=provider))
        async with asyncio.timeout(60):
            while True:
                types = [e.event_type for e in await store.read_stream(f"case-{case_id}")]
                if "ReferralAccepted" in types:
                    break
                await asyncio.sleep(0.2)  # the log has no wake-up per stream to wait on
        assert "ReferralDispatched" in types
        await cases.handle(case_id).terminate("test over")


def test_the_demo_summary_points_to_an_escalated_case_only_when_one_escalated() -> None:
    def open_escalation(case_id: str, level: int) -> OpenEscalation:
        return OpenEscalation(
            case_id=case_id,
            escalation_id=f"esc-{case_id}",
            subject="review",
            subject_id="review-1",
            level=level,
            escalated_to="supervisor",
            reason="review lapsed",
            raised_at=datetime(2026, 1, 5, tzinfo=UTC),
            open_hours=1.0,
            worker="j.morales",
            team="north",
        )

    assert escalated_case([]) is None
    assert escalated_case([open_escalation("a", 1)]) == "a"
    assert escalated_case([open_escalation("a", 1), open_escalation("b", 2)]) == "b"
