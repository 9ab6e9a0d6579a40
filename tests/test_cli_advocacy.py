"""From the command line alone (issue 16): a case from intake to closure with advocacy
on the client's behalf (a stopped benefit, an appeal won) and the client's feedback on
their plan and on a provider's service; then `casework outcomes` shows both."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devtools.provider_simulator import ProviderSimulator
from events.keys import MasterKeyring
from events.store import EventStore
from tests.projections.conftest import catch_up
from tests.test_cli_e2e import (
    EXAMPLES,
    Cli,
    add_harbour_housing,
    add_north_team,
    cli_stack,
    signed_in_admin,
)


@pytest.mark.slow
async def test_advocacy_and_feedback_from_the_command_line(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
    tmp_path: Path,
) -> None:
    async with (
        ProviderSimulator() as provider,
        cli_stack(dev_server, sealed_store, master_keyring, database_url) as env,
    ):
        root = await signed_in_admin(env, tmp_path)
        jo, sue = (Cli(env, tmp_path / who) for who in ("jo", "sue"))
        await add_north_team(root)
        await add_harbour_housing(root, provider)
        await jo.join(root, "jo", "jo's own long passphrase")
        await sue.join(root, "sue", "sue's own long passphrase")

        opened_case = await jo(
            "case", "open", "--client-ref", "CL-ADV", "--name", "Marguerite Okonkwo-Baird",
            "--worker", "jo", "--need", "benefits",
        )  # fmt: skip
        case = opened_case["case_id"]
        await jo("case", "consent", case, "--share", "name", "--provider", "harbour-housing")
        await jo("case", "assess", case, str(EXAMPLES / "assessment.yaml"))
        await jo("case", "plan", case, str(EXAMPLES / "plan.yaml"))
        agreed = await jo("case", "feedback", case, "--on", "plan", "--rating", "4", "--agrees",
                          "--words", "The housing goal matters most to me")  # fmt: skip
        assert agreed["events"] == ["ClientFeedbackRecorded"]
        await jo("case", "submit", case)
        await sue("case", "approve", case)

        opened_on = datetime.fromisoformat((await jo("case", "show", case))["opened_at"]).date()
        week, month = (str(opened_on + timedelta(days=d)) for d in (7, 30))
        refused = await jo(
            "case", "advocacy", "open", case, "--barrier", "benefit_stopped",
            "--organisation", "Benefits Office", "--action", "request",
            "--consent-by", "guardian", "--next-step", "Decision", "--next-step-date", week,
            ok=False,
        )  # fmt: skip
        assert "consent_name" in refused
        assert "--next-step-date" in await jo(
            "case", "advocacy", "open", case, "--barrier", "benefit_stopped",
            "--organisation", "Benefits Office", "--action", "request",
            "--next-step", "Decision", "--next-step-date", "soon", ok=False,
        )  # fmt: skip
        opened = await jo(
            "case", "advocacy", "open", case, "--barrier", "benefit_stopped",
            "--organisation", "Benefits Office", "--action", "request",
            "--details", "Benefit stopped after a missed letter",
            "--next-step", "Reconsideration decision", "--next-step-date", week,
        )  # fmt: skip
        assert opened["events"] == ["AdvocacyOpened"]
        await jo(
            "case", "advocacy", "step", case, "advocacy-1", "--action", "appeal",
            "--next-step", "Tribunal hearing", "--next-step-date", month,
        )  # fmt: skip
        await jo("case", "advocacy", "outcome", case, "advocacy-1", "--outcome", "resolved",
                 "--note", "Reinstated with back pay")  # fmt: skip
        assert "was concluded" in await jo(
            "case", "advocacy", "outcome", case, "advocacy-1", "--outcome", "withdrawn", ok=False
        )
        await jo(
            "case", "feedback", case, "--on", "service", "--provider", "harbour-housing",
            "--service", "emergency-bed", "--rating", "2", "--words", "Cold and noisy",
        )  # fmt: skip
        shown = await jo("case", "show", case)
        assert shown["advocacy"]["advocacy-1"]["outcome"] == "resolved"
        assert shown["advocacy"]["advocacy-1"]["actions"] == ["request", "appeal"]
        assert shown["feedback"] == 2

        await jo("case", "close", case, "--reason", "goals_met")
        assert (await sue("case", "approve-closure", case))["status"] == "closed"

        await catch_up(database_url, sealed_store)
        report = await sue("outcomes")
        [advocacy] = report["advocacy"]
        assert (advocacy["barrier"], advocacy["appealed"], advocacy["won_on_appeal"]) == (
            "benefit_stopped",
            1,
            1,
        )
        [rated] = report["feedback"]
        assert (rated["provider_id"], rated["avg_rating"], rated["poor"]) == (
            "harbour-housing",
            2.0,
            1,
        )
        assert report["plan_feedback"]["agrees"] == 1
