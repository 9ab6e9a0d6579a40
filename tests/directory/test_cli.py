"""`casework staff …` and `casework provider …` through the real command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings
from starter import app

runner = CliRunner()


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the command line at this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    # Configure logging outside the runner's isolation, so logs never go to a
    # stream the runner closes afterwards (and never into stdout's JSON).
    configure_logging(get_settings(), force=True)
    yield database_url
    get_settings.cache_clear()


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def ok_json(*args: str) -> Any:
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True
    return data


def refused(*args: str) -> str:
    code, out, err = cli(*args, "--json")
    assert code != 0
    assert json.loads(out)["ok"] is False
    return " ".join(err.split())


def bootstrap() -> None:
    ok_json("staff", "bootstrap-admin", "ada", "--name", "Ada Admin")
    ok_json("staff", "add-team", "north", "--name", "North team", "--as", "ada")


def test_bootstrap_only_once(cli_db: str) -> None:
    data = ok_json("staff", "bootstrap-admin", "ada", "--name", "Ada Admin")
    assert data["staff_member"]["role"] == "admin"
    assert "only allowed while the staff directory is empty" in refused(
        "staff", "bootstrap-admin", "eve", "--name", "Eve"
    )


def test_staff_lifecycle(cli_db: str) -> None:
    bootstrap()
    added = ok_json(
        "staff",
        "add",
        "cal",
        "--name",
        "Cal Caseworker",
        "--role",
        "caseworker",
        "--team",
        "north",
        "--webhook",
        "http://127.0.0.1:9/cal",
        "--as",
        "ada",
    )
    assert added["staff_member"] == {
        "staff_id": "cal",
        "display_name": "Cal Caseworker",
        "role": "caseworker",
        "team": "north",
        "webhook_url": "http://127.0.0.1:9/cal",
        "active": True,
        "deactivation_reason": None,
    }
    changed = ok_json(
        "staff",
        "change",
        "cal",
        "--role",
        "supervisor",
        "--no-webhook",
        "--reason",
        "promoted",
        "--as",
        "ada",
    )
    assert changed["staff_member"]["role"] == "supervisor"
    assert changed["staff_member"]["webhook_url"] is None
    listing = ok_json("staff", "list", "--team", "north")
    assert [m["staff_id"] for m in listing["staff"]] == ["cal"]
    assert listing["teams"] == [{"team_id": "north", "name": "North team"}]
    ok_json("staff", "deactivate", "cal", "--reason", "left", "--as", "ada")
    assert ok_json("staff", "list")["staff"] == [
        m for m in ok_json("staff", "list", "--all")["staff"] if m["staff_id"] == "ada"
    ]
    assert "'cal' is deactivated (left)" in refused(
        "staff", "add-team", "south", "--name", "South", "--as", "cal"
    )


def test_refusals_name_the_reason(cli_db: str) -> None:
    bootstrap()
    ok_json(
        "staff",
        "add",
        "sam",
        "--name",
        "Sam",
        "--role",
        "supervisor",
        "--team",
        "north",
        "--as",
        "ada",
    )
    assert "sam (supervisor) may not add staff" in refused(
        "staff", "add", "x", "--name", "X", "--role", "auditor", "--as", "sam"
    )
    assert "team: no team 'south'" in refused(
        "staff", "add", "x", "--name", "X", "--role", "caseworker", "--team", "south", "--as", "ada"
    )
    assert "team: Value error, required for a caseworker" in refused(
        "staff", "add", "x", "--name", "X", "--role", "caseworker", "--as", "ada"
    )
    assert "staff_id: 'sam' is already" in refused(
        "staff", "add", "sam", "--name", "S", "--role", "manager", "--as", "ada"
    )
    assert "webhook_url:" in refused(
        "staff", "add", "x", "--name", "X", "--role", "auditor", "--webhook", "nope", "--as", "ada"
    )
    assert "no staff member 'ghost'" in refused(
        "staff", "add-team", "south", "--name", "South", "--as", "ghost"
    )
    assert "--team and --no-team exclude each other" in refused(
        "staff", "change", "sam", "--team", "north", "--no-team", "--as", "ada"
    )


def test_providers(cli_db: str) -> None:
    bootstrap()
    provider = ok_json(
        "provider",
        "add",
        "shelter-1",
        "--name",
        "Harbour Shelter",
        "--category",
        "housing",
        "--webhook",
        "https://shelter.example/referrals",
        "--email",
        "intake@shelter.example",
        "--eligibility",
        "adults over 18",
        "--as",
        "ada",
    )["provider"]
    assert provider["channel"] == {
        "webhook_url": "https://shelter.example/referrals",
        "phone": None,
        "email": "intake@shelter.example",
    }
    service = ok_json(
        "provider",
        "add-service",
        "shelter-1",
        "beds",
        "--name",
        "Emergency beds",
        "--domain",
        "housing",
        "--domain",
        "mental_health",
        "--as",
        "ada",
    )["service"]
    assert service["domains"] == ["housing", "mental_health"]
    shown = ok_json("provider", "show", "shelter-1")["provider"]
    assert [s["service_id"] for s in shown["services"]] == ["beds"]
    listed = ok_json("provider", "list", "--domain", "mental_health")["providers"]
    assert [p["provider_id"] for p in listed] == ["shelter-1"]
    assert ok_json("provider", "list", "--domain", "income")["providers"] == []
    changed = ok_json("provider", "change", "shelter-1", "--phone", "+1 555 0100", "--as", "ada")
    assert changed["provider"]["channel"]["phone"] == "+1 555 0100"
    assert "channel.webhook_url:" in refused(
        "provider",
        "add",
        "p2",
        "--name",
        "P",
        "--category",
        "other",
        "--webhook",
        "ftp://p.example",
        "--as",
        "ada",
    )
    assert "provider_id: 'shelter-1' is already" in refused(
        "provider",
        "add",
        "shelter-1",
        "--name",
        "P",
        "--category",
        "other",
        "--webhook",
        "https://p.example",
        "--as",
        "ada",
    )
    assert "no provider 'ghost'" in refused("provider", "show", "ghost")


def test_human_output_goes_to_stdout_and_errors_to_stderr(cli_db: str) -> None:
    code, out, _ = cli("staff", "bootstrap-admin", "ada", "--name", "Ada [the first] Admin")
    assert code == 0 and "bootstrapped admin ada Ada [the first] Admin" in out
    code, out, _ = cli("staff", "list")
    assert code == 0 and "ada" in out
    code, out, err = cli("staff", "bootstrap-admin", "eve", "--name", "Eve")
    assert code == 1 and out == "" and "error:" in err and "empty" in err


def test_human_output_of_every_listing(cli_db: str) -> None:
    bootstrap()
    steps = [
        (
            "staff",
            "add",
            "sam",
            "--name",
            "Sam",
            "--role",
            "supervisor",
            "--team",
            "north",
            "--as",
            "ada",
        ),
        ("staff", "change", "sam", "--name", "Sam S.", "--as", "ada"),
        (
            "provider",
            "add",
            "pantry",
            "--name",
            "Pantry [east]",
            "--category",
            "food_assistance",
            "--webhook",
            "http://127.0.0.1:9/p",
            "--phone",
            "555 0101",
            "--eligibility",
            "all",
            "--as",
            "ada",
        ),
        (
            "provider",
            "add-service",
            "pantry",
            "meals",
            "--name",
            "Meals",
            "--domain",
            "income",
            "--as",
            "ada",
        ),
        ("provider", "withdraw-service", "pantry", "meals", "--reason", "no stock", "--as", "ada"),
        ("provider", "deactivate", "pantry", "--reason", "closed", "--as", "ada"),
        ("staff", "deactivate", "sam", "--reason", "left", "--as", "ada"),
        ("staff", "show", "sam"),
        ("staff", "list", "--all"),
        ("provider", "list", "--all"),
        ("provider", "show", "pantry"),
    ]
    outputs = []
    for step in steps:
        code, out, err = cli(*step)
        assert code == 0, (step, err)
        outputs.append(out)
    assert "Pantry [east]" in outputs[-1] and "no stock" in outputs[-1]
    assert "deactivated" in outputs[7]
