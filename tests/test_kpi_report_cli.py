"""The KPI report from the command line, as staff and an inspector run it: `casework
report kpi` (through the served API, as the signed-in staff member) keeps the report
with its signed checkpoint; `casework report rebuild` recomputes it from the log as of
that checkpoint and it matches; after the log is tampered with, or the kept figures are
edited, it does not. Figures are checked against counts taken straight from the log."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import pytest

from application.bootstrap import open_casework
from devtools.simulation import RandomChooser, simulate_case
from infrastructure.settings import get_settings
from tests.cli_session import StaffCli, served_cli
from tests.events.test_case_file import notarise
from tests.events.test_log_guarantees import tamper
from tests.projections.conftest import catch_up

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _seed_staff(cli: StaffCli) -> None:
    await cli.bootstrap_admin("ada", "Ada Admin")
    for args in (
        ("staff", "add-team", "team-a", "--name", "Team A"),
        ("staff", "add", "audrey", "--name", "Audrey", "--role", "auditor"),
        ("staff", "add", "sue", "--name", "Sue", "--role", "supervisor", "--team", "team-a"),
        ("staff", "add", "worker-a1", "--name", "Wes", "--role", "caseworker", "--team", "team-a"),
    ):
        await cli.ok_json(*args, as_="ada")
    for who in ("audrey", "sue", "worker-a1"):
        await cli.enrol(who, by="ada")


def _cells(report: dict[str, Any], kpi: str) -> list[dict[str, Any]]:
    return [c for c in report["cells"] if c["kpi"] == kpi]


async def _from_the_log(pool: asyncpg.Pool, event_type: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = $1 AND stream_id LIKE 'case-%'",
        event_type,
    )
    return count


async def test_a_report_is_recomputed_from_the_log_as_of_its_checkpoint(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await _seed_staff(cli)
        async with open_casework(get_settings(), dsn=database_url) as app:
            # Before any checkpoint: a clear refusal, nothing computed.
            code, out, _ = await cli.run("report", "kpi", "--json", as_="audrey")
            assert code != 0 and json.loads(out)["error"]["code"] == "unavailable", out
            assert "no signed checkpoint" in out, out
            for seed in range(24):
                case_id, events = simulate_case(RandomChooser(seed), steps=40, start=START)
                await app.store.append(f"case-{case_id}", 0, events)
            await catch_up(database_url, app.store)
            await notarise(app)
            closed = await _from_the_log(app.pool, "CaseClosed")
            evaluated = await app.pool.fetchval(
                """SELECT coalesce(sum(jsonb_array_length(data->'evaluations')), 0)
                     FROM events WHERE event_type = 'GoalsEvaluated'"""
            )
            contacted = await app.pool.fetchval(
                "SELECT count(DISTINCT stream_id) FROM events WHERE event_type = 'ContactLogged'"
            )
            total_events = await app.pool.fetchval("SELECT count(*) FROM events")

            kept = tmp_path / "report.json"
            report = await cli.ok_json(
                "report", "kpi", "--since", "2026-01", "--until", "2026-12",
                "--output", str(kept), as_="audrey",
            )  # fmt: skip
            assert json.loads(kept.read_text()) == report
            assert report["checkpoint"]["tree_size"] == total_events
            assert closed > 0 and evaluated > 0 and contacted > 0
            # The figures count what the log holds (the simulation's cases start in January).
            assert sum(c["count"] for c in _cells(report, "case_duration")) == closed
            assert sum(c["count"] for c in _cells(report, "goal_met")) == evaluated
            assert sum(c["count"] for c in _cells(report, "referral_to_first_contact")) == contacted
            assert {f["title"] for f in report["figures"]} >= {"Case duration", "Goals met"}
            assert {c["team"] for c in report["cells"]} == {"team-a", "team-b"}

            # The figures as files, carrying the checkpoint they were computed from, and
            # each export in the access log with its filters.
            code, _, err = await cli.run(
                "report", "kpi", "--since", "2026-01", "--until", "2026-12",
                "--csv", str(tmp_path / "kpi.csv"), "--xlsx", str(tmp_path / "kpi.xlsx"),
                as_="audrey",
            )  # fmt: skip
            assert code == 0, err
            with (tmp_path / "kpi.csv").open(encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
            assert [(r["kpi"], r["month"], r["team"], r["worker"], r["subject"], r["count"])
                    for r in rows] == [
                (f["kpi"], f["month"], f["team"], f["worker"], f["subject"], str(f["count"]))
                for f in report["figures"]
            ]  # fmt: skip
            book = openpyxl.load_workbook(tmp_path / "kpi.xlsx", read_only=True)
            about = {r[0]: r[1] for r in book["About"].iter_rows(values_only=True) if r}
            assert str(about["Checkpoint sequence"]) == str(report["checkpoint"]["sequence"])
            assert about["Checkpoint root"] == report["checkpoint"]["root_hash"]
            assert book["figures"].max_row == len(report["figures"]) + 1
            logged = await app.pool.fetch(
                "SELECT view, filters::text FROM access_log WHERE view LIKE 'export kpi %'"
            )
            assert sorted(r["view"] for r in logged) == ["export kpi csv", "export kpi xlsx"]
            assert all('"since": "2026-01"' in r["filters"] for r in logged), logged

            # An inspector recomputes it from the log: it matches.
            code, out, err = await cli.run("report", "rebuild", str(kept))
            assert code == 0, (out, err)
            assert "matches: all" in out, out

            # The log grows after the checkpoint: the report as of its checkpoint still
            # matches (it counts exactly the events the checkpoint signed).
            case_id, events = simulate_case(RandomChooser(99), steps=40, start=START)
            await app.store.append(f"case-{case_id}", 0, events)
            assert (await cli.run("report", "rebuild", str(kept)))[0] == 0
            # The read model applies them, but a report still counts the checkpoint's events
            # only (the sums less what came after): the same figures until the next one.
            await catch_up(database_url, app.store)
            again = await cli.ok_json(
                "report", "kpi", "--since", "2026-01", "--until", "2026-12", as_="audrey"
            )
            assert again["cells"] == report["cells"]
            assert await app.pool.fetchval(
                "SELECT count(*) FROM kpi_measures WHERE case_id = $1", case_id
            )
            await notarise(app)
            grown = await cli.ok_json(
                "report", "kpi", "--since", "2026-01", "--until", "2026-12", as_="audrey"
            )
            assert grown["checkpoint"]["sequence"] > report["checkpoint"]["sequence"]
            assert sum(c["count"] for c in grown["cells"]) > sum(c["count"] for c in again["cells"])

            # A supervisor sees their team's figures only, and is refused another's.
            mine = await cli.ok_json("report", "kpi", "--until", "2026-12", as_="sue")
            assert {c["team"] for c in mine["cells"]} == {"team-a"}
            assert mine["first_month"] == "2026-01"
            message = await cli.refused("report", "kpi", "--team", "team-b", as_="sue")
            assert message.startswith("team:"), message
            # A caseworker their own; an administrator none at all.
            own = await cli.ok_json("report", "kpi", "--until", "2026-12", as_="worker-a1")
            assert own["cells"] and {c["worker"] for c in own["cells"]} == {"worker-a1"}
            message = await cli.refused("report", "kpi", "--worker", "worker-a2", as_="worker-a1")
            assert message.startswith("worker:"), message
            assert "administrator" in await cli.refused("report", "kpi", as_="ada")

            # Bad input names the parameter.
            assert "since" in await cli.refused("report", "kpi", "--since", "2026-13", as_="audrey")
            assert "until" in await cli.refused(
                "report", "kpi", "--since", "2026-05", "--until", "2026-04", as_="audrey"
            )
            assert "CASEWORK_REPORT_MAX_MONTHS" in await cli.refused(
                "report", "kpi", "--since", "2020-01", "--until", "2026-12", as_="audrey"
            )

            # Edited figures do not match.
            edited = json.loads(kept.read_text())
            edited["cells"][0]["count"] += 1
            forged = tmp_path / "forged.json"
            forged.write_text(json.dumps(edited))
            code, out, _ = await cli.run("report", "rebuild", str(forged))
            assert code == 1 and "figures do NOT match" in out, out

            # The database's owner changes a closure's reason behind the engine's back:
            # the log no longer reproduces the signed checkpoint, and the rebuild says so.
            await tamper(
                app.pool,
                """UPDATE events SET data = jsonb_set(data, '{reason}', '"goals_met"')
                    WHERE global_position = (SELECT min(global_position) FROM events
                                              WHERE event_type = 'CaseClosed'
                                                AND data->>'reason' <> 'goals_met')""",
            )
            code, out, _ = await cli.run("report", "rebuild", str(kept), "--json")
            assert code == 1, out
            answer = json.loads(out)
            assert answer["matches"] is False
            assert answer["log_reproduces_checkpoint"] is False
            assert answer["differences"], answer

            # A report made with other rules is not claimed to match.
            edited = json.loads(kept.read_text())
            edited["rules"] = 99
            forged.write_text(json.dumps(edited))
            message = await cli.refused("report", "rebuild", str(forged))
            assert "version 99 of the KPI rules" in message, message

            # A checkpoint that does not exist is refused naming --as-of.
            message = await cli.refused("report", "rebuild", str(kept), "--as-of", "999")
            assert message.startswith("--as-of"), message
