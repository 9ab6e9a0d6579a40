"""`casework case export` (an auditor, through the API) and `casework verify-export`
(offline: run with a database address that answers nothing and no Temporal)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from application.bootstrap import open_casework
from application.notary import public_keys_path
from devtools.simulation import CLIENT_NAME, RandomChooser, simulate_case
from infrastructure.settings import get_settings
from tests.cli_session import StaffCli, served_cli
from tests.conftest import ROOT
from tests.events.test_case_file import notarise

OFFLINE = {
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nowhere",
    "TEMPORAL_ADDRESS": "127.0.0.1:9",
    "CASEWORK_LOG_LEVEL": "ERROR",
}


async def verify_offline(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "starter", "verify-export", *args],
        cwd=ROOT, env={**env, **OFFLINE}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_an_auditor_exports_and_anyone_verifies_offline(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await seed(cli)
        case_id, events = simulate_case(RandomChooser(5), steps=3)
        async with open_casework(get_settings(), dsn=database_url) as app:
            await app.store.append(f"case-{case_id}", 0, events)
            await notarise(app)
            key_file = public_keys_path(app.settings)
        out = tmp_path / "case.json"
        code, stdout, err = await cli.run(
            "case", "export", str(case_id), "--out", str(out), "--json", as_="audrey"
        )
        assert code == 0, err
        written = json.loads(stdout)
        assert written["events"] == len(events) == written["notarised"]
        assert written["personal_fields"] == "disclosed"
        # A caseworker may not export.
        code, stdout, _ = await cli.run(
            "case", "export", str(case_id), "--out", str(tmp_path / "x.json"), "--json", as_="cal"
        )
        assert code == 1 and json.loads(stdout)["error"]["code"] == "forbidden"
        assert not (tmp_path / "x.json").exists()

    html = tmp_path / "case.html"
    checked = await verify_offline(
        str(out), "--public-key", str(key_file), "--html", str(html), "--json"
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["events"] == len(events) and report["problems"] == []
    assert report["proven"][0].startswith(f"Events v1-v{len(events)} of case-{case_id}")
    page = html.read_text()
    assert "Verified with the public key given" in page and CLIENT_NAME in page
    assert "<script" not in page

    # For people: the same, readable.
    readable = await verify_offline(str(out), "--public-key", str(key_file))
    assert readable.returncode == 0 and "Not proven:" in readable.stdout

    # One byte changed: refused, naming what.
    content = bytearray(out.read_bytes())
    at = content.index(b'"occurred_at": "') + len(b'"occurred_at": "2')
    content[at] ^= 0x01
    out.write_bytes(bytes(content))
    broken = await verify_offline(
        str(out), "--public-key", str(key_file), "--html", str(html), "--json"
    )
    assert broken.returncode == 1
    report = json.loads(broken.stdout.strip().splitlines()[-1])
    assert not report["ok"] and report["proven"] == []
    assert any("event v1" in p and "hash does not match" in p for p in report["problems"]), report
    assert "NOT verified" in html.read_text()

    # A missing key file is named.
    missing = await verify_offline(str(out), "--public-key", str(tmp_path / "no.pub"), "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["field"] == "--public-key"


async def seed(cli: StaffCli) -> None:
    await cli.bootstrap_admin("ada", "Ada Admin")
    for args in (
        ("staff", "add-team", "north", "--name", "North"),
        ("staff", "add", "audrey", "--name", "Audrey", "--role", "auditor"),
        ("staff", "add", "cal", "--name", "Cal", "--role", "caseworker", "--team", "north"),
    ):
        await cli.ok_json(*args, as_="ada")
    await cli.enrol("audrey", by="ada")
    await cli.enrol("cal", by="ada")
