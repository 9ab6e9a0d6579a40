"""`casework staff invite`, `casework staff set-password` and `casework login` through
the command line, against `casework serve` (the commands are clients of the API; the
harness is tests/cli_session.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from application.bootstrap import open_casework
from application.identity import NotAuthenticated, sign_in
from infrastructure.settings import get_settings
from tests.cli_session import StaffCli, served_cli
from tests.identity.conftest import Secrets, secrets_in_the_log

PASSWORD = "cal sets this one herself"


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        yield cli


async def seed(cli: StaffCli) -> None:
    """ada, the first admin, signed in; team north and cal, a caseworker without a password."""
    await cli.bootstrap_admin("ada", "Ada Admin")
    for args in (
        ("staff", "add-team", "north", "--name", "North"),
        ("staff", "add", "cal", "--name", "Cal", "--role", "caseworker", "--team", "north"),
    ):
        await cli.ok_json(*args, as_="ada")


async def signs_in(database_url: str, password: str) -> bool:
    async with open_casework(get_settings(), dsn=database_url) as app:
        try:
            await sign_in(app, "cal", password, now=datetime.now(UTC))
        except NotAuthenticated:
            return False
        return True


async def test_an_admin_invites_and_the_member_sets_a_password(cli: StaffCli) -> None:
    await seed(cli)
    code, out, err = await cli.run("staff", "invite", "cal", "--json", as_="ada")
    assert code == 0, err
    invitation = json.loads(out)
    assert invitation["ok"] and invitation["staff_id"] == "cal"
    assert invitation["code"].startswith("cwi_")
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)

    # A mistyped repetition is asked again; a short password is refused naming the field.
    code, out, err = await cli.run(
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
    code, out, err = await cli.run(
        "staff",
        "set-password",
        "cal",
        "--json",
        input=f"{invitation['code']}\n{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"ok": True, "staff_id": "cal"}
    assert PASSWORD not in out and invitation["code"] not in out  # not echoed
    assert await signs_in(cli.database_url, PASSWORD)

    code, out, err = await cli.run(
        "staff",
        "set-password",
        "cal",
        "--code",
        invitation["code"],
        input=f"{PASSWORD} again\n{PASSWORD} again\n",
    )
    assert code == 1 and "code: this invitation was used already" in " ".join(err.split())
    used = Secrets(
        {PASSWORD, f"{PASSWORD} again", "too short", invitation["code"], *cli.passwords.values()}
    )
    assert await scan(cli.database_url, used) == []


async def scan(database_url: str, used: Secrets) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return await secrets_in_the_log(conn, used)
    finally:
        await conn.close()


async def test_only_admins_invite_from_the_command_line(cli: StaffCli) -> None:
    await seed(cli)
    code, out, err = await cli.run("staff", "invite", "nobody", as_="ada")
    assert code == 1 and "no staff member 'nobody'" in err
    # For people: the code on a line of its own, and what to do with it.
    code, out, err = await cli.run("staff", "invite", "cal", as_="ada")
    assert code == 0, err
    assert "casework staff set-password cal" in out
    assert any(line.startswith("cwi_") for line in out.splitlines())
    invitation = (await cli.ok_json("staff", "invite", "cal", as_="ada"))["code"]
    code, _, err = await cli.run(
        "staff", "set-password", "cal", "--code", invitation, "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    # cal signs in (in ada's place in this config directory): a caseworker may not invite.
    code, _, err = await cli.run(
        "login", "cal", "--password-stdin", input=PASSWORD + "\n", as_="ada"
    )
    assert code == 0, err
    assert "only an admin issues invitations" in await cli.refused(
        "staff", "invite", "ada", as_="ada"
    )


async def test_login_refuses_a_wrong_password_and_logout_ends_the_session(
    cli: StaffCli,
) -> None:
    await seed(cli)
    code, out, err = await cli.run("whoami", "--json", as_="ada")
    assert code == 0, err
    assert json.loads(out)["staff_id"] == "ada" and json.loads(out)["method"] == "password"
    code, out, err = await cli.run(
        "login", "ada", "--password-stdin", input="not the password\n", as_="ada"
    )
    assert code == 1 and "password" in err
    # The refused sign-in left the session as it was; logging out ends it.
    code, out, err = await cli.run("logout", "--json", as_="ada")
    assert code == 0 and json.loads(out)["signed_out"] is True
    code, out, err = await cli.run("whoami", as_="ada")
    assert code == 4 and "casework login" in err
