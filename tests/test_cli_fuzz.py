"""Every kind of bad argument a person (or a script) can type, through the real command
line against `casework serve`: long, empty, unicode, control characters, wrong formats,
files that are not what they claim. Whatever the input: no traceback, under `--json`
exactly one JSON object on stdout (`{"ok": false, "error": {"code", "message",
"field"}}` when refused) and a documented exit code, and nothing written to the log."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from tests.cli_session import StaffCli, served_cli

NO_CASE = str(uuid.uuid4())
"""A case id nobody opened: every command on it is refused before anything is written."""

COMMANDS: list[tuple[str, list[str]]] = [
    ("cal", ["case", "show", "{}"]),
    ("cal", ["case", "show", NO_CASE, "--reason", "{}"]),
    ("cal", ["case", "history", NO_CASE, "--break-glass", "{}"]),
    (
        "cal",
        [
            "case",
            "open",
            "--client-ref",
            "{}",
            "--name",
            "N",
            "--worker",
            "nobody-here",
            "--need",
            "housing",
        ],
    ),
    (
        "cal",
        [
            "case",
            "open",
            "--client-ref",
            "CL-1",
            "--name",
            "{}",
            "--worker",
            "nobody-here",
            "--need",
            "housing",
            "--date-of-birth",
            "{}",
        ],
    ),
    ("cal", ["case", "contact", NO_CASE, "--kind", "phone", "--date", "{}"]),
    ("cal", ["case", "contact", NO_CASE, "--kind", "{}"]),
    ("cal", ["case", "note", "{}", "--text", "{}"]),
    ("cal", ["case", "hold", NO_CASE, "--reason", "r", "--until", "{}"]),
    ("cal", ["case", "approve", NO_CASE, "--if-version", "{}"]),
    (
        "cal",
        [
            "case",
            "advocacy",
            "open",
            NO_CASE,
            "--barrier",
            "benefit_stopped",
            "--organisation",
            "{}",
            "--action",
            "request",
            "--next-step",
            "x",
            "--next-step-date",
            "{}",
        ],
    ),
    ("cal", ["case", "advocacy", "outcome", NO_CASE, "{}", "--outcome", "resolved"]),
    ("cal", ["case", "feedback", NO_CASE, "--on", "plan", "--rating", "{}", "--words", "{}"]),
    ("cal", ["caseload", "--worker", "{}"]),
    ("cal", ["outcomes", "--since", "{}"]),
    ("cal", ["timeline", "{}"]),
    ("ada", ["staff", "show", "{}"]),
    ("ada", ["staff", "add", "{}", "--name", "{}", "--role", "caseworker"]),
    ("ada", ["provider", "show", "{}"]),
    ("ada", ["client", "forget", "{}", "--reason", "{}", "--yes"]),
    ("ada", ["token", "create", "--name", "n", "--expires", "{}"]),
]

awkward = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "So"]), max_size=50),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "31/12/1980",
            "2030-02-30",
            "-1",
            "--json",
            "../../etc/passwd",
            "💥" * 100,
            "x" * 3000,
            "' OR 1=1 --",
            "<script>",
            "\u202e",
            "NaN",
        ]
    ),
)

FILE_CONTENTS = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"\x00", b"\xff\xfe", b"[]", b"domains: 7", b"{", b"a: b\x00c"]),
)


def fill(template: list[str], value: str) -> list[str]:
    return [value if part == "{}" else part for part in template]


def check(code: int, out: str, err: str, args: list[str]) -> None:
    """The contract every command keeps, whatever it was given."""
    assert "Traceback" not in out + err, (args, err[-2000:])
    assert code in (0, 1, 2, 4), (args, code, out, err)  # never 3: the servers are up
    lines = out.strip().splitlines()
    assert lines, (args, err)
    answer = json.loads(lines[-1])
    assert isinstance(answer, dict)
    if code != 0:
        assert answer["ok"] is False, answer
        error = answer["error"]
        assert set(error) == {"code", "message", "field"} and error["message"], answer
        assert err.strip(), args  # and one readable line for people


@pytest.mark.slow
async def test_bad_arguments_never_break_the_command_line(
    dev_server: WorkflowEnvironment,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    env = {"TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host}
    async with served_cli(database_url, monkeypatch, tmp_path, env) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")
        await cli.ok_json("staff", "add-team", "north", "--name", "North", as_="ada")
        await cli.ok_json(
            "staff", "add", "cal", "--name", "Cal", "--role", "caseworker", "--team", "north",
            as_="ada",
        )  # fmt: skip
        await cli.enrol("cal", by="ada")
        conn = await asyncpg.connect(database_url)
        try:
            before = await conn.fetchval("SELECT count(*) FROM events")
            await asyncio.to_thread(drive_every_command, cli, tmp_path)
            assert await conn.fetchval("SELECT count(*) FROM events") == before
        finally:
            await conn.close()


def drive_every_command(cli: StaffCli, tmp_path: Path) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(command=st.sampled_from(COMMANDS), value=awkward)
    def arguments(command: tuple[str, list[str]], value: str) -> None:
        who, template = command
        args = [*fill(template, value), "--json"]
        check(*cli._invoke(args, None, who), args)

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(content=FILE_CONTENTS, suffix=st.sampled_from([".yaml", ".json"]))
    def files(content: bytes, suffix: str) -> None:
        path = tmp_path / f"input{suffix}"
        path.write_bytes(content)
        for args in (
            ["case", "assess", NO_CASE, str(path), "--json"],
            ["case", "evaluate", NO_CASE, str(path), "--json"],
            ["policy", "apply", str(path), "--json"],
        ):
            check(*cli._invoke(args, None, "cal"), args)

    arguments()
    files()
