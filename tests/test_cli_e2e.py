"""From the command line alone, on the dev server: a case from intake to closure.

Each step is a `casework …` process, as a newcomer would type it. The operator
commands (bootstrap-admin) go straight to the database; every staff command goes
through `casework serve` (the HTTP API) as whoever signed in with `casework login`:
each person here has their own config directory, so their own session. The worker
runs beside the test on the real Temporal dev server and the real event store.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.runtime import WORKFLOWS, activities_for
from devtools.provider_simulator import ProviderSimulator
from events.keys import MasterKeyring
from events.origin import OriginKeyring
from events.store import EventStore
from tests.api_server import served_api
from tests.codec_keys import TEST_CODEC_KEYS
from tests.conftest import ROOT

EXAMPLES = ROOT / "docs" / "examples"


class Cli:
    """`casework …` as one person: their own config directory, so their own session."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = {**env, "CASEWORK_CONFIG_DIR": str(home)}

    async def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> Any:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter", *args, "--json",
            cwd=ROOT, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else b""), timeout=120
        )
        if ok:
            assert process.returncode == 0, f"casework {' '.join(args)}: {err.decode()[-2000:]}"
        else:
            assert process.returncode != 0, f"casework {' '.join(args)} should have failed"
            return err.decode()
        return json.loads(out.decode().strip().splitlines()[-1])

    async def join(self, admin: Cli, staff_id: str, password: str) -> None:
        """Invited by the admin, set a password, sign in."""
        invitation = await admin("staff", "invite", staff_id)
        await self(
            "staff", "set-password", staff_id, "--code", invitation["code"],
            "--password-stdin", stdin=password + "\n",
        )  # fmt: skip
        signed_in = await self("login", staff_id, "--password-stdin", stdin=password + "\n")
        assert signed_in["staff_id"] == staff_id


@asynccontextmanager
async def cli_stack(
    dev_server: WorkflowEnvironment,
    sealed_store: EventStore,
    master_keyring: MasterKeyring,
    database_url: str,
    queue_prefix: str = "cli",
) -> AsyncIterator[dict[str, str]]:
    """The environment of `casework …` processes: a worker beside the test on its own task
    queue, and `casework serve` as the API (its address in CASEWORK_API_URL)."""
    queue = f"{queue_prefix}-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "CASEWORK_TASK_QUEUE": queue,
        "CASEWORK_CODEC_KEYS": TEST_CODEC_KEYS,
        "CASEWORK_MASTER_KEYS": master_keyring.to_spec(),
        # The store beside the test signs nothing; the API's own appends need a key.
        "CASEWORK_ORIGIN_KEYS": OriginKeyring.generate("test-origin").to_spec(),
        "CASEWORK_LOG_LEVEL": "ERROR",
        "CASEWORK_METRICS_PORT": "0",
    }
    env.pop("CASEWORK_TOKEN", None)
    async with (
        Worker(
            dev_server.client,
            task_queue=queue,
            workflows=list(WORKFLOWS),
            activities=activities_for(sealed_store),
        ),
        served_api(env) as api_url,
    ):
        env["CASEWORK_API_URL"] = api_url
        yield env


async def signed_in_admin(env: dict[str, str], homes: Path, name: str = "Admin") -> Cli:
    """`root`, the first admin: made by the operator (straight in the database), with a
    password set, signed in."""
    operator, root = Cli(env, homes / "operator"), Cli(env, homes / "root")
    bootstrapped = await operator("staff", "bootstrap-admin", "root", "--name", name)
    await root(
        "staff", "set-password", "root", "--code", bootstrapped["invitation"]["code"],
        "--password-stdin", stdin="root's long passphrase\n",
    )  # fmt: skip
    await root("login", "root", "--password-stdin", stdin="root's long passphrase\n")
    return root


async def add_north_team(root: Cli) -> None:
    """Team north: jo (caseworker) and sue (supervisor), not yet signed in."""
    await root("staff", "add-team", "north", "--name", "North")
    for staff_id, role in (("jo", "caseworker"), ("sue", "supervisor")):
        await root(
            "staff", "add", staff_id, "--name", staff_id.title(), "--role", role,
            "--team", "north",
        )  # fmt: skip


async def add_harbour_housing(root: Cli, provider: ProviderSimulator) -> None:
    """The provider harbour-housing (its webhook on `provider`) with its emergency bed."""
    await root(
        "provider", "add", "harbour-housing", "--name", "Harbour Housing",
        "--category", "housing", "--webhook", provider.provider_url("harbour-housing"),
    )  # fmt: skip
    await root(
        "provider", "add-service", "harbour-housing", "emergency-bed", "--name",
        "Emergency bed", "--domain", "housing",
    )  # fmt: skip


@pytest.mark.slow
async def test_a_case_from_the_command_line(
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
        jo, sue = (Cli(env, tmp_path / who) for who in ("jo", "sue"))

        # Nobody is anybody until they sign in: the API refuses, and so does the CLI.
        async with httpx.AsyncClient(base_url=env["CASEWORK_API_URL"]) as http:
            assert (await http.get("/api/v1/caseload")).status_code == 401
        refused = await jo("caseload", ok=False)
        assert "not signed in" in refused and "casework login" in refused

        # The operator creates the first admin, who sets a password and signs in.
        root = await signed_in_admin(env, tmp_path, "Agency admin")
        credentials = root.home / "credentials.json"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        assert (await root("whoami"))["role"] == "admin"

        await add_north_team(root)
        await add_harbour_housing(root, provider)
        await jo.join(root, "jo", "jo's own long passphrase")
        await sue.join(root, "sue", "sue's own long passphrase")

        opened = await jo(
            "case", "open", "--client-ref", "CL-77", "--name", "Marguerite Okonkwo-Baird",
            "--worker", "jo", "--need", "housing", "--source", "agency_referral",
            "--date-of-birth", "1979-04-12", "--phone", "+44 7700 900456",
        )  # fmt: skip
        case = opened["case_id"]
        # Finding her again: her names in another order, without the hyphen, misspelt.
        found = await jo("client", "search", "okonkwo baird margarite")
        assert found[0]["client_ref"] == "CL-77", found
        assert (await jo("client", "search", "--phone", "07700900456"))[0]["client_ref"] == "CL-77"
        record = await jo("client", "show", "CL-77")
        assert record["details"]["name"] == "Marguerite Okonkwo-Baird"
        assert [c["case_id"] for c in record["cases"]] == [case]
        # The same person at the desk under a new reference: refused, naming CL-77, until
        # the worker confirms a new client (recorded with the opening).
        duplicate = (
            "case", "open", "--client-ref", "CL-78", "--name", "Marguerite Okonkwo Baird",
            "--date-of-birth", "1979-04-12", "--worker", "jo", "--need", "housing",
        )  # fmt: skip
        refused = await jo(*duplicate, ok=False)
        assert "CL-77" in refused and "confirm_new_client" in refused, refused
        second = await jo(*duplicate, "--confirm-new-client")
        assert second["events"][:2] == ["CaseOpened", "ClientMatchesReviewed"]
        # The supervisor finds they are one person: linked, never merged.
        await sue(
            "client", "link", "CL-77", "CL-78", "--reason", "one person: confirmed at the desk"
        )  # fmt: skip
        assert (await jo("client", "show", "CL-78"))["linked"] == ["CL-77"]
        await jo(
            "case", "consent", case, "--share", "name", "--share", "contact",
            "--provider", "harbour-housing",
        )  # fmt: skip
        # The client's circle of support: their sister and their GP; the plan may be
        # shared with the sister only.
        await jo(
            "case", "circle", "add", case, "--role", "family_member", "--name",
            "Ines Okonkwo-Baird", "--relationship", "younger sister", "--phone", "555-0123",
        )  # fmt: skip
        await jo(
            "case", "circle", "add", case, "--role", "gp", "--name", "Dr Achebe",
            "--organisation", "Quayside Practice",
        )  # fmt: skip
        await jo(
            "case", "circle", "consent", case, "member-1", "--share", "plan",
            "--share", "conference_decisions",
        )  # fmt: skip
        assessed = await jo("case", "assess", case, str(EXAMPLES / "assessment.yaml"))
        assert assessed["detail"]["risk_level"] == "high"
        await jo(
            "case", "plan", case, str(EXAMPLES / "plan.yaml"), "--participant", "member-1",
            "--participant", "sue",
        )  # fmt: skip
        await jo("case", "submit", case)
        refused = await jo("case", "approve", case, ok=False)
        assert "may not approve" in refused
        # A stale version is refused, not overwritten.
        stale = await sue("case", "approve", case, "--if-version", "1", ok=False)
        assert "changed" in stale
        await sue("case", "approve", case)
        shown = await jo("case", "show", case)
        assert shown["active_plan"]["participants"] == {"staff": ["sue"], "circle": ["member-1"]}
        # A case conference chaired by the supervisor agrees an action for the sister.
        opened_on = datetime.fromisoformat(shown["opened_at"]).date()
        due = (opened_on + timedelta(days=14)).isoformat()
        conference = await sue(
            "case", "conference", "record", case, "--held-on", opened_on.isoformat(),
            "--participant", "client", "--participant", "jo", "--participant", "sue",
            "--participant", "member-1", "--decision", "Ines goes with Marguerite to viewings",
            "--action", f"goal-housing:{due}:family=Ines (sister):Go to the Quay St viewing",
        )  # fmt: skip
        assert conference["events"] == ["CaseConferenceRecorded", "ActionAdded"]
        await jo(
            "case", "circle", "share", case, "member-1", "--item", "plan",
            "--item", "conference_decisions",
        )  # fmt: skip
        refused = await jo("case", "circle", "share", case, "member-2", "--item", "plan", ok=False)
        assert "not consented" in refused
        await jo(
            "case", "circle", "update", case, "member-2", "--phone", "555-0188",
        )  # fmt: skip
        await jo("case", "circle", "remove", case, "member-2", "--reason", "changed GP")
        circle = await jo("case", "circle", "list", case)
        assert circle["circle"]["member-1"]["details"]["name"] == "Ines Okonkwo-Baird"
        assert circle["conferences"]["conference-1"]["action_ids"] == ["action-1"]
        # Documents: the consent form she signed, attached from a file; a text file
        # named like a PDF refused (its content judged, not its name); the plan printed
        # for her to sign; the form downloaded byte for byte, then withdrawn.
        consent_form = tmp_path / "signed consent.pdf"
        consent_form.write_bytes(b"%PDF-1.4\n" + os.urandom(300_000) + b"\n%%EOF\n")
        added = await jo(
            "case", "document", "add", case, str(consent_form), "--kind", "consent_form",
            "--title", "Consent to share, signed",
        )  # fmt: skip
        assert (added["media_type"], added["size"]) == ("application/pdf", 300_016)
        fake = tmp_path / "letter.pdf"
        fake.write_text("Dear Marguerite, this is not a PDF\n" * 20)
        refused = await jo(
            "case", "document", "add", case, str(fake), "--kind", "letter", "--title", "x",
            ok=False,
        )  # fmt: skip
        assert "file:" in refused and "no known type" in refused, refused
        printed = await jo("case", "document", "plan", case)
        assert (printed["kind"], printed["media_type"]) == ("plan", "application/pdf")
        listed = await sue("case", "document", "list", case)
        assert [d["document_id"] for d in listed] == [printed["document_id"], added["document_id"]]
        copy = tmp_path / "copy.pdf"
        await sue("case", "document", "get", case, added["document_id"], "--out", str(copy))
        assert copy.read_bytes() == consent_form.read_bytes()
        await jo(
            "case", "document", "withdraw", case, added["document_id"], "--reason",
            "superseded by a new form",
        )  # fmt: skip
        gone = await sue(
            "case", "document", "get", case, added["document_id"], "--out", str(copy), ok=False
        )  # fmt: skip
        assert "withdrawn" in gone, gone
        # A referral sent again with its Idempotency-Key (a retry after a lost answer)
        # refers once: the same answer, one ReferralMade; another body with it, 422.
        (session,) = json.loads((jo.home / "credentials.json").read_text()).values()
        version = await sealed_store.stream_version(f"case-{case}")
        keyed = {
            "Authorization": f"Bearer {session['token']}",
            "Idempotency-Key": "ref-1",
            "If-Match": f'"{version}"',
        }
        body = {"provider": "harbour-housing", "service": "emergency-bed", "goal": "goal-housing"}
        async with httpx.AsyncClient(base_url=env["CASEWORK_API_URL"], timeout=60) as http:
            route = f"/api/v1/cases/{case}/referrals"
            first = await http.post(route, json=body, headers=keyed)
            assert first.status_code == 200, first.text
            again = await http.post(route, json=body, headers=keyed)
            assert again.status_code == 200 and again.json() == first.json(), again.text
            other = await http.post(route, json={**body, "note": "x"}, headers=keyed)
            assert other.status_code == 422 and "Idempotency-Key" in other.text, other.text
        made = await sealed_store.read_stream(f"case-{case}")
        assert [e.event_type for e in made].count("ReferralMade") == 1
        # Harbour Housing's intake worker answers in the provider portal: referral-1 (sent
        # sharing no field, though she consented to two) shows nothing of her, and is
        # declined with a reason.
        hana = Cli(env, tmp_path / "hana")
        await root(
            "staff", "add", "hana", "--name", "Hana", "--role", "provider",
            "--provider", "harbour-housing",
        )  # fmt: skip
        await hana.join(root, "hana", "hana's own long passphrase")
        shown = await hana("portal", "show", case, "referral-1")
        assert shown["shared"] == {} and shown["service_id"] == "emergency-bed", shown
        assert shown["actions"] == ["accept", "decline"], shown
        declined = await hana(
            "portal", "decline", case, "referral-1", "--reason", "no bed tonight"
        )  # fmt: skip
        assert declined["events"] == ["ReferralDeclined"], declined
        await jo(
            "case", "refer", case, "--provider", "harbour-housing", "--service",
            "emergency-bed", "--goal", "goal-housing", "--share", "name",
        )  # fmt: skip
        await jo("case", "referral-reply", case, "referral-2", "--outcome", "accepted")
        # The client found a place herself: the accepted referral is withdrawn, with a
        # reason; the provider's later reply is refused.
        await jo(
            "case", "withdraw-referral", case, "referral-2", "--reason", "found a place herself",
        )  # fmt: skip
        refused = await jo(
            "case", "referral-reply", case, "referral-2", "--outcome", "completed", ok=False
        )  # fmt: skip
        assert "referral-2 is withdrawn" in refused, refused
        await provider.wait_for(
            lambda: any(r.notice for r in provider.referrals_for("harbour-housing")), 60
        )
        # Contact dates follow the case's own opening date (the server's clock), never
        # a calendar date: the rule refuses a contact dated before the case was opened.
        shown = await jo("case", "show", case)
        opened_on = datetime.fromisoformat(shown["opened_at"]).date()
        for week in range(3):
            day = (opened_on + timedelta(days=7 * week)).isoformat()
            await jo("case", "contact", case, "--kind", "home_visit", "--date", day)
        # A colleague of the team covers: case notes are not only the assigned worker's.
        await sue("case", "note", case, "--text", "Spoke with the GP about sleep")
        await jo("case", "progress", case, "--goal", "goal-housing", "--status", "met")
        await jo("case", "evaluate", case, str(EXAMPLES / "evaluation.yaml"))
        await jo("case", "close", case, "--reason", "goals_met")
        closed = await sue("case", "approve-closure", case)
        assert closed["status"] == "closed"
        history = await sue("case", "history", case)

        # Signing out ends the session on the server and here.
        await jo("logout")
        assert json.loads((jo.home / "credentials.json").read_text()) == {}
        assert "not signed in" in await jo("case", "show", case, ok=False)

    steps = [(row["type"], row["actor"]) for row in history]
    assert steps[0] == ("CaseOpened", "jo")
    for expected in [
        ("AssessmentRecorded", "jo"),
        ("ApprovalGranted", "sue"),
        ("ReferralMade", "jo"),
        ("ReferralDispatched", "casework"),
        ("ReferralAccepted", "jo"),
        ("ReferralWithdrawn", "jo"),
        ("CaseNoteRecorded", "sue"),
        ("CircleMemberAdded", "jo"),
        ("CircleConsentRecorded", "jo"),
        ("CaseConferenceRecorded", "sue"),
        ("ActionAdded", "sue"),
        ("SharedWithCircleMember", "jo"),
        ("CircleMemberRemoved", "jo"),
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
    circle_rows = await sealed_store.pool.fetch(
        "SELECT data::text AS data FROM events WHERE stream_id = $1 AND event_type IN "
        "('CircleMemberAdded', 'CaseConferenceRecorded')",
        f"case-{case}",
    )
    assert len(circle_rows) == 3
    for row in circle_rows:
        assert "Ines" not in row["data"] and "555-0123" not in row["data"]
    # Two referrals reached the provider (the retried one once): the second shares the
    # client's name as asked, the first (sent with no field to share) shares none. Then
    # the second's withdrawal, once, without the reason (the client's business).
    *received, withdrawn = provider.referrals_for("harbour-housing")
    assert len(received) == 2, received
    assert withdrawn.notice == "referral.withdrawn" and withdrawn.referral_id == "referral-2"
    assert "found a place" not in str(withdrawn.body)
    assert received[1].body["shared"]["name"] == "Marguerite Okonkwo-Baird"
    assert "name" not in received[0].body["shared"]
