"""The client's language from the command line, as a person runs it (`casework …`
processes against `casework serve` and a worker): given at the opening with
`--language es --interpreter`, changed with `casework case language`, a bad tag refused
naming the field with nothing written, and carried by a referral to the provider only
when the client consented to share it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devtools.provider_simulator import ProviderSimulator
from events.keys import MasterKeyring
from events.store import EventStore
from tests.test_cli_e2e import (
    EXAMPLES,
    Cli,
    add_harbour_housing,
    add_north_team,
    cli_stack,
    signed_in_admin,
)


@pytest.mark.slow
async def test_the_clients_language_from_the_command_line(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
    tmp_path: Path,
) -> None:
    async with (
        ProviderSimulator() as provider,
        cli_stack(dev_server, sealed_store, master_keyring, database_url, "lang") as env,
    ):
        root = await signed_in_admin(env, tmp_path)
        jo, sue = (Cli(env, tmp_path / who) for who in ("jo", "sue"))
        await add_north_team(root)
        await add_harbour_housing(root, provider)
        await jo.join(root, "jo", "jo's own long passphrase")
        await sue.join(root, "sue", "sue's own long passphrase")

        opened = await jo(
            "case", "open", "--client-ref", "CL-LANG", "--name", "Amparo Villanueva-Ruiz",
            "--worker", "jo", "--need", "housing", "--language", "es", "--interpreter",
        )  # fmt: skip
        case = opened["case_id"]
        client = (await jo("case", "show", case))["client"]
        assert (client["preferred_language"], client["interpreter_needed"]) == ("es", True)

        # Not a language tag: refused naming the field, nothing written.
        stream = f"case-{case}"
        before = await sealed_store.stream_version(stream)
        refused = await jo("case", "language", case, "Spanish", "--interpreter", ok=False)
        assert "preferred_language" in refused, refused
        assert await sealed_store.stream_version(stream) == before

        changed = await jo("case", "language", case, "pt_br", "--no-interpreter")
        assert changed["events"] == ["ClientLanguageRecorded"]
        client = (await jo("case", "show", case))["client"]
        assert (client["preferred_language"], client["interpreter_needed"]) == ("pt-BR", False)
        again = await jo("case", "language", case, "pt-BR", "--no-interpreter", ok=False)
        assert "already records" in again, again

        # Consent to share the name and the language with the provider; the first
        # referral asks for the name only, the second for both.
        await jo(
            "case", "consent", case, "--share", "name", "--share", "language",
            "--provider", "harbour-housing",
        )  # fmt: skip
        await jo("case", "assess", case, str(EXAMPLES / "assessment.yaml"))
        await jo("case", "plan", case, str(EXAMPLES / "plan.yaml"))
        await jo("case", "submit", case)
        await sue("case", "approve", case)
        refer = (
            "case", "refer", case, "--provider", "harbour-housing", "--service",
            "emergency-bed", "--goal", "goal-housing", "--share", "name",
        )  # fmt: skip
        await jo(*refer)
        await jo(
            "case", "referral-reply", case, "referral-1", "--outcome", "declined",
            "--reason", "no bed tonight",
        )  # fmt: skip
        await jo(*refer, "--share", "language")
        await provider.wait_for(lambda: len(provider.referrals_for("harbour-housing")) >= 2, 60)
        first, second = sorted(
            provider.referrals_for("harbour-housing"), key=lambda r: str(r.referral_id)
        )
        assert "preferred_language" not in json.dumps(first.body), first.body
        assert "Amparo Villanueva-Ruiz" in json.dumps(first.body)
        sent = json.dumps(second.body)
        assert '"preferred_language": "pt-BR"' in sent and '"interpreter_needed": false' in sent
