"""Every benchmark runs at `--smoke` size and prints its figures as JSON on the last line.

Each bench runs as a subprocess, as a script (`python bench/NAME.py`, where bench/ is
first on sys.path) and as a module (`python -m bench.NAME`), against a server of the
tests' own (DATABASE_URL: each bench creates and drops a scratch database there).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NOT_BENCHES = {"__init__", "common"}
STOP_GRACE = 30.0


@dataclass(frozen=True)
class Bench:
    keys: frozenset[str]
    """Top-level keys the JSON figures must have (at every size)."""
    timeout: float
    """Seconds a smoke run may take, with room for a loaded machine."""


BENCHES: dict[str, Bench] = {
    "append": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "single_events_per_s",
                "raw_single_tx_per_s",
                "single_ratio",
                "single_p50_ms",
                "single_p99_ms",
                "single_p99_ratio",
                "concurrent_events_per_s",
                "concurrent_ratio",
                "batched_events_per_s",
                "raw_executemany_rows_per_s",
                "batched_ratio",
                "raw_copy_rows_per_s",
                "single_no_reset_events_per_s",
                "pool_overhead_p50_ms",
                "chains_verified_events",
                "chain_findings",
                "targets",
                "events",
                "machine",
            }
        ),
        timeout=120.0,
    ),
    "read_models": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "cases",
                "events",
                "reviews_added",
                "teams",
                "seed_seconds",
                "rebuild",
                "queries",
                "append_to_visible",
                "targets",
            }
        ),
        timeout=180.0,
    ),
    "lifecycle": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "continue_as_new_after_events",
                "load_average_at_start",
                "throughput",
                "serial_round_trip",
                "bare_serial_round_trip",
                "serial_round_trip_ratio",
                "history",
                "targets",
                "rss_mib",
                "idle",
                "seconds",
                "machine",
            }
        ),
        timeout=240.0,
    ),
    "api": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "command_round_trip",
                "caseload",
                "read_model",
                "targets",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=240.0,
    ),
    "console": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "data",
                "pages",
                "targets",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=240.0,
    ),
    "notary": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "note",
                "seed_seconds",
                "upkeep",
                "appends",
                "proofs",
                "export",
                "targets",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "backup": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "seed_seconds",
                "checkpoint_seconds",
                "backup",
                "restore",
                "verify",
                "cli_start_seconds",
                "events_per_s",
                "seconds",
                "machine",
            }
        ),
        timeout=240.0,
    ),
    "cli": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "quick",
                "sizes",
                "commands",
                "baseline",
                "targets",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "documents": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "upload",
                "download",
                "copy",
                "memory",
                "pdf",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "exports": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "seed_seconds",
                "json",
                "csv",
                "xlsx",
                "memory",
                "recorded",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "client_search": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "build",
                "index",
                "search",
                "duplicates",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "dashboard": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "data",
                "pages",
                "report",
                "ratios",
                "targets",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "reports": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "cases",
                "events",
                "measures",
                "figures",
                "seed_seconds",
                "projection_events_per_s",
                "report_ms",
                "rebuild",
            }
        ),
        timeout=180.0,
    ),
    "hsds_import": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "first_import",
                "noop_reimport",
                "changed_reimport",
                "baseline",
                "ratio",
                "fold",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=180.0,
    ),
    "webhooks": Bench(
        keys=frozenset(
            {
                "benchmark",
                "size",
                "sizes",
                "signatures",
                "round_trip",
                "load_average_at_start",
                "seconds",
                "machine",
            }
        ),
        timeout=240.0,
    ),
}


def bench_modules() -> set[str]:
    return {p.stem for p in BENCH.glob("*.py")} - NOT_BENCHES


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def figures(self) -> dict[str, Any]:
        assert self.returncode == 0, f"exit {self.returncode}; stderr ends:\n{self.stderr[-4000:]}"
        lines = self.stdout.strip().splitlines()
        assert lines, f"no output; stderr ends:\n{self.stderr[-4000:]}"
        figures = json.loads(lines[-1])
        assert isinstance(figures, dict)
        return figures


async def run(args: list[str], seconds: float, database_url: str | None = None) -> Finished:
    """`python ARGS` in the repo root; SIGTERM (then SIGKILL) if it overruns `seconds`."""
    env = dict(os.environ)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=str(ROOT),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    communicate = asyncio.ensure_future(process.communicate())
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.shield(communicate), seconds)
    except TimeoutError:
        # SIGTERM first: a bench stops what it started (dev server, workers, projector).
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = await asyncio.wait_for(communicate, STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            stdout, stderr = await communicate
        pytest.fail(
            f"python {' '.join(args)} took over {seconds:.0f} s; stderr ends:\n"
            f"{stderr.decode(errors='replace')[-4000:]}"
        )
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode(errors="replace"))


def check(name: str, figures: dict[str, Any]) -> None:
    missing = BENCHES[name].keys - figures.keys()
    assert not missing, f"{name}: missing top-level keys {sorted(missing)}"
    assert (figures["benchmark"], figures["size"]) == (name, "smoke")
    if name == "append":
        assert figures["chains_verified_events"] > 0
        assert figures["chain_findings"] == 0
    elif name == "read_models":
        assert figures["reviews_added"] > 0
        assert figures["queries"]["overdue_team"]["rows"] > 0
        assert len(figures["rebuild"]["projections"]) >= 7
        assert figures["append_to_visible"]["appends"] > 0
    elif name == "lifecycle":
        assert figures["throughput"]["lifecycles_per_side"] > 0
        idle = figures["idle"]
        assert idle["cases"] > 0
        wave = idle["review_wave"]  # every review timer set for the wave fired, no other
        assert wave["fired"] == wave["cases"] > 0 and wave["all_fired"]
        assert wave["stopped"] == "all fired"
    elif name == "api":
        trip, sizes = figures["command_round_trip"], figures["sizes"]
        assert trip["n"] == sizes["commands"] > 0
        assert trip["notes_in_log"] == 2 * (sizes["commands"] + sizes["warmup_commands"])
        assert trip["api_p50_ms"] > 0 and trip["direct_p50_ms"] > 0
        assert trip["ratio"] == round(trip["api_p50_ms"] / trip["direct_p50_ms"], 3)
        caseload = figures["caseload"]
        assert caseload["open_cases"] >= sizes["open_cases"]
        assert caseload["clients"] == sizes["clients"] == 16
        assert caseload["reads"] == sizes["clients"] * sizes["reads_per_client"]
        # The manager's caseload covers every open case; a caseworker's only their own.
        roles = caseload["by_role"]
        assert roles["manager"]["open_cases_seen"] == caseload["open_cases"]
        assert 0 < roles["caseworker"]["open_cases_seen"] < caseload["open_cases"]
    elif name == "console":
        sizes, data, pages = figures["sizes"], figures["data"], figures["pages"]
        assert data["open_cases"] >= sizes["open_cases"] > 0
        assert data["long_case_events"] == sizes["case_events"]
        assert set(pages) == {"caseload", "case_page", "board"}
        for page in pages.values():
            assert page["n"] == sizes["rounds"] and 0 < page["p50_ms"] <= page["p99_ms"]
            assert page["bytes"] > 0
    elif name == "notary":
        assert figures["upkeep"]["events"] == figures["sizes"]["events"]
        assert figures["upkeep"]["raw_read_events_per_s"] > 0
        assert figures["proofs"]["case_events"] == figures["sizes"]["case_events"]
        assert 0 < figures["proofs"]["per_event_p50_ms"] <= figures["proofs"]["per_event_p99_ms"]
        assert figures["appends"]["checkpoints_published"] > 0
        export = figures["export"]  # a real case exported and verified offline
        assert export["measured"] is True and export["personal_fields"] == "disclosed"
        assert export["case_events"] == figures["sizes"]["case_events"]
        assert export["export_ms"] > 0 and export["verify_ms"] > 0
    elif name == "cli":  # each command a process of its own, against the baseline
        runs = figures["sizes"]["runs"]
        for command in figures["commands"].values():
            assert command["n"] == runs and 0 < command["wall_min_ms"] <= command["wall_p50_ms"]
    elif name == "backup":  # a whole log backed up, restored and verified by the CLI
        events = figures["sizes"]["events"]
        assert figures["verify"]["events"] == figures["verify"]["origins_signed"] == events
        assert figures["restore"]["checkpoints_reproduced"] == 1
        assert figures["backup"]["bytes"] > 0
    elif name == "documents":  # a file up and down through the API, against a copy
        rounds = figures["sizes"]["rounds"]
        for side in (figures["upload"], figures["download"]):
            assert side["n"] == rounds and side["api_mb_s"] > 0 and side["copy_mb_s"] > 0
            assert side["ratio"] == round(side["api_mb_s"] / side["copy_mb_s"], 3)
        assert figures["download"]["sha256_ok"] is True
        memory = figures["memory"]
        for phase in ("upload", "download"):
            assert memory[phase]["peak_rss_mib"] >= memory[phase]["baseline_rss_mib"] > 0
        pdf = figures["pdf"]
        assert pdf["goals"] == 10 and pdf["n"] == figures["sizes"]["renders"]
        assert 0 < pdf["p50_ms"] <= pdf["max_ms"] and pdf["pages"] >= 1
    elif name == "exports":  # one list whole as JSON pages, CSV and XLSX, through the API
        rows = figures["sizes"]["rows"]
        for format in ("json", "csv", "xlsx"):
            assert figures[format]["rows"] == rows and figures[format]["rows_per_s"] > 0
            assert figures["memory"][format]["peak_rss_mib"] > 0
        for format in ("csv", "xlsx"):
            side = figures[format]
            assert side["ratio"] == round(side["rows_per_s"] / figures["json"]["rows_per_s"], 3)
        assert figures["recorded"] == {
            "exports": 2 * figures["sizes"]["rounds"],
            "all_complete": True,
        }
    elif name == "client_search":  # sealed cases indexed, searched, checked for duplicates
        sizes, index, search = figures["sizes"], figures["index"], figures["search"]
        assert figures["build"]["clients"] == index["events_applied"] == sizes["clients"]
        assert index["clients_with_terms"] == sizes["clients"]
        assert index["clients_per_s"] > 0 and index["bytes_per_client"] > 0
        assert index["terms_per_client"] == index["terms_per_client_in_memory"] > 0
        assert search["queries"] == sizes["queries_per_kind"] * len(sizes["kinds"])
        for role in search["by_role"].values():
            assert role["n"] == search["queries"] and 0 < role["p50_ms"] <= role["p99_ms"]
            assert set(role["by_kind"]) == set(sizes["kinds"])
            assert role["by_kind"]["email"]["hit_rate_top5"] == 1.0  # unique: always found
        assert search["access_log_rows_per_search"] >= 1  # every search is a recorded read
        product = figures["duplicates"]["product"]
        assert product["checked"] == product["tp"] + product["fn"] == sizes["dup_checks"]
        assert product["recall"] > 0 and 0 < product["p50_ms"] <= product["p99_ms"]
        memory = figures["duplicates"]["in_memory"]
        assert memory["all_pairs"]["tp"] + memory["all_pairs"]["fn"] == sizes["dup_duplicates"]
    elif name == "dashboard":  # the console's KPI page at size, against the caseload page
        data, pages = figures["data"], figures["pages"]
        assert data["open_cases"] >= figures["sizes"]["open_cases"] > 0
        assert data["closed_cases"] >= figures["sizes"]["closed_cases"] > 0
        assert data["kpi_measures"] > 0 and data["checkpoint_tree_size"] > 0
        assert set(pages) == {"caseload", "dashboard", "dashboard_cold", "dashboard_team"}
        for rendered in pages.values():
            assert rendered["n"] == figures["sizes"]["rounds"]
            assert 0 < rendered["p50_ms"] <= rendered["p99_ms"] and rendered["bytes"] > 0
        assert figures["ratios"]["dashboard_p99_to_caseload_p99"] > 0
    elif name == "reports":  # a report as of a checkpoint, recomputed from the log: it matches
        assert figures["measures"] > 0 and figures["figures"] > 0
        assert 0 < figures["report_ms"]["p50"] <= figures["report_ms"]["p99"]
        rebuild = figures["rebuild"]
        assert rebuild["matches"] is True and rebuild["seconds"] > 0 and rebuild["ratio"] > 0
    elif name == "hsds_import":  # N services imported through the API, again, then changed
        n = figures["sizes"]["services"]
        first, noop = figures["first_import"], figures["noop_reimport"]
        assert first["added"] == n and first["seconds"] > 0 and first["api_peak_rss_mib"] > 0
        assert first["events_appended"] == figures["baseline"]["events"] > n
        assert (noop["added"], noop["changed"], noop["unchanged"]) == (0, 0, n)
        assert noop["events_appended"] == 0
        changed = figures["changed_reimport"]
        assert changed["changed"] == changed["events_appended"] == n // 10
        assert figures["ratio"] == round(first["seconds"] / figures["baseline"]["seconds"], 3)
        fold = figures["fold"]
        assert fold["services"] == n and fold["events"] == figures["stream_events"]
        assert 0 < fold["seconds_p50"] <= fold["seconds_max"]
    elif name == "webhooks":  # signatures timed; signed replies against the staff's command
        assert len(figures["signatures"]) == 4
        for case in figures["signatures"].values():
            for op in ("sign", "verify"):
                side = case[op]
                assert side["ours_us"] > 0 and side["library_us"] > 0 and side["raw_hmac_us"] > 0
                assert side["ours_to_raw"] == round(side["ours_us"] / side["raw_hmac_us"], 3)
        trip, replies = figures["round_trip"], figures["sizes"]["replies"]
        for route in ("signed", "baseline_staff", "replayed"):
            assert (
                trip[route]["n"] == replies and 0 < trip[route]["p50_ms"] <= trip[route]["p99_ms"]
            )
        assert trip["ratio"] == round(
            trip["signed"]["p50_ms"] / trip["baseline_staff"]["p50_ms"], 3
        )
        sent = replies + figures["sizes"]["warmup"]
        assert trip["reports_in_log"] == 2 * sent
        assert trip["webhook_log"] == {
            "accepted referral.accepted": 1,
            "accepted referral.progress": sent,
            "refused replayed": replies,
        }


# Both forms for every bench: as a script, bench/ is first on sys.path; as a module, the
# root is. The module forms run from tests/test_benches_as_modules.py, so the two halves
# (about 2.5 minutes each) can run on two test workers (`--dist loadfile` keeps a file's
# tests on one).
FORMS = [pytest.param([f"bench/{name}.py"], name, id=f"script-{name}") for name in BENCHES]
MODULE_FORMS = [
    pytest.param(["-m", f"bench.{name}"], name, id=f"module-{name}") for name in BENCHES
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("invocation", "name"), FORMS)
async def test_bench_smoke_prints_its_figures(
    invocation: list[str], name: str, database_url: str
) -> None:
    args = [*invocation, "--smoke", "--json"]
    finished = await run(args, BENCHES[name].timeout, database_url)
    check(name, finished.figures())


def test_every_bench_is_smoke_tested_and_in_make_bench() -> None:
    """A new bench needs an entry in BENCHES (so a smoke test) and a line in `make bench`."""
    assert bench_modules() == set(BENCHES)
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None, "no bench target in the Makefile"
    for name in BENCHES:
        assert re.search(rf"bench/{name}\.py --quick --json", recipe.group(1)), name


def test_no_bench_module_shadows_anything_importable() -> None:
    """Run as a script, bench/ is on sys.path: a bench named like a package would shadow it."""
    project = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    project |= {p.stem for p in ROOT.glob("*.py")}
    for name in bench_modules() | {"common"}:
        assert name not in project, f"bench/{name}.py shadows the project's {name}"
        assert name not in sys.stdlib_module_names, f"bench/{name}.py shadows the stdlib's"
        assert importlib.util.find_spec(name) is None, f"bench/{name}.py shadows {name}"
