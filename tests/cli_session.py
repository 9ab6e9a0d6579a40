"""The command line as staff members use it, for tests: `casework serve` on the test's
database, and each staff member signed in with `casework login` in a config directory
of their own (so several sessions live side by side, as on several desks).

    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")       # operator; password; login
        await cli.run("staff", "add", "cal", …, as_="ada")  # in ada's session
        await cli.enrol("cal", by="ada")                    # invited; password; login
        code, out, err = await cli.run("caseload", as_="cal")

Every command runs with Typer's CliRunner in a thread (`asyncio.to_thread`): operator
commands run an event loop of their own. `as_` picks the config directory (and so the
session) the command runs with; None is a directory nobody signed in to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from application.bootstrap import open_casework
from application.identity import invite
from directory import resolve_actor
from infrastructure.logs import configure_logging
from infrastructure.settings import get_settings
from starter import app as cli_app
from tests.api_server import served_api
from tests.keys import deployment_keys

NOBODY = "nobody"

runner = CliRunner()


def password_of(staff_id: str) -> str:
    """The password a staff member sets in these tests (long enough for the policy)."""
    return f"{staff_id}'s own long passphrase"


@dataclass
class StaffCli:
    """`casework …` against the served API, one config directory per staff member."""

    config_root: Path
    database_url: str
    passwords: dict[str, str] = field(default_factory=dict)

    def config_dir(self, who: str | None) -> Path:
        return self.config_root / (who or NOBODY)

    def _invoke(self, args: list[str], input: str | None, who: str | None) -> tuple[int, str, str]:
        # The settings are read once per process and cached: read them again for this
        # command's config directory (set for the command only), and again afterwards.
        get_settings.cache_clear()
        try:
            result = runner.invoke(
                cli_app, args, input=input, env={"CASEWORK_CONFIG_DIR": str(self.config_dir(who))}
            )
        finally:
            get_settings.cache_clear()
        return result.exit_code, result.stdout, result.stderr

    async def run(
        self, *args: str, input: str | None = None, as_: str | None = None
    ) -> tuple[int, str, str]:
        """One command in `as_`'s config directory: exit code, stdout, stderr."""
        return await asyncio.to_thread(self._invoke, list(args), input, as_)

    async def ok_json(self, *args: str, as_: str | None = None) -> Any:
        """A command with `--json` that must succeed: its JSON answer."""
        code, out, err = await self.run(*args, "--json", as_=as_)
        assert code == 0, (args, err)
        data = json.loads(out)
        assert data.get("ok", True) is True
        return data

    async def refused(self, *args: str, as_: str | None = None) -> str:
        """A command with `--json` that must be refused (exit 1, the reason on stderr and
        `{"ok": false, "error": {"code", "message", "field"}}` on stdout): the message."""
        code, out, err = await self.run(*args, "--json", as_=as_)
        assert code == 1, (args, out, err)
        answer = json.loads(out)
        assert answer["ok"] is False and err.startswith("error:"), (answer, err)
        assert set(answer["error"]) == {"code", "message", "field"}, answer
        message: str = answer["error"]["message"]
        return message

    async def not_signed_in(self, *args: str, as_: str | None = None) -> str:
        """A command with `--json` refused for want of a live session (exit 4, error code
        `not-signed-in`): the message."""
        code, out, err = await self.run(*args, "--json", as_=as_)
        assert code == 4, (args, out, err)
        error = json.loads(out)["error"]
        assert error["code"] == "not-signed-in" and "casework login" in err, (error, err)
        message: str = error["message"]
        return message

    # --- accounts ----------------------------------------------------------------------

    async def bootstrap_admin(self, staff_id: str, name: str) -> Any:
        """The operator creates the first admin, who sets a password and signs in."""
        bootstrapped = await self.ok_json("staff", "bootstrap-admin", staff_id, "--name", name)
        await self.set_password(staff_id, bootstrapped["invitation"]["code"])
        await self.login(staff_id)
        return bootstrapped

    async def set_password(self, staff_id: str, code: str) -> None:
        """`staff set-password` with an invitation code (the password from stdin)."""
        password = self.passwords.setdefault(staff_id, password_of(staff_id))
        code_, _, err = await self.run(
            "staff", "set-password", staff_id, "--code", code, "--password-stdin",
            input=password + "\n",
        )  # fmt: skip
        assert code_ == 0, err

    async def login(self, staff_id: str, *, as_: str | None = None) -> None:
        """`casework login` with the member's password, in `as_`'s config directory (by
        default their own); it replaces the session kept there."""
        code, out, err = await self.run(
            "login", staff_id, "--password-stdin", "--json",
            input=self.passwords[staff_id] + "\n", as_=as_ or staff_id,
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["staff_id"] == staff_id

    async def enrol(self, staff_id: str, *, by: str) -> None:
        """Invited by the admin `by` (signed in), the member sets a password and signs in."""
        invitation = await self.ok_json("staff", "invite", staff_id, as_=by)
        await self.set_password(staff_id, invitation["code"])
        await self.login(staff_id)

    async def enrol_directly(self, staff_id: str, *, by: str) -> None:
        """As `enrol`, the invitation issued through the application layer (for a
        directory filled there, whose admin has no password yet)."""
        async with open_casework(get_settings(), dsn=self.database_url, pool_size=2) as app:
            admin = await resolve_actor(app.store, by)
            issued = await invite(app, admin, staff_id, now=datetime.now(UTC))
        await self.set_password(staff_id, issued.code)
        await self.login(staff_id)


@asynccontextmanager
async def served_cli(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[StaffCli]:
    """`casework serve` on `database_url` (with `env`), and the command line pointed at it
    (the variables set for this test only)."""
    variables = {
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        **deployment_keys(tmp_path / "keys"),  # `casework serve` makes none of its own
        **(env or {}),
    }
    async with served_api({**variables, "CASEWORK_LOG_LEVEL": "WARNING"}) as api_url:
        for name, value in {**variables, "CASEWORK_API_URL": api_url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("CASEWORK_TOKEN", raising=False)
        monkeypatch.delenv("CASEWORK_CONFIG_DIR", raising=False)
        get_settings.cache_clear()
        # Logging configured outside the runner's isolation: logs never go to a stream
        # the runner closes afterwards, nor into stdout's JSON.
        configure_logging(get_settings(), force=True)
        try:
            yield StaffCli(config_root=tmp_path / "config", database_url=database_url)
        finally:
            get_settings.cache_clear()
