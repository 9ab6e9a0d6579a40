"""Benchmark of the command line's own cost: `casework --help`, `whoami`, `case show` (issue 29).

    .venv/bin/python bench/cli.py --quick --json   # 5 runs of each, seconds
    .venv/bin/python bench/cli.py                  # 15 runs of each
    .venv/bin/python bench/cli.py --smoke --json   # 2 runs of each (the tests)
    .venv/bin/python -m bench.cli …                # the same, as a module

Each command is a process of its own, `python -m starter …` as the `casework` script
runs it, timed from its start to its exit (wall clock, and its CPU time: user + system).
Before the runs that count, one run of each writes the bytecode of every module imported
(into a temporary PYTHONPYCACHEPREFIX, nothing in the work tree), as an installed
Casework has it; without it every run would compile the project's sources anew.

* `python -c pass`: the interpreter's own start, the **baseline** every figure is also
  given against (`ratio`: the command's median over the baseline's, in the same run);
* the floor: `python -c "import typer, rich.console, httpx; get_settings()"`, what
  any staff command needs (the command line, its output, the HTTP client, the settings);
* `casework --help` and `casework whoami` without a session (it ends before any request:
  exit 4), the cost of building the command line;
* `casework whoami` and `casework case show CASE`, signed in (a session kept in the
  config directory, as `casework login` keeps it), against an API served here: a small
  HTTP server in this process answering `GET /api/v1/me` and `GET /api/v1/cases/{id}`
  with answers shaped like the real API's, in well under a millisecond. The figures
  are the command line's (the API's own time is bench/api.py's).

Target (issue 29): `whoami` and `case show`, signed in, at most 0.3 s wall (median).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: bench/common.py

from bench.common import ROOT, BenchError, add_size_arguments, run_bench, size_of

TARGET_WALL_S = 0.3
RUNS = {"smoke": 2, "quick": 5, "full": 15}
TOKEN = "bench-session-token"
STAFF = {"staff_id": "jo", "role": "caseworker", "team": "north", "method": "password"}
FLOOR = (
    "import typer, rich.console, httpx; "
    "from infrastructure.settings import get_settings; get_settings()"
)


def case_state(case_id: str) -> dict[str, Any]:
    """What `GET /api/v1/cases/{id}` answers for a case some months in: its state."""
    goals = [
        {"goal_id": f"goal-{n}", "domain": domain, "description": f"Goal {n}",
         "status": "in_progress"}
        for n, domain in enumerate(("housing", "income", "mental_health", "family"), 1)
    ]  # fmt: skip
    return {
        "case_id": case_id,
        "stream_version": 42,
        "status": "open",
        "client_ref": "C-1042",
        "assignee": "jo",
        "team": "north",
        "risk_level": "medium",
        "presenting_needs": ["housing", "income"],
        "plan": {"version": 2, "approved": True, "goals": goals},
        "referrals": {
            f"referral-{n}": {"provider": "harbour-housing", "status": "accepted"}
            for n in range(1, 4)
        },
        "next_review_due": "2026-12-04T00:00:00+00:00",
        "contacts": [
            {"kind": "phone", "contact_date": f"2026-0{m}-1{m}", "duration_minutes": 20}
            for m in range(1, 9)
        ],
    }


class _Api(BaseHTTPRequestHandler):
    """The two answers the measured commands ask for; 401 without the session's token."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"title": "Unauthorized", "detail": "not signed in"})
        elif self.path == "/api/v1/me":
            self._answer(200, STAFF)
        elif self.path.startswith("/api/v1/cases/"):
            self._answer(200, case_state(self.path.rsplit("/", 1)[-1]))
        else:
            self._answer(404, {"title": "Not Found", "detail": self.path})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def served_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def signed_in(config_dir: Path, api_url: str) -> None:
    """The session `casework login` keeps (api_client.save_session's file, mode 0600)."""
    config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = config_dir / "credentials.json"
    entry = {"staff_id": "jo", "token": TOKEN, "expires_at": "2099-01-01T00:00:00+00:00"}
    path.write_text(json.dumps({api_url: entry}))
    path.chmod(0o600)


@dataclass(frozen=True)
class Command:
    name: str
    args: list[str]
    env: dict[str, str]
    exit_code: int = 0


def timed(command: Command) -> tuple[float, float, str]:
    """One run: wall seconds, CPU seconds (user + system) and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *command.args],
        cwd=ROOT,
        env=command.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != command.exit_code:
        raise BenchError(
            f"{command.name}: exit {done.returncode}, expected {command.exit_code}: "
            f"{done.stderr[-1000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def figures_of(walls: list[float], cpus: list[float], baseline: float | None) -> dict[str, Any]:
    median = statistics.median(walls)
    return {
        "wall_p50_ms": round(median * 1000, 1),
        "wall_min_ms": round(min(walls) * 1000, 1),
        "cpu_p50_ms": round(statistics.median(cpus) * 1000, 1),
        "n": len(walls),
        "ratio": None if baseline is None else round(median / baseline, 2),
    }


def measure(runs: int, say: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="casework-cli-bench-") as scratch, served_api() as url:
        home = Path(scratch)
        base = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base.update(
            PYTHONPYCACHEPREFIX=str(home / "pycache"),
            CASEWORK_API_URL=url,
            CASEWORK_LOG_LEVEL="WARNING",
        )
        signed_in(home / "signed-in", url)
        session = {**base, "CASEWORK_CONFIG_DIR": str(home / "signed-in")}
        nobody = {**base, "CASEWORK_CONFIG_DIR": str(home / "nobody")}
        case_id = str(uuid.uuid4())
        commands = [
            Command("python -c pass", ["-c", "pass"], base),
            Command("floor", ["-c", FLOOR], base),
            Command("casework --help", ["-m", "starter", "--help"], base),
            Command("casework whoami (no session)", ["-m", "starter", "whoami"], nobody, 4),
            Command("casework whoami", ["-m", "starter", "whoami"], session),
            Command("casework case show", ["-m", "starter", "case", "show", case_id], session),
        ]
        say(f"warming up (bytecode), then {runs} runs of each of {len(commands)} commands")
        for command in commands:
            timed(command)
        _, _, shown = timed(Command("check", ["-m", "starter", "whoami", "--json"], session))
        if json.loads(shown.splitlines()[-1]) != STAFF:
            raise BenchError(f"casework whoami --json answered {shown!r}")
        walls: dict[str, list[float]] = {c.name: [] for c in commands}
        cpus: dict[str, list[float]] = {c.name: [] for c in commands}
        for _ in range(runs):  # the commands in turn, so that a noisy neighbour slows all alike
            for command in commands:
                wall, cpu, _ = timed(command)
                walls[command.name].append(wall)
                cpus[command.name].append(cpu)
    baseline = statistics.median(walls["python -c pass"])
    return {
        name: figures_of(walls[name], cpus[name], None if name == "python -c pass" else baseline)
        for name in walls
    }


def report(f: dict[str, Any]) -> str:
    lines = [
        f"the command line's own cost, {f['sizes']['runs']} runs each (bytecode cached)",
        "",
        f"  {'command':<30} {'wall p50 ms':>11} {'min ms':>8} {'cpu p50 ms':>10} {'ratio':>6}",
    ]
    for name, c in f["commands"].items():
        ratio = "" if c["ratio"] is None else f"{c['ratio']:.1f}"
        lines.append(
            f"  {name:<30} {c['wall_p50_ms']:>11.1f} {c['wall_min_ms']:>8.1f} "
            f"{c['cpu_p50_ms']:>10.1f} {ratio:>6}"
        )
    t = f["targets"]
    lines.append(
        f"target: whoami and case show at most {t['wall_p50_ms_max']:.0f} ms wall: "
        f"whoami {'met' if t['whoami_met'] else 'MISSED'}, "
        f"case show {'met' if t['case_show_met'] else 'MISSED'}"
    )
    m = f["machine"]
    lines.append(
        f"{m['cpus']} CPUs; load average at the start {f['load_average_at_start']}, at the end "
        f"{m['load_average']}; {f['seconds']} s in all"
    )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    size = size_of(args)
    runs = args.runs or RUNS[size]
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]

    def say(message: str) -> None:
        sys.stderr.write(f"[cli bench] {message}\n")
        sys.stderr.flush()

    commands = await asyncio.to_thread(measure, runs, say)
    limit_ms = TARGET_WALL_S * 1000
    f = {
        "benchmark": "cli",
        "size": size,
        "quick": size == "quick",
        "sizes": {"runs": runs},
        "commands": commands,
        "baseline": "python -c pass",
        "targets": {
            "wall_p50_ms_max": limit_ms,
            "whoami_met": commands["casework whoami"]["wall_p50_ms"] <= limit_ms,
            "case_show_met": commands["casework case show"]["wall_p50_ms"] <= limit_ms,
        },
        "load_average_at_start": load_at_start,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    sys.stdout.write(report(f) + "\n")
    return f


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    add_size_arguments(
        parser, quick="5 runs of each command, seconds", smoke="2 runs of each (the tests)"
    )
    parser.add_argument("--runs", type=int, default=0, help="override the runs of each command")
    args = parser.parse_args()
    return run_bench("cli", lambda: main_async(args), args.json)


if __name__ == "__main__":
    sys.exit(main())
