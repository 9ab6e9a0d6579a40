"""From the command line alone, on the dev server: a case from intake to closure.

Each step is a `casework …` process, as a newcomer would type it; the worker runs
beside the test on the real Temporal dev server and the real event store.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.runtime import WORKFLOWS, activities_for
from casework.provider_simulator import ProviderSimulator
from events.keys import MasterKeyring
from events.store import EventStore
from tests.codec_keys import TEST_CODEC_KEYS
from tests.conftest import ROOT

EXAMPLES = ROOT / "docs" / "examples"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    async def __call__(self, *args: str, ok: bool = True) -> Any:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter", *args, "--json",
            cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        if ok:
            assert process.returncode == 0, f"casework {' '.join(args)}: {err.decode()[-2000:]}"
        else:
            assert process.returncode != 0, f"casework {' '.join(args)} should have failed"
            return err.decode()
        return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.slow
async def test_a_case_from_the_command_line(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
) -> None:
    queue = f"cli-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "CASEWORK_TASK_QUEUE": queue,
        "CASEWORK_CODEC_KEYS": TEST_CODEC_KEYS,
        "CASEWORK_MASTER_KEYS": master_keyring.to_spec(),
        "CASEWORK_LOG_LEVEL": "ERROR",
        "CASEWORK_METRICS_PORT": "0",
    }
    cli = Cli(env)
    async with (
        ProviderSimulator() as provider,
        Worker(
            dev_server.client,
            task_queue=queue,
            workflows=list(WORKFLOWS),
            activities=activities_for(sealed_store),
        ),
    ):
        await cli("staff", "bootstrap-admin", "root", "--name", "Agency admin")
        await cli("staff", "add-team", "north", "--name", "North", "--as", "root")
        for staff_id, role in (("jo", "caseworker"), ("sue", "supervisor")):
            await cli(
                "staff", "add", staff_id, "--name", staff_id.title(), "--role", role,
                "--team", "north", "--as", "root",
            )  # fmt: skip
        await cli(
            "provider", "add", "harbour-housing", "--name", "Harbour Housing",
            "--category", "housing", "--webhook", provider.provider_url("harbour-housing"),
            "--as", "root",
        )  # fmt: skip
        await cli(
            "provider", "add-service", "harbour-housing", "emergency-bed", "--name",
            "Emergency bed", "--domain", "housing", "--as", "root",
        )  # fmt: skip

        opened = await cli(
            "case", "open", "--client-ref", "CL-77", "--name", "Marguerite Okonkwo-Baird",
            "--worker", "jo", "--need", "housing", "--source", "agency_referral", "--as", "jo",
        )  # fmt: skip
        case = opened["case_id"]
        await cli(
            "case", "consent", case, "--share", "name", "--share", "contact",
            "--provider", "harbour-housing", "--as", "jo",
        )  # fmt: skip
        assessed = await cli(
            "case", "assess", case, str(EXAMPLES / "assessment.yaml"), "--as", "jo"
        )
        assert assessed["detail"]["risk_level"] == "high"
        await cli("case", "plan", case, str(EXAMPLES / "plan.yaml"), "--as", "jo")
        await cli("case", "submit", case, "--as", "jo")
        refused = await cli("case", "approve", case, "--as", "jo", ok=False)
        assert "may not approve" in refused
        await cli("case", "approve", case, "--as", "sue")
        await cli(
            "case", "refer", case, "--provider", "harbour-housing", "--service",
            "emergency-bed", "--goal", "goal-housing", "--share", "name", "--as", "jo",
        )  # fmt: skip
        await cli(
            "case", "referral-reply", case, "referral-1", "--outcome", "accepted", "--as", "jo"
        )
        # Contact dates follow the case's own opening date (the server's clock), never
        # a calendar date: the rule refuses a contact dated before the case was opened.
        shown = await cli("case", "show", case, "--as", "jo")
        opened_on = datetime.fromisoformat(shown["opened_at"]).date()
        for week in range(3):
            day = (opened_on + timedelta(days=7 * week)).isoformat()
            await cli("case", "contact", case, "--kind", "home_visit", "--date", day, "--as", "jo")
        # A colleague of the team covers: case notes are not only the assigned worker's.
        await cli("case", "note", case, "--text", "Spoke with the GP about sleep", "--as", "sue")
        await cli(
            "case", "progress", case, "--goal", "goal-housing", "--status", "met", "--as", "jo"
        )
        await cli("case", "evaluate", case, str(EXAMPLES / "evaluation.yaml"), "--as", "jo")
        await cli("case", "close", case, "--reason", "goals_met", "--as", "jo")
        closed = await cli("case", "approve-closure", case, "--as", "sue")
        assert closed["status"] == "closed"
        history = await cli("case", "history", case, "--as", "sue")

    steps = [(row["type"], row["actor"]) for row in history]
    assert steps[0] == ("CaseOpened", "jo")
    for expected in [
        ("AssessmentRecorded", "jo"),
        ("ApprovalGranted", "sue"),
        ("ReferralMade", "jo"),
        ("ReferralDispatched", "casework"),
        ("ReferralAccepted", "jo"),
        ("CaseNoteRecorded", "sue"),
        ("GoalsEvaluated", "jo"),
        ("CaseClosed", "sue"),
    ]:
        assert expected in steps, expected
    assert all(row["occurred_at"] for row in history)
    # The note is personal data: sealed in the log, never stored in the clear.
    stored = await sealed_store.pool.fetchval(
        "SELECT data::text FROM events WHERE stream_id = $1 AND event_type = 'CaseNoteRecorded'",
        f"case-{case}",
    )
    assert "enc:v1:" in stored and "Spoke with the GP" not in stored
    received = provider.referrals_for("harbour-housing")
    assert len(received) == 1 and received[0].body["shared"]["name"] == "Marguerite Okonkwo-Baird"
