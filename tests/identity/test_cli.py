"""`casework staff invite` and `casework staff set-password` through the command line
(synchronous tests: each command runs its own event loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from typer.testing import CliRunner

from application.bootstrap import open_casework
from application.identity import NotAuthenticated, sign_in
from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings
from starter import app as cli_app
from tests.identity.conftest import Secrets, secrets_in_the_log

runner = CliRunner()
PASSWORD = "cal sets this one herself"


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASEWORK_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    configure_logging(get_settings(), force=True)
    yield database_url
    get_settings.cache_clear()


def cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli_app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def seed() -> None:
    for args in (
        ("staff", "bootstrap-admin", "ada", "--name", "Ada Admin"),
        ("staff", "add-team", "north", "--name", "North", "--as", "ada"),
        (
            "staff",
            "add",
            "cal",
            "--name",
            "Cal",
            "--role",
            "caseworker",
            "--team",
            "north",
            "--as",
            "ada",
        ),
    ):
        code, _, err = cli(*args, "--json")
        assert code == 0, err


async def signs_in(database_url: str, password: str) -> bool:
    async with open_casework(get_settings(), dsn=database_url) as app:
        try:
            await sign_in(app, "cal", password, now=datetime.now(UTC))
        except NotAuthenticated:
            return False
        return True


def test_an_admin_invites_and_the_member_sets_a_password(cli_db: str) -> None:
    seed()
    code, out, err = cli("staff", "invite", "cal", "--as", "ada", "--json")
    assert code == 0, err
    invitation = json.loads(out)
    assert invitation["ok"] and invitation["staff_id"] == "cal"
    assert invitation["code"].startswith("cwi_")
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)

    # A mistyped repetition is asked again; a short password is refused naming the field.
    code, out, err = cli(
        "staff",
        "set-password",
        "cal",
        "--code",
        invitation["code"],
        "--json",
        input="too short\ntoo short\n",
    )
    assert code == 1 and "password: must be at least 12 characters long" in err
    assert json.loads(out)["ok"] is False
    code, out, err = cli(
        "staff",
        "set-password",
        "cal",
        "--json",
        input=f"{invitation['code']}\n{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"ok": True, "staff_id": "cal"}
    assert PASSWORD not in out and invitation["code"] not in out  # not echoed
    assert asyncio.run(signs_in(cli_db, PASSWORD))

    code, out, err = cli(
        "staff",
        "set-password",
        "cal",
        "--code",
        invitation["code"],
        input=f"{PASSWORD} again\n{PASSWORD} again\n",
    )
    assert code == 1 and "code: this invitation was used already" in " ".join(err.split())
    used = Secrets({PASSWORD, f"{PASSWORD} again", "too short", invitation["code"]})
    assert asyncio.run(scan(cli_db, used)) == []


async def scan(database_url: str, used: Secrets) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return await secrets_in_the_log(conn, used)
    finally:
        await conn.close()


def test_only_admins_invite_from_the_command_line(cli_db: str) -> None:
    seed()
    code, out, err = cli("staff", "invite", "ada", "--as", "cal", "--json")
    assert code == 1 and "only an admin issues invitations" in " ".join(err.split())
    code, out, err = cli("staff", "invite", "nobody", "--as", "ada")
    assert code == 1 and "no staff member 'nobody'" in err
    # For people: the code on a line of its own, and what to do with it.
    code, out, err = cli("staff", "invite", "cal", "--as", "ada")
    assert code == 0, err
    assert "casework staff set-password cal" in out
    assert any(line.startswith("cwi_") for line in out.splitlines())
