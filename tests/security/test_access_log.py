"""The access log: reads of a case are recorded (refused ones too), append-only, listed
for auditors and managers; breaking the glass is allowed, recorded and notifies the
case's supervisors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from application import access_log
from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseClient
from application.case_reads import read_case, read_history
from cases.access import AccessDenied, BreakGlassRefused, CaseNotVisible
from cases.actors import Actor, Role
from devtools.provider_simulator import ProviderSimulator
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from events.store import EventStore
from infrastructure.settings import Settings
from tests.cases import inputs
from tests.cli_session import StaffCli, served_cli
from tests.security.test_db_roles import LoginFor, connected, login_as
from tests.workflows.conftest import case_harness

__all__ = ["login_as"]

Harness = tuple[CaseClient, EventStore]

ALICE = Actor(staff_id="alice", role=Role.CASEWORKER, team="north")
ERIN = Actor(staff_id="erin", role=Role.CASEWORKER, team="south")
AUDREY = Actor(staff_id="audrey", role=Role.AUDITOR)
MAX = Actor(staff_id="max", role=Role.MANAGER)
CAROL = Actor(staff_id="carol", role=Role.SUPERVISOR, team="north")
ROOT = Actor(staff_id="root", role=Role.ADMIN)


async def staff(store: EventStore, carol_webhook: str | None = None) -> None:
    """The staff directory of these tests: north (alice, carol), south (erin), and others."""
    await bootstrap_admin(store, "root", "Agency admin")
    admin = await resolve_actor(store, "root")
    for team_id in ("north", "south"):
        await add_team(store, admin, team_id, team_id.title())
    members: tuple[tuple[str, str, str | None, str | None], ...] = (
        ("alice", "caseworker", "north", None),
        ("carol", "supervisor", "north", carol_webhook),
        ("erin", "caseworker", "south", None),
        ("sam", "supervisor", "south", None),
        ("max", "manager", None, None),
        ("audrey", "auditor", None, None),
    )
    for staff_id, role, team, webhook in members:
        await add_staff(store, admin, staff_id, staff_id.title(), role, team, webhook)


# --- the table -------------------------------------------------------------------------------


async def test_the_access_log_is_append_only(pool: asyncpg.Pool, login_as: LoginFor) -> None:
    entry = await access_log.record(pool, ALICE, "case-1", View.CASE_SHOW, "home visit prep")
    assert (entry.staff_id, entry.role, entry.team, entry.view) == (
        "alice",
        "caseworker",
        "north",
        "case show",
    )
    # The owner too: the triggers refuse every change.
    for sql in (
        "UPDATE access_log SET reason = 'forged'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(sql)
    # A break-glass entry always carries a reason.
    with pytest.raises(asyncpg.CheckViolationError):
        await access_log.record(pool, ERIN, "case-1", View.CASE_SHOW, "  ", break_glass=True)
    # The engine's role records and reads; the grants refuse the rest before the triggers.
    async with connected(await login_as("casework_engine")) as conn:
        await conn.execute(
            """INSERT INTO access_log (staff_id, role, case_id, view, allowed)
               VALUES ('casework', 'system', 'case-1', 'inspect', true)"""
        )
        assert await conn.fetchval("SELECT count(*) FROM access_log") == 2
        for sql in ("UPDATE access_log SET reason = 'x'", "DELETE FROM access_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(sql)
    async with connected(await login_as("casework_reader")) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SELECT * FROM access_log")


async def test_entries_newest_first_for_auditors_and_managers(pool: asyncpg.Pool) -> None:
    await access_log.record(pool, ALICE, "case-1", View.CASE_SHOW, "prep")
    await access_log.record(pool, CAROL, "case-1", View.TIMELINE)
    await access_log.record(pool, ERIN, "case-1", View.SUMMARY, allowed=False)
    await access_log.record(pool, ALICE, "case-2", View.CASE_HISTORY)
    for reader in (AUDREY, MAX):
        found = await access_log.entries(pool, reader, "case-1")
        assert [(e.staff_id, e.view, e.allowed) for e in found] == [
            ("erin", "summary", False),
            ("carol", "timeline", True),
            ("alice", "case show", True),
        ]
        assert found[-1].reason == "prep"
        assert found[0].accessed_at >= found[-1].accessed_at
    for reader in (ALICE, CAROL, ROOT):
        with pytest.raises(AccessDenied):
            await access_log.entries(pool, reader, "case-1")


async def test_every_decision_is_recorded(pool: asyncpg.Pool) -> None:
    here = access_log.CaseLocation(team="north", worker="alice")
    grant = await access_log.authorise_read(
        pool, ALICE, "case-9", View.SUMMARY, here, reason="review"
    )
    assert not grant.break_glass and grant.reader == ALICE
    with pytest.raises(CaseNotVisible):
        await access_log.authorise_read(pool, ERIN, "case-9", View.TIMELINE, here)
    with pytest.raises(CaseNotVisible):  # no such case: recorded, and indistinguishable
        await access_log.authorise_read(pool, ERIN, "case-0", View.TIMELINE, None)
    with pytest.raises(BreakGlassRefused):
        await access_log.authorise_read(pool, ERIN, "case-9", View.TIMELINE, here, break_glass="")
    with pytest.raises(AccessDenied):  # administrators: not even by breaking the glass
        await access_log.authorise_read(
            pool, ROOT, "case-9", View.CASE_SHOW, here, break_glass="I must"
        )
    rows = await pool.fetch(
        "SELECT staff_id, case_id, view, reason, break_glass, allowed FROM access_log "
        "ORDER BY access_id"
    )
    assert [tuple(r.values()) for r in rows] == [
        ("alice", "case-9", "summary", "review", False, True),
        ("erin", "case-9", "timeline", None, False, False),
        ("erin", "case-0", "timeline", None, False, False),
        ("erin", "case-9", "timeline", None, False, False),
        ("root", "case-9", "case show", "I must", True, False),
    ]


# --- breaking the glass, through the commands' own functions -------------------------------


@pytest.fixture
async def case_worker(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[Harness]:
    async with case_harness(time_skipping_env, sealed_store) as cases:
        yield cases, sealed_store


async def test_break_the_glass_to_read_a_case_of_another_team(case_worker: Harness) -> None:
    cases, store = case_worker
    pool = store.pool
    async with ProviderSimulator() as sim:
        await staff(store, carol_webhook=sim.notification_url("carol"))
        cmd = inputs.open_case()  # alice's case, team north
        await cases.open(cmd)
        case_id = str(cmd.case_id)
        session = Casework(Settings(), store.pool, store, _cases=cases)
        erin = await resolve_actor(store, "erin")

        with pytest.raises(CaseNotVisible):
            await read_case(session, erin, case_id)
        with pytest.raises(CaseNotVisible):
            await read_history(session, erin, case_id, reason="curious")
        with pytest.raises(BreakGlassRefused):
            await read_case(session, erin, case_id, break_glass="   ")
        assert sim.notifications == []

        why = "client called the out-of-hours line; alice is unreachable"
        shown = await read_case(session, erin, case_id, break_glass=why)
        assert shown["case_id"] == case_id and shown["team"] == "north"

        # The assigned worker reads as usual: recorded, nobody notified.
        await read_case(session, await resolve_actor(store, "alice"), case_id, reason="visit")

        log = await access_log.entries(pool, await resolve_actor(store, "audrey"), case_id)
        assert [(e.staff_id, e.view, e.allowed, e.break_glass, e.reason) for e in log] == [
            ("alice", "case show", True, False, "visit"),
            ("erin", "case show", True, True, why),
            ("erin", "case show", False, False, None),
            ("erin", "case history", False, False, "curious"),
            ("erin", "case show", False, False, None),
        ]
        glass = log[1]

        # The case's supervisor was told once, on their webhook, with the outbox key.
        [notice] = sim.notifications_for("carol")
        key = f"{case_id}:break-glass:{glass.access_id}:carol"
        assert notice.idempotency_key == key and notice.deliveries == 1
        assert notice.body["kind"] == "break_glass"
        assert (notice.body["staff_id"], notice.body["reason"]) == ("erin", why)
        assert "Quennell" not in json.dumps(notice.body)  # no client personal data
        assert sim.notifications_for("sam") == []
        row = await pool.fetchrow(
            "SELECT recipient, delivered_at, attempts FROM notification_outbox WHERE key = $1",
            key,
        )
        assert row is not None and row["delivered_at"] is not None and row["attempts"] == 1


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        yield cli


async def test_access_log_command(cli: StaffCli, pool: asyncpg.Pool) -> None:
    """Read through the API as the signed-in staff member (each at a desk of their own):
    auditors and managers see the entries, newest first; a caseworker is refused."""
    case_id = str(uuid.uuid4())
    await staff(EventStore(pool))
    await access_log.record(pool, ALICE, case_id, View.CASE_SHOW, "visit")
    await access_log.record(pool, ERIN, case_id, View.TIMELINE, "emergency", True)
    for who in ("audrey", "max", "alice"):
        await cli.enrol_directly(who, by="root")

    code, out, err = await cli.run("access-log", case_id, "--json", as_="audrey")
    assert code == 0, err
    data = json.loads(out)
    assert data["case_id"] == case_id
    assert [(e["staff_id"], e["break_glass"], e["reason"]) for e in data["entries"]] == [
        ("erin", True, "emergency"),
        ("alice", False, "visit"),
    ]
    code, out, err = await cli.run("access-log", case_id, "--limit", "1", "--json", as_="max")
    assert code == 0, err
    assert [e["staff_id"] for e in json.loads(out)["entries"]] == ["erin"]
    code, out, err = await cli.run("access-log", case_id, as_="max")
    assert code == 0 and "erin" in out and "alice" in out, err
    assert f"Access log of case {case_id}" in out
    refused = await cli.refused("access-log", case_id, as_="alice")
    assert "may not read the access log" in refused
    # Reading the access log is not a read of the case: no entry was added by these.
    assert len(await access_log.entries(pool, AUDREY, case_id)) == 2
