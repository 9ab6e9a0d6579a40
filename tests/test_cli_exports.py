"""`--csv FILE` and `--xlsx FILE` on the list commands, as people run them: against
`casework serve`, each person signed in with `casework login` (tests/cli_session.py),
one run as a process of its own writing CSV to its standard output."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from application.bootstrap import open_casework
from infrastructure.settings import get_settings
from tests.api.test_reads import seed
from tests.cli_session import StaffCli, served_cli
from tests.conftest import ROOT


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def staff(cli: StaffCli) -> None:
    await cli.bootstrap_admin("ada", "Ada Admin")
    for args in (
        ("staff", "add-team", "north", "--name", "North"),
        ("staff", "add-team", "south", "--name", "South"),
        ("staff", "add", "audrey", "--name", "Audrey", "--role", "auditor"),
        ("staff", "add", "alice", "--name", "Alice", "--role", "caseworker", "--team", "north"),
    ):
        await cli.ok_json(*args, as_="ada")
    await cli.enrol("audrey", by="ada")
    await cli.enrol("alice", by="ada")


async def test_list_commands_write_their_lists_to_files(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await staff(cli)
        async with open_casework(get_settings(), dsn=database_url) as app:
            seeded = await seed(app.store, database_url)

        # The caseload as a CSV file: the rows `casework caseload --json` shows.
        out = tmp_path / "caseload.csv"
        code, stdout, err = await cli.run("caseload", "--csv", str(out), as_="audrey")
        assert code == 0, err
        assert stdout == "" and err.strip() == f"wrote {out.stat().st_size} bytes to {out}"
        header, *rows = rows_of(out.read_bytes())
        shown = (await cli.ok_json("caseload", as_="audrey"))["caseload"]
        assert [r[header.index("worker")] for r in rows] == [s["worker"] for s in shown]
        assert "by_risk.crisis" in header

        # A caseworker's file holds her cases only; columns chosen; to standard output.
        code, stdout, err = await cli.run(
            "referrals", "--csv", "-", "--columns", "case_id,status", as_="alice"
        )
        assert code == 0, err
        assert "bytes to stdout" in err
        header, *rows = list(csv.reader(io.StringIO(stdout.lstrip("\ufeff"))))
        assert header == ["case_id", "status"] and rows
        assert {r[0] for r in rows} <= seeded.of(worker="alice")

        # Excel, the same filters as the list; with --json, the file named on stdout.
        book = tmp_path / "reviews.xlsx"
        written = await cli.ok_json(
            "reviews", "--within", "30", "--overdue", "--xlsx", str(book), as_="audrey"
        )
        assert written == {
            "ok": True,
            "format": "xlsx",
            "out": str(book),
            "bytes": book.stat().st_size,
        }
        sheet = openpyxl.load_workbook(book)["reviews"]
        overdue = await cli.ok_json("reviews", "--overdue", "--within", "30", as_="audrey")
        assert sheet.max_row - 1 == len(overdue["reviews"]) > 0

        # The outcomes report: a sheet a section, or one section as CSV.
        report = tmp_path / "outcomes.xlsx"
        code, _, err = await cli.run("outcomes", "--xlsx", str(report), as_="audrey")
        assert code == 0, err
        assert "plan-approval" in openpyxl.load_workbook(report).sheetnames
        one = tmp_path / "closures.csv"
        code, _, err = await cli.run(
            "outcomes", "--csv", str(one), "--section", "closures", as_="audrey"
        )
        assert code == 0, err
        assert rows_of(one.read_bytes())[0] == ["reason", "cases"]

        # A case's timeline; the access log's lists.
        timeline = tmp_path / "timeline.csv"
        case_id = seeded.case_ids[0]
        code, _, err = await cli.run("timeline", case_id, "--csv", str(timeline), as_="audrey")
        assert code == 0, err
        assert len(rows_of(timeline.read_bytes())) > 1
        for command in ("break-glass-log", "export-log"):
            target = tmp_path / f"{command}.csv"
            code, _, err = await cli.run(command, "--csv", str(target), as_="audrey")
            assert code == 0, err

        # Refused: nothing written, the option or field named.
        refused = tmp_path / "refused.csv"
        message = await cli.refused(
            "caseload", "--csv", str(refused), "--columns", "nope", as_="audrey"
        )
        assert "columns" in message and "open_cases" in message and not refused.exists()
        code, stdout, _ = await cli.run("caseload", "--xlsx", "-", "--json", as_="audrey")
        assert code == 1 and json.loads(stdout)["error"]["field"] == "--xlsx"
        code, stdout, _ = await cli.run("caseload", "--csv", "-", "--json", as_="audrey")
        assert code == 1 and json.loads(stdout)["error"]["field"] == "--csv"
        code, stdout, _ = await cli.run("export-log", "--csv", str(refused), "--json", as_="alice")
        assert code == 1 and json.loads(stdout)["error"]["code"] == "forbidden"
        assert not refused.exists()

        # Every export on record, with its list, format, filters and rows.
        logged = (await cli.ok_json("export-log", as_="audrey"))["exports"]
        lists = [
            (e["staff_id"], e["list_name"], e["format"], e["outcome"]) for e in reversed(logged)
        ]
        assert lists[:4] == [
            ("audrey", "caseload", "csv", "complete"),
            ("alice", "referrals", "csv", "complete"),
            ("audrey", "reviews", "xlsx", "complete"),
            ("audrey", "outcomes", "xlsx", "complete"),
        ]
        reviews = next(e for e in logged if e["list_name"] == "reviews")
        assert reviews["filters"] == {"within": 30, "overdue": True}
        assert reviews["row_count"] == len(overdue["reviews"])

        # The same as a process of its own, as typed in a terminal: CSV on stdout.
        env = {**os.environ, "CASEWORK_CONFIG_DIR": str(cli.config_dir("audrey"))}
        ran = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "starter", "approvals", "--csv", "-"],
            cwd=ROOT, env=env, capture_output=True, timeout=120,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr.decode()[-2000:]
        header, *rows = rows_of(ran.stdout)
        assert "approval_id" in header and len(rows) == 6
        assert ran.stderr.decode().strip() == f"wrote {len(ran.stdout)} bytes to stdout"
