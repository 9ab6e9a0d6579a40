"""`casework staff …` and `casework provider …` through the real command line: the
staff commands as clients of `casework serve`, each staff member signed in with
`casework login` in a config directory of their own; `staff bootstrap-admin` as the
operator's command, straight to the database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli_session import StaffCli, served_cli


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        yield cli


async def bootstrap(cli: StaffCli) -> None:
    """ada, the first admin, signed in; team north."""
    await cli.bootstrap_admin("ada", "Ada Admin")
    await cli.ok_json("staff", "add-team", "north", "--name", "North team", as_="ada")


async def staff_ids(cli: StaffCli) -> list[str]:
    listing = await cli.ok_json("staff", "list", "--all", as_="ada")
    return [m["staff_id"] for m in listing["staff"]]


async def test_bootstrap_only_once(cli: StaffCli) -> None:
    data = await cli.ok_json("staff", "bootstrap-admin", "ada", "--name", "Ada Admin")
    assert data["staff_member"]["role"] == "admin"
    assert data["invitation"]["code"].startswith("cwi_")
    assert "only allowed while the staff directory is empty" in await cli.refused(
        "staff", "bootstrap-admin", "eve", "--name", "Eve"
    )
    # The admin's invitation sets their password: they sign in and are the admin.
    await cli.set_password("ada", data["invitation"]["code"])
    await cli.login("ada")
    code, out, err = await cli.run("whoami", "--json", as_="ada")
    assert code == 0, err
    assert (json.loads(out)["staff_id"], json.loads(out)["role"]) == ("ada", "admin")


async def test_staff_lifecycle(cli: StaffCli) -> None:
    await bootstrap(cli)
    added = await cli.ok_json(
        "staff", "add", "cal", "--name", "Cal Caseworker", "--role", "caseworker",
        "--team", "north", "--webhook", "http://127.0.0.1:9/cal", as_="ada",
    )  # fmt: skip
    assert added["staff_member"] == {
        "staff_id": "cal",
        "display_name": "Cal Caseworker",
        "role": "caseworker",
        "team": "north",
        "webhook_url": "http://127.0.0.1:9/cal",
        "active": True,
        "deactivation_reason": None,
    }
    changed = await cli.ok_json(
        "staff", "change", "cal", "--role", "supervisor", "--no-webhook",
        "--reason", "promoted", as_="ada",
    )  # fmt: skip
    assert changed["staff_member"]["role"] == "supervisor"
    assert changed["staff_member"]["webhook_url"] is None
    listing = await cli.ok_json("staff", "list", "--team", "north", as_="ada")
    assert [m["staff_id"] for m in listing["staff"]] == ["cal"]
    assert listing["teams"] == [{"team_id": "north", "name": "North team"}]

    # cal signs in at their own desk: they read the directory, but may not change it.
    await cli.enrol("cal", by="ada")
    assert await cli.ok_json("staff", "show", "cal", as_="cal")
    assert "cal (supervisor) may not add a team: only an admin" in await cli.refused(
        "staff", "add-team", "south", "--name", "South", as_="cal"
    )

    await cli.ok_json("staff", "deactivate", "cal", "--reason", "left", as_="ada")
    assert await cli.ok_json("staff", "list", as_="ada") == {
        "ok": True,
        "teams": [{"team_id": "north", "name": "North team"}],
        "staff": [
            m
            for m in (await cli.ok_json("staff", "list", "--all", as_="ada"))["staff"]
            if m["staff_id"] == "ada"
        ],
    }
    shown = await cli.ok_json("staff", "show", "cal", as_="ada")
    assert shown["staff_member"]["deactivation_reason"] == "left"
    # cal's session ended with the deactivation, and cal cannot sign in again.
    ended = await cli.not_signed_in("staff", "add-team", "south", "--name", "South", as_="cal")
    assert "not signed in" in ended and "revoked" in ended and "casework login" in ended
    code, _, err = await cli.run(
        "login", "cal", "--password-stdin", input=cli.passwords["cal"] + "\n", as_="cal"
    )
    assert code == 1 and "sign-in failed: wrong staff id, password or code" in " ".join(err.split())
    teams = (await cli.ok_json("staff", "list", as_="ada"))["teams"]
    assert [t["team_id"] for t in teams] == ["north"]


async def test_refusals_name_the_reason(cli: StaffCli) -> None:
    await bootstrap(cli)
    await cli.ok_json(
        "staff", "add", "sam", "--name", "Sam", "--role", "supervisor", "--team", "north",
        as_="ada",
    )  # fmt: skip
    await cli.enrol("sam", by="ada")
    assert "sam (supervisor) may not add staff" in await cli.refused(
        "staff", "add", "x", "--name", "X", "--role", "auditor", as_="sam"
    )
    assert "team: no team 'south'" in await cli.refused(
        "staff", "add", "x", "--name", "X", "--role", "caseworker", "--team", "south", as_="ada"
    )
    # The field named once (the API's problem lists it; the CLI prints `field: message`).
    no_team = await cli.refused(
        "staff", "add", "x", "--name", "X", "--role", "caseworker", as_="ada"
    )
    assert no_team == "team: Value error, required for a caseworker"
    assert "staff_id: 'sam' is already" in await cli.refused(
        "staff", "add", "sam", "--name", "S", "--role", "manager", as_="ada"
    )
    assert "webhook_url: Value error, must be an http or https URL" in await cli.refused(
        "staff", "add", "x", "--name", "X", "--role", "auditor", "--webhook", "nope", as_="ada"
    )
    assert "no staff member 'ghost'" in await cli.refused(
        "staff", "change", "ghost", "--name", "G", as_="ada"
    )
    assert "--team and --no-team exclude each other" in await cli.refused(
        "staff", "change", "sam", "--team", "north", "--no-team", as_="ada"
    )
    # Somebody not in the directory cannot sign in, nor do anything without signing in.
    code, _, err = await cli.run("login", "ghost", "--password-stdin", input="a guess at it\n")
    assert code == 1 and "sign-in failed: wrong staff id, password or code" in " ".join(err.split())
    assert "not signed in" in await cli.not_signed_in(
        "staff", "add-team", "south", "--name", "South"
    )
    # Nothing of the refused changes was written.
    assert await staff_ids(cli) == ["ada", "sam"]
    sam = (await cli.ok_json("staff", "show", "sam", as_="ada"))["staff_member"]
    assert (sam["display_name"], sam["team"]) == ("Sam", "north")
    teams = (await cli.ok_json("staff", "list", as_="ada"))["teams"]
    assert [t["team_id"] for t in teams] == ["north"]


async def test_providers(cli: StaffCli) -> None:
    await bootstrap(cli)
    added = await cli.ok_json(
        "provider", "add", "shelter-1", "--name", "Harbour Shelter",
        "--category", "housing", "--webhook", "https://shelter.example/referrals",
        "--email", "intake@shelter.example", "--eligibility", "adults over 18", as_="ada",
    )  # fmt: skip
    provider = added["provider"]
    assert provider["channel"] == {
        "webhook_url": "https://shelter.example/referrals",
        "phone": None,
        "email": "intake@shelter.example",
    }
    added = await cli.ok_json(
        "provider", "add-service", "shelter-1", "beds", "--name", "Emergency beds",
        "--domain", "housing", "--domain", "mental_health", as_="ada",
    )  # fmt: skip
    service = added["service"]
    assert service["domains"] == ["housing", "mental_health"]
    shown = (await cli.ok_json("provider", "show", "shelter-1", as_="ada"))["provider"]
    assert [s["service_id"] for s in shown["services"]] == ["beds"]
    listed = (await cli.ok_json("provider", "list", "--domain", "mental_health", as_="ada"))[
        "providers"
    ]
    assert [p["provider_id"] for p in listed] == ["shelter-1"]
    assert (await cli.ok_json("provider", "list", "--domain", "income", as_="ada"))[
        "providers"
    ] == []
    changed = await cli.ok_json(
        "provider", "change", "shelter-1", "--phone", "+1 555 0100", as_="ada"
    )
    assert changed["provider"]["channel"]["phone"] == "+1 555 0100"
    assert "webhook_url: Value error, must be an http or https URL" in await cli.refused(
        "provider", "add", "p2", "--name", "P", "--category", "other",
        "--webhook", "ftp://p.example", as_="ada",
    )  # fmt: skip
    assert "provider_id: 'shelter-1' is already" in await cli.refused(
        "provider", "add", "shelter-1", "--name", "P", "--category", "other",
        "--webhook", "https://p.example", as_="ada",
    )  # fmt: skip
    assert "no provider 'ghost'" in await cli.refused("provider", "show", "ghost", as_="ada")
    everything = (await cli.ok_json("provider", "list", "--all", as_="ada"))["providers"]
    assert [p["provider_id"] for p in everything] == ["shelter-1"]
    assert everything[0]["name"] == "Harbour Shelter"


async def test_human_output_goes_to_stdout_and_errors_to_stderr(cli: StaffCli) -> None:
    code, out, _ = await cli.run(
        "staff", "bootstrap-admin", "ada", "--name", "Ada [the first] Admin"
    )
    assert code == 0 and "bootstrapped admin ada Ada [the first] Admin" in out
    # The invitation code on a line of its own, and what to do with it.
    assert "casework staff set-password ada" in out
    [invitation] = [line for line in out.splitlines() if line.startswith("cwi_")]
    await cli.set_password("ada", invitation)
    await cli.login("ada")
    code, out, _ = await cli.run("staff", "list", as_="ada")
    assert code == 0 and "ada" in out
    code, out, err = await cli.run("staff", "bootstrap-admin", "eve", "--name", "Eve")
    assert code == 1 and out == "" and "error:" in err and "empty" in err


async def test_human_output_of_every_listing(cli: StaffCli) -> None:
    await bootstrap(cli)
    steps = [
        ("staff", "add", "sam", "--name", "Sam", "--role", "supervisor", "--team", "north"),
        ("staff", "change", "sam", "--name", "Sam S."),
        (
            "provider", "add", "pantry", "--name", "Pantry [east]", "--category",
            "food_assistance", "--webhook", "http://127.0.0.1:9/p", "--phone", "555 0101",
            "--eligibility", "all",
        ),
        (
            "provider", "add-service", "pantry", "meals", "--name", "Meals",
            "--domain", "income",
        ),
        ("provider", "withdraw-service", "pantry", "meals", "--reason", "no stock"),
        ("provider", "deactivate", "pantry", "--reason", "closed"),
        ("staff", "deactivate", "sam", "--reason", "left"),
        ("staff", "show", "sam"),
        ("staff", "list", "--all"),
        ("provider", "list", "--all"),
        ("provider", "show", "pantry"),
    ]  # fmt: skip
    outputs = []
    for step in steps:
        code, out, err = await cli.run(*step, as_="ada")
        assert code == 0, (step, err)
        outputs.append(out)
    assert "Pantry [east]" in outputs[-1] and "no stock" in outputs[-1]
    assert "deactivated" in outputs[7] and "Sam S." in outputs[7]
