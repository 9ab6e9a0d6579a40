"""The README's commands, as written.

Every `.venv/bin/…` line of the README's "Exploring" code blocks runs, in order, against
a stack that `casework up` runs (on the test's own database and ports, its data in
`.data/` of a temporary working directory, as in the README), as the person its comment
names, and must exit 0. The README is parsed here, so a line added to it is tested
without touching this file. Then the README's paragraph on staff and operator commands
is held to its word: every operator command it lists works with nobody signed in, every
staff command it lists refuses until someone signs in.

Who runs a line, from its comment: "operator: …" the operating-system user on the
servers (nobody signed in); "as <staff id>" that demo account; "as a caseworker" (a
supervisor, a manager, an auditor) the demo's account of that role; otherwise the
terminal the README types in, signed in by its last `casework login` line (m.okafor).
Passwords come from `.data/demo-accounts.json`, where `casework demo` keeps them;
`casework login` asks for one without echo, and reads it from standard input here
(the commands run without a controlling terminal, so nothing needs a TTY).

Substitutions, kept to what a test cannot do otherwise: `CASE_ID` is the case the demo's
summary names for export (closed, covered by a signed checkpoint); `casework demo`
opens a few cases and does not wait for escalations (`--cases 4 --watch-seconds 0`; the
README's default is 200 cases); the Temporal address is the test's. Files the lines
write (`--out case.json`, `--html case.html`) land in the temporary working directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrastructure.embedded_postgres import free_port
from tests.conftest import ROOT
from tests.temporal_env import BIN

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

README = ROOT / "README.md"
VENV_BIN = ".venv/bin/"
OPERATOR = "operator"
"""The operating-system user running commands on the servers: nobody signed in."""
TERMINAL = "terminal"
"""The README's terminal: signed in by its `casework login` lines."""
DEMO_BY_ROLE = {
    "caseworker": "j.morales",
    "supervisor": "s.patel",
    "manager": "m.okafor",
    "auditor": "a.lindqvist",
}
"""The demo's account of each role (`casework demo` prints their sign-ins)."""
DEMO_OPTIONS = ["--cases", "4", "--watch-seconds", "0"]
"""A demo just big enough for every line: seed 7's first four cases take the paths
neglected, ongoing, declined and complete, so two close and one is checkpointed."""
COMMAND_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class ReadmeLine:
    text: str
    argv: list[str]
    """The command as written (its program `.venv/bin/…`), without the comment."""
    comment: str

    @property
    def casework_args(self) -> list[str]:
        """The arguments after `casework` (empty for another program)."""
        return self.argv[1:] if self.argv[0] == f"{VENV_BIN}casework" else []


def exploring_lines(readme: str) -> list[ReadmeLine]:
    """The `.venv/bin/…` lines of the code blocks of the README's "Exploring" section."""
    section = readme.split("\n## Exploring\n", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for text in block.splitlines():
            if not text.startswith(VENV_BIN):
                continue
            comment = re.search(r"\s#\s*(.*)$", text)
            lines.append(
                ReadmeLine(
                    text=text,
                    argv=shlex.split(text, comments=True),
                    comment=comment[1] if comment else "",
                )
            )
    return lines


def runs_as(line: ReadmeLine, accounts: dict[str, str]) -> str:
    """Who runs the line, from its comment (see the module's docstring)."""
    if re.match(r"operator\b", line.comment):
        return OPERATOR
    named = re.search(r"\bas ([a-z]+\.[a-z]+)\b", line.comment)
    if named and named[1] in accounts:
        return named[1]
    role = re.search(r"\bas an? (caseworker|supervisor|manager|auditor)\b", line.comment)
    if role:
        return DEMO_BY_ROLE[role[1]]
    return TERMINAL


def listed_commands(readme: str, kind: str) -> list[str]:
    """The commands in backticks of the README's "<kind> commands (…)" parenthesis."""
    found = re.search(rf"{kind} commands \((.*?)\) ", " ".join(readme.split()))
    assert found, f"the README no longer lists its {kind.lower()} commands"
    return re.findall(r"`([^`]+)`", found[1])


def test_the_readme_is_parsed_as_the_tests_expect() -> None:
    """The parsing above finds what the README says (no stack needed)."""
    readme = README.read_text(encoding="utf-8")
    lines = exploring_lines(readme)
    commands = [line.casework_args[:2] for line in lines if line.casework_args]
    assert ["demo"] in commands and ["login", "m.okafor"] in commands
    assert ["inspect", "CASE_ID"] in commands and ["verify"] in commands
    accounts = dict.fromkeys(DEMO_BY_ROLE.values(), "")
    who = {" ".join(line.casework_args[:2]): runs_as(line, accounts) for line in lines}
    assert who["timeline CASE_ID"] == "a.lindqvist" and who["actions mine"] == "j.morales"
    assert who["inspect CASE_ID"] == who["verify"] == who["notary checkpoint"] == OPERATOR
    assert who["overdue"] == who["access-log CASE_ID"] == TERMINAL
    assert "client rewrap" in listed_commands(readme, "Staff")
    assert "inspect" in listed_commands(readme, "Operator")


# --- the stack and the commands ---------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str


class Desk:
    """Where the README's commands are typed: the working directory (with `.data/`), the
    stack's environment, and one config directory (so one session) per person."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.signed_in: set[str] = set()

    def config_dir(self, who: str) -> Path:
        return self.workdir / "config" / who

    def accounts(self) -> dict[str, str]:
        path = self.workdir / ".data" / "demo-accounts.json"
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return data

    async def run(self, argv: list[str], who: str, stdin: str = "") -> Result:
        program, *args = argv
        if program.startswith(VENV_BIN):
            program = str(BIN / program.removeprefix(VENV_BIN))
        process = await asyncio.create_subprocess_exec(
            program, *args, cwd=self.workdir,
            env={**self.env, "CASEWORK_CONFIG_DIR": str(self.config_dir(who))},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # no controlling terminal: a password is read from stdin
        )  # fmt: skip
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode()), timeout=COMMAND_TIMEOUT_S
        )
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def sign_in(self, staff_id: str) -> None:
        """`casework login` in the person's own config directory (once)."""
        if staff_id in self.signed_in:
            return
        password = self.accounts()[staff_id]
        argv = [f"{VENV_BIN}casework", "login", staff_id, "--password-stdin"]
        done = await self.run(argv, staff_id, stdin=password + "\n")
        assert done.code == 0, done.err
        self.signed_in.add(staff_id)


@asynccontextmanager
async def casework_up(workdir: Path, database_url: str) -> AsyncIterator[dict[str, str]]:
    """`casework up` in `workdir` (its data in `.data/`, as the README's), on the test's
    database and free ports, until the block ends (Ctrl-C): the commands' environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEWORK_", "TEMPORAL_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "CASEWORK_TEMPORAL_UI_PORT": str(free_port()),
            "CASEWORK_HTTP_PORT": str(free_port()),
            "CASEWORK_METRICS_PORT": "0",
            "COLUMNS": "250",  # the demo's summary lines are read whole
        }
    )
    with (workdir / "up.err").open("wb") as up_err:
        process = await asyncio.create_subprocess_exec(
            str(BIN / "casework"), "up", "--json", cwd=workdir, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=up_err,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=180)
            assert line, (workdir / "up.err").read_text()[-3000:]
            assert json.loads(line)["status"] == "ready", line
            yield env
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (workdir / "up.err").read_text()[-3000:]


def _substituted(line: ReadmeLine, case_id: str | None, temporal_address: str) -> list[str]:
    argv = list(line.argv)
    if line.casework_args[:1] == ["demo"]:
        argv += DEMO_OPTIONS
    if "CASE_ID" in argv:
        assert case_id is not None, f"no case id yet for: {line.text}"
        argv = [case_id if a == "CASE_ID" else a for a in argv]
    return [a.replace("127.0.0.1:7233", temporal_address) for a in argv]


# --- the staff and operator commands of the README's paragraph ---------------------------------

STAFF_PROBES: dict[str, list[str]] = {
    "case …": ["case", "show", "CASE_ID"],
    "staff …": ["staff", "list"],
    "provider …": ["provider", "list"],
    "policy …": ["policy", "show"],
    "client forget": ["client", "forget", "CL-nobody", "--reason", "a test", "--yes"],
    "client rewrap": ["client", "rewrap"],
    "token …": ["token", "list"],
}
"""For each staff command the README lists, one harmless invocation (and "the
queries": `caseload`, always probed)."""

OPERATOR_PROBES: dict[str, tuple[list[str], set[int], str]] = {
    # A second stack on the running one's data directory: refused, naming it (exit 3).
    "up": (["up"], {3}, "already running on data directory"),
    "setup": (["setup"], {0}, ""),
    "migrate": (["migrate"], {0}, ""),
    "projections": (["projections", "status"], {0}, ""),
    "staff bootstrap-admin": (
        ["staff", "bootstrap-admin", "ops-admin", "--name", "Ops Admin"],
        {1},
        "only allowed while the staff directory is empty",
    ),
}
"""For each operator command the README lists and its "Exploring" lines did not run as
the operator: an invocation, its exit codes and what its error says (a pattern: a
refusal on the merits, never for want of a sign-in). `worker` runs until stopped
(below)."""


async def _worker_runs(desk: Desk) -> None:
    """`casework worker`, nobody signed in: it starts, and stops cleanly on Ctrl-C."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "casework"), "worker", cwd=desk.workdir,
        env={**desk.env, "CASEWORK_CONFIG_DIR": str(desk.config_dir(OPERATOR))},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen = b""
    try:
        async with asyncio.timeout(120):
            while b"worker started" not in seen:
                line = await process.stdout.readline()
                assert line, seen.decode()[-2000:]
                seen += line
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (seen + rest).decode()[-2000:]


async def test_every_command_of_the_readme_runs_as_written(
    empty_database_url: str, tmp_path: Path
) -> None:
    readme = README.read_text(encoding="utf-8")
    lines = exploring_lines(readme)
    assert len(lines) >= 15, "the README's Exploring section lost its commands"
    workdir = tmp_path / "work"
    workdir.mkdir()
    async with casework_up(workdir, empty_database_url) as env:
        desk = Desk(workdir, env)
        temporal = env["TEMPORAL_ADDRESS"]
        case_id: str | None = None
        terminal: str | None = None  # who the terminal is signed in as
        ran_as_operator: set[str] = set()
        for line in lines:
            args = line.casework_args
            argv = _substituted(line, case_id, temporal)
            who = TERMINAL if args[:1] in (["login"], ["demo"]) else None
            who = who or runs_as(line, desk.accounts())
            stdin = ""
            if args[:1] == ["login"]:  # the password, asked for without echo
                stdin = desk.accounts()[args[1]] + "\n"
            elif who not in (TERMINAL, OPERATOR):
                await desk.sign_in(who)
            done = await desk.run(argv, who, stdin)
            assert done.code == 0, (line.text, who, done.out[-2000:], done.err[-2000:])

            if args[:1] == ["demo"]:
                assert "Sign in as m.okafor" in done.out, done.out[-2000:]
                named = re.search(r"casework case export (\S+) --out", done.out)
                assert named, f"the demo's summary names no case to export: {done.out[-2000:]}"
                case_id = named[1]
            elif args[:1] == ["login"]:
                terminal = args[1]
            elif args[:1] == ["logout"]:
                terminal = None
            elif args[:1] == ["whoami"]:
                assert f"{terminal} (" in done.out, done.out
            if who == OPERATOR:
                ran_as_operator.add(args[0] if args else argv[0])
        assert terminal is None  # the README signs out before the operator's lines
        assert (workdir / "case.json").is_file() and (workdir / "case.html").is_file()
        assert ran_as_operator >= {"inspect", "verify", "notary"}

        # The paragraph under the block: operator commands need nobody signed in ...
        operator_commands = listed_commands(readme, "Operator")
        unprobed = set(operator_commands) - ran_as_operator - set(OPERATOR_PROBES) - {"worker"}
        assert not unprobed, f"add a probe for the README's operator commands {unprobed}"
        for name in operator_commands:
            if name in ran_as_operator:
                continue
            if name == "worker":
                await _worker_runs(desk)
                continue
            argv, codes, says = OPERATOR_PROBES[name]
            done = await desk.run([f"{VENV_BIN}casework", *argv], OPERATOR)
            assert done.code in codes and re.search(says, done.err), (name, done.out, done.err)
            assert "not signed in" not in done.err, name

        # ... and staff commands refuse until someone signs in (exit 4).
        staff_commands = listed_commands(readme, "Staff")
        assert not set(staff_commands) - set(STAFF_PROBES), "add a probe for the new ones"
        assert case_id is not None
        for argv in [*(STAFF_PROBES[name] for name in staff_commands), ["caseload"]]:
            probe = [case_id if a == "CASE_ID" else a for a in argv]
            done = await desk.run([f"{VENV_BIN}casework", *probe, "--json"], OPERATOR)
            assert done.code == 4, (probe, done.out, done.err)
            assert json.loads(done.out)["error"]["code"] == "not-signed-in", done.out
