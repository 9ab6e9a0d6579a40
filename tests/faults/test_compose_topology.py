"""The production topology, run from docker-compose.yml itself (tests/compose_topology.py).

The operator makes the deployment's keys (`casework keys generate --dir`), the one-shot
`casework-setup` prepares the servers, and every long-running Casework service of the
file starts as its own processes: two workers, the projector, the notary and two API
replicas, each with only its own environment and data directory. Then, as people use it:

* a whole case from the command line, its commands alternating between the two API
  replicas (a session made through one is honoured by the other);
* a load of cases while a worker replica is killed (SIGKILL): every command answered
  once, nothing lost, nothing doubled in the log; a third worker is added and the cases
  go on;
* the notary checkpoints the log, and `casework-verify` (the file's one-shot) finds
  every chain, origin proof, workflow and read model in order;
* a process without the keys refuses to start with one line naming the settings.

Every case workflow the topology ran is replayed from a cold cache, with the
deployment's codec keys, before its Temporal dev server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from devtools.provider_simulator import ProviderSimulator
from infrastructure.settings import Settings
from infrastructure.temporal import data_converter
from tests.compose_topology import (
    BIN,
    Container,
    RoundRobin,
    Topology,
    environ_without_casework,
)
from tests.conftest import ROOT
from tests.faults.conftest import FaultReport
from tests.replay_everything import replay_case_histories
from tests.temporal_env import DEV_SERVER
from workflows import search_attributes as sa

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLES = ROOT / "docs" / "examples"
READY_WITHIN_S = 120.0
LOAD_CASES = 4


class Staff:
    """`casework ...` as one person at their own shell (their own session), against the
    deployment's API behind its load balancer."""

    def __init__(self, name: str, home: Path, url: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.env = {**environ_without_casework(), "CASEWORK_CONFIG_DIR": str(home)}
        self.url = url

    async def __call__(self, *args: str, stdin: str | None = None) -> Any:
        url = self.url
        process = await asyncio.create_subprocess_exec(
            str(BIN / "casework"), *args, "--json", cwd=ROOT,
            env={**self.env, "CASEWORK_API_URL": url}, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else b""), timeout=180
        )
        assert process.returncode == 0, (
            f"{self.name}: casework {' '.join(args)} via {url}: {err.decode()[-2000:]}"
        )
        return json.loads(out.decode().strip().splitlines()[-1])

    async def join(self, admin: Staff, staff_id: str, password: str) -> None:
        invitation = await admin("staff", "invite", staff_id)
        await self(
            "staff", "set-password", staff_id, "--code", invitation["code"],
            "--password-stdin", stdin=password + "\n",
        )  # fmt: skip
        await self("login", staff_id, "--password-stdin", stdin=password + "\n")


async def _answering(container: Container) -> None:
    url = container.http_url
    assert url is not None
    deadline = time.monotonic() + READY_WITHIN_S
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            assert container.process.returncode is None, (
                f"{container.service} exited:\n{container.log_tail()}"
            )
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered"
            await asyncio.sleep(0.3)


async def _case_to_approval(jo: Staff, sue: Staff, client_ref: str) -> tuple[str, list[str]]:
    """Open, assess, plan, submit (jo), approve (sue): (case id, event types written)."""
    written: list[str] = []
    opened = await jo(
        "case", "open", "--client-ref", client_ref, "--name", f"Client {client_ref}",
        "--worker", "jo", "--need", "housing", "--source", "agency_referral",
    )  # fmt: skip
    case = str(opened["case_id"])
    written += opened.get("events") or ["CaseOpened"]
    for result in (
        await jo("case", "assess", case, str(EXAMPLES / "assessment.yaml")),
        await jo("case", "plan", case, str(EXAMPLES / "plan.yaml")),
        await jo("case", "submit", case),
        await sue("case", "approve", case),
    ):
        written += result["events"]
    return case, written


async def _operator(*args: str) -> Any:
    """`casework ...` at the operator's shell (no Casework settings): its JSON answer."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "casework"), *args, env=environ_without_casework(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def _case_events(dsn: str) -> dict[str, list[tuple[str, str | None]]]:
    """Each case stream's events in order: (type, correlation id)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT stream_id, event_type, metadata->>'correlation_id' AS correlation_id
                 FROM events WHERE stream_id LIKE 'case-%'
                ORDER BY stream_id, stream_version"""
        )
    finally:
        await conn.close()
    by_stream: dict[str, list[tuple[str, str | None]]] = {}
    for row in rows:
        by_stream.setdefault(row["stream_id"], []).append(
            (row["event_type"], row["correlation_id"])
        )
    return by_stream


async def test_the_compose_topology_runs_a_case_loses_nothing_and_verifies(
    empty_database_url: str,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    async with contextlib.AsyncExitStack() as exits:
        await _the_topology(exits, empty_database_url, tmp_path, fault_report)


async def _the_topology(
    exits: contextlib.AsyncExitStack,
    empty_database_url: str,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    started = time.monotonic()
    secrets = tmp_path / "secrets"
    made = await _operator("keys", "generate", "--dir", str(secrets), "--json")
    assert set(made["settings"]) >= {"CASEWORK_CODEC_KEYS_FILE"}

    # Temporal, as compose's `temporal` service: the test's dev server, its client with
    # the deployment's codec keys (to replay what the topology made).
    deployment = Settings.model_validate({"CASEWORK_CODEC_KEYS_FILE": secrets / "codec.keys"})
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(DEV_SERVER),
        data_converter=data_converter(deployment),
        search_attributes=sa.ALL,
    )
    exits.push_async_callback(temporal.shutdown)
    topology = Topology(
        tmp_path / "compose",
        database_url=empty_database_url,
        temporal_address=temporal.client.service_client.config.target_host,
        variables={"CASEWORK_SECRETS_DIR": str(secrets)},
    )
    assert {"casework-setup", "casework-worker", "casework-api", "casework-verify"} <= set(
        topology.services
    )
    async with ProviderSimulator() as provider:
        try:
            # A process of the deployment without its secrets refuses, naming them.
            worker = topology.services["casework-worker"]
            topology.services["bare-worker"] = dataclasses.replace(
                worker,
                name="bare-worker",
                secrets=[],
                environment={k: v for k, v in worker.environment.items() if "_KEYS" not in k},
            )
            code, output = await topology.run("bare-worker")
            assert code == 3, output
            assert "CASEWORK_CODEC_KEYS" in output and "CASEWORK_MASTER_KEYS" in output
            assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
            assert not list((tmp_path / "compose" / "containers").glob("*/data/keys/*"))

            code, output = await topology.run("casework-setup")
            assert code == 0, output
            workers = await topology.start("casework-worker")
            await topology.start("casework-projector")
            await topology.start("casework-notary")
            apis = await topology.start("casework-api")
            assert len(workers) == 2 and len(apis) == 2
            await asyncio.gather(*(_answering(api) for api in apis))
            # Each service's health check, run in its container as Docker runs it.
            checked = []
            for name, spec in topology.services.items():
                if spec.healthcheck and spec.healthcheck[0] == "casework":
                    code, output = await topology.run(name, *spec.healthcheck)
                    assert code == 0, f"{name}: {output}"
                    checked.append(name)
            assert {"casework-worker", "casework-projector", "casework-notary"} <= set(checked)
            balancer = await exits.enter_async_context(
                RoundRobin([("127.0.0.1", int(api.env["CASEWORK_HTTP_PORT"])) for api in apis])
            )

            # The operator makes the first admin (straight in the database, as a one-off
            # container of the API's service); the rest is staff at their own shells.
            code, output = await topology.run(
                "casework-api", "casework", "staff", "bootstrap-admin", "root", "--name",
                "Admin", "--json",
            )  # fmt: skip
            assert code == 0, output
            invitation = json.loads(output.strip().splitlines()[-1])["invitation"]["code"]
            root = Staff("root", tmp_path / "home" / "root", balancer.url)
            await root(
                "staff", "set-password", "root", "--code", invitation,
                "--password-stdin", stdin="root's long passphrase\n",
            )  # fmt: skip
            await root("login", "root", "--password-stdin", stdin="root's long passphrase\n")
            await root("staff", "add-team", "north", "--name", "North")
            for staff_id, role in (("jo", "caseworker"), ("sue", "supervisor")):
                await root(
                    "staff", "add", staff_id, "--name", staff_id.title(), "--role", role,
                    "--team", "north",
                )  # fmt: skip
            await root(
                "provider", "add", "harbour-housing", "--name", "Harbour Housing",
                "--category", "housing", "--webhook", provider.provider_url("harbour-housing"),
            )  # fmt: skip
            await root(
                "provider", "add-service", "harbour-housing", "emergency-bed", "--name",
                "Emergency bed", "--domain", "housing",
            )  # fmt: skip
            jo = Staff("jo", tmp_path / "home" / "jo", balancer.url)
            sue = Staff("sue", tmp_path / "home" / "sue", balancer.url)
            await jo.join(root, "jo", "jo's own long passphrase")
            await sue.join(root, "sue", "sue's own long passphrase")

            # A whole case, alternating replicas.
            first_case_at = time.monotonic()
            case, written = await _case_to_approval(jo, sue, "CL-1")
            first_case_s = time.monotonic() - first_case_at
            expected: dict[str, list[str]] = {case: written}
            for step in (
                ("case", "consent", case, "--share", "name", "--provider", "harbour-housing"),
                (
                    "case", "refer", case, "--provider", "harbour-housing", "--service",
                    "emergency-bed", "--goal", "goal-housing", "--share", "name",
                ),
                ("case", "referral-reply", case, "referral-1", "--outcome", "accepted"),
            ):  # fmt: skip
                expected[case] += (await jo(*step))["events"]
            shown = await jo("case", "show", case)
            opened_on = datetime.fromisoformat(shown["opened_at"]).date()
            for week in range(2):
                day = (opened_on + timedelta(days=7 * week)).isoformat()
                expected[case] += (
                    await jo("case", "contact", case, "--kind", "home_visit", "--date", day)
                )["events"]
            closing: tuple[tuple[str, ...], ...] = (
                ("case", "progress", case, "--goal", "goal-housing", "--status", "met"),
                ("case", "evaluate", case, str(EXAMPLES / "evaluation.yaml")),
                ("case", "close", case, "--reason", "goals_met"),
            )
            for closing_step in closing:
                expected[case] += (await jo(*closing_step))["events"]
            closed = await sue("case", "approve-closure", case)
            expected[case] += closed["events"]
            assert closed["status"] == "closed"
            assert min(balancer.connections.values()) > 10, balancer.connections

            # Load, and a worker replica killed in the middle of it.
            async def kill_a_worker() -> None:
                await asyncio.sleep(3.0)
                await topology.stop(workers[0], signal.SIGKILL)

            loaded = await asyncio.gather(
                kill_a_worker(),
                *(_case_to_approval(jo, sue, f"CL-L{i}") for i in range(LOAD_CASES)),
            )
            for result in loaded[1:]:
                assert isinstance(result, tuple)
                expected[result[0]] = result[1]
            assert workers[0].process.returncode is not None
            # A third worker joins; the killed one's cases go on with the others.
            third = await topology.start("casework-worker", replicas=1)
            for load_case in list(expected)[1:]:
                expected[load_case] += (await jo("case", "note", load_case, "--text", "Seen"))[
                    "events"
                ]
            await topology.stop(workers[1])  # drained on SIGTERM; the third carries on
            for load_case in list(expected)[1:3]:
                expected[load_case] += (
                    await jo("case", "note", load_case, "--text", "Seen again")
                )["events"]
            assert third[0].process.returncode is None

            # Every command's events once: none lost, none doubled (a command retried
            # after the kill is answered from its first run, not written again).
            logged = await _case_events(empty_database_url)
            for stream_case, types in expected.items():
                in_log = Counter(t for t, _ in logged[f"case-{stream_case}"])
                # A review is also scheduled when the case opens (its answer lists no
                # events): at least the commands' ones; every other type exactly.
                wanted = Counter(types)
                assert in_log["ReviewScheduled"] >= wanted.pop("ReviewScheduled", 0)
                assert {t: in_log[t] for t in wanted} == dict(wanted), stream_case
                # A command's events are one block under its update id (the case's own
                # timers and dispatches write under the workflow id, in many places).
                stream = logged[f"case-{stream_case}"]
                blocks = [
                    c
                    for i, (_, c) in enumerate(stream)
                    if c and not c.startswith("case-") and (i == 0 or stream[i - 1][1] != c)
                ]
                assert len(blocks) == len(set(blocks)), f"a command's events twice: {blocks}"

            # The notary checkpoints the log (stopped, then once by hand, so that the
            # checkpoint covers everything); casework-verify checks it all.
            for notary in topology.running("casework-notary"):
                await topology.stop(notary)
            code, output = await topology.run(
                "casework-notary", "casework", "notary", "checkpoint", "--json"
            )
            assert code == 0, output
            code, output = await topology.run("casework-verify", "casework", "verify", "--json")
            assert code == 0, output
            verified = json.loads(output.strip().splitlines()[-1])
            assert verified["ok"] and verified["origins"]["ok"], verified
            assert verified["checkpoints"]["reproduced"] >= 1, verified
            assert not topology.dead(), topology.dead()

            # A rotation of the codec, master and origin keys: a new key first in each
            # secret, the old ones kept; every process restarted. Old data still reads,
            # new data uses the new keys, the client keys are re-wrapped, verify is clean.
            rotated = (await _operator("keys", "generate", "--id", "r2", "--json"))["settings"]
            for setting, name in (
                ("CASEWORK_CODEC_KEYS", "codec.keys"),
                ("CASEWORK_MASTER_KEYS", "master.keys"),
                ("CASEWORK_ORIGIN_KEYS", "origin.keys"),
            ):
                (secrets / name).write_text(rotated[setting] + "\n" + (secrets / name).read_text())
            for old in topology.running("casework-api") + topology.running("casework-worker"):
                await topology.stop(old)
            await topology.start("casework-worker")
            apis = await topology.start("casework-api")
            await asyncio.gather(*(_answering(api) for api in apis))
            balancer.backends = [("127.0.0.1", int(api.env["CASEWORK_HTTP_PORT"])) for api in apis]
            old_case = list(expected)[1]
            expected[old_case] += (await jo("case", "note", old_case, "--text", "Rotated"))[
                "events"
            ]
            assert "Client CL-L0" in json.dumps(await jo("case", "show", old_case))
            new_case, written = await _case_to_approval(jo, sue, "CL-R")
            expected[new_case] = written
            rewrapped = await root("client", "rewrap")
            assert rewrapped["rewrapped"] >= LOAD_CASES + 1, rewrapped
            conn = await asyncpg.connect(empty_database_url)
            try:
                masters = {r[0] for r in await conn.fetch("SELECT master_key_id FROM client_keys")}
                origins = {r[0] for r in await conn.fetch("SELECT origin_key FROM events")}
            finally:
                await conn.close()
            assert masters == {"master-r2"}, masters
            assert "origin-r2" in origins and len(origins - {None}) == 2, origins
            code, output = await topology.run("casework-verify", "casework", "verify", "--json")
            assert code == 0, output
            assert json.loads(output.strip().splitlines()[-1])["origins"]["ok"]
            assert not topology.dead(), topology.dead()
        finally:
            codes = await topology.down()
    # Replayed with the rotated keyring (payloads under both keys).
    replay_client = await Client.connect(
        temporal.client.service_client.config.target_host,
        data_converter=data_converter(
            Settings.model_validate({"CASEWORK_CODEC_KEYS_FILE": secrets / "codec.keys"})
        ),
    )
    replayed = await replay_case_histories(replay_client)
    assert replayed >= len(expected), replayed
    graceful = {k: v for k, v in codes.items() if not k.startswith("casework-worker-")}
    assert all(code == 0 for code in graceful.values()), codes
    fault_report.record(
        {
            "service processes started": len(topology.containers),
            "cases": len(expected),
            "fresh database to first case (s)": round(first_case_at - started + first_case_s, 1),
            "first case's five commands (s)": round(first_case_s, 1),
            "topology test (s)": round(time.monotonic() - started, 1),
        }
    )
