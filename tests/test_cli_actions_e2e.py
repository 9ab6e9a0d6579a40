"""From the command line alone, on the dev server: a case from intake to closure with the
actions of its plan (docs/examples/actions.sh): added, done (one late), dropped,
reassigned, one left to fall overdue; `actions mine` and `actions overdue`.

The set-up is tests/test_cli_e2e.py's: a worker beside the test on the Temporal dev
server, `casework serve` as the API, each person signed in with their own config.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from events.keys import MasterKeyring
from events.store import EventStore
from tests.projections.conftest import catch_up
from tests.test_cli_e2e import EXAMPLES, Cli, add_north_team, cli_stack, signed_in_admin


async def _server_now(cli: Cli, case: str) -> datetime:
    """The case's clock: when its latest event was recorded (the server's time)."""
    history = await cli("case", "history", case)
    return max(datetime.fromisoformat(row["occurred_at"]) for row in history)


@pytest.mark.slow
async def test_a_case_with_actions_from_the_command_line(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
    tmp_path: Path,
) -> None:
    async with cli_stack(
        dev_server, sealed_store, master_keyring, database_url, "cli-actions"
    ) as env:
        root = await signed_in_admin(env, tmp_path)
        jo, sue = (Cli(env, tmp_path / who) for who in ("jo", "sue"))
        await add_north_team(root)
        await jo.join(root, "jo", "jo's own long passphrase")
        await sue.join(root, "sue", "sue's own long passphrase")

        opened = await jo(
            "case", "open", "--client-ref", "CL-78", "--name", "Tobias Wren-Achterberg",
            "--worker", "jo", "--need", "housing",
        )  # fmt: skip
        case = opened["case_id"]
        await jo("case", "assess", case, str(EXAMPLES / "assessment.yaml"))
        await jo("case", "plan", case, str(EXAMPLES / "plan.yaml"))
        await jo("case", "submit", case)
        await sue("case", "approve", case)

        now = await _server_now(jo, case)
        week = (now + timedelta(days=5)).date().isoformat()
        added = await jo(
            "case", "action", "add", case, "--goal", "goal-housing", "--owner", "client",
            "--due", week, "--description", "Bring ID documents to the housing office",
        )  # fmt: skip
        assert added["events"] == ["ActionAdded"]
        await jo(
            "case", "action", "add", case, "--goal", "goal-housing", "--owner",
            "family=Ines (sister)", "--due", week, "--description", "Lend the deposit",
        )  # fmt: skip
        soon = (await _server_now(jo, case) + timedelta(seconds=30)).isoformat()
        await jo(
            "case", "action", "add", case, "--goal", "goal-housing", "--owner", "caseworker",
            "--due", soon, "--crisis-plan", "--description", "Phone the night shelter",
        )  # fmt: skip
        # Bad input: refused naming the field, nothing written.
        refused = await jo(
            "case", "action", "add", case, "--goal", "goal-nothing", "--owner", "client",
            "--due", week, "--description", "x", ok=False,
        )  # fmt: skip
        assert "goal_id" in refused
        assert "--owner" in await jo(
            "case", "action", "add", case, "--goal", "goal-housing", "--owner", "worker",
            "--due", week, "--description", "x", ok=False,
        )  # fmt: skip
        assert "--due" in await jo(
            "case", "action", "add", case, "--goal", "goal-housing", "--due", "next week",
            "--description", "x", ok=False,
        )  # fmt: skip

        await catch_up(database_url, sealed_store)  # the projector's work, done here
        mine = await jo("actions", "mine")
        assert {a["action_id"] for a in mine["actions"]} == {"action-1", "action-2", "action-3"}

        await jo("case", "action", "done", case, "action-1", "--note", "brought them")
        await jo("case", "action", "drop", case, "action-2", "--reason", "the council pays it")
        await sue(
            "case", "action", "reassign", case, "action-3", "--owner", "worker=sue",
            "--reason", "jo is on leave tomorrow",
        )  # fmt: skip
        refused = await jo("case", "action", "done", case, "action-2", ok=False)
        assert "already dropped" in refused

        # action-3 (of the crisis plan) falls overdue on the server's clock and escalates.
        for _ in range(120):
            await catch_up(database_url, sealed_store)
            overdue = await sue("actions", "overdue")
            if overdue["actions"]:
                break
            await asyncio.sleep(0.5)
        [row] = overdue["actions"]
        assert (row["action_id"], row["worker"], row["status"]) == ("action-3", "sue", "overdue")
        by_team = await sue("actions", "overdue", "--by-team")
        assert by_team == [{"team": "north", "overdue": 1, "critical": 1}]
        shown = await jo("case", "show", case)
        assert shown["actions"]["action-3"]["status"] == "overdue"
        assert shown["actions"]["action-2"]["drop_reason"] == "the council pays it"
        assert any(e["subject"] == "action" for e in shown["escalations"].values())

        done = await sue("case", "action", "done", case, "action-3")
        assert done["events"] == ["ActionCompleted"]
        await catch_up(database_url, sealed_store)
        assert (await sue("actions", "overdue"))["actions"] == []

        await jo("case", "evaluate", case, str(EXAMPLES / "evaluation.yaml"))
        await jo("case", "close", case, "--reason", "goals_met")
        assert (await sue("case", "approve-closure", case))["status"] == "closed"
        history = await sue("case", "history", case)

    types = [row["type"] for row in history]
    for expected in (
        "ActionAdded",
        "ActionCompleted",
        "ActionDropped",
        "ActionReassigned",
        "ActionOverdue",
        "EscalationRaised",
        "EscalationResolved",
        "CaseClosed",
    ):
        assert expected in types, expected
    stored = await sealed_store.pool.fetch(
        "SELECT data::text AS data FROM events WHERE stream_id = $1 AND event_type IN "
        "('ActionAdded')",
        f"case-{case}",
    )
    assert len(stored) == 3
    for event in stored:
        assert "enc:v1:" in event["data"]
        assert "Ines" not in event["data"] and "night shelter" not in event["data"]
