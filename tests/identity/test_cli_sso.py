"""`casework login --sso` as a person runs it: the command shows where to sign in, the
person signs in at the agency's real OpenID Connect provider (its development login
pages, driven with httpx), and the command line then acts as them through the API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from application.bootstrap import open_casework
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from events.directory_events import StaffRole
from infrastructure.settings import Settings
from tests import oidc_provider as provider_fixtures
from tests.api_server import served_api
from tests.codec_keys import TEST_CODEC_KEYS
from tests.conftest import ROOT
from tests.oidc_provider import (
    API_AUDIENCE,
    CLI_CLIENT,
    CONSOLE_CLIENT,
    CONSOLE_SECRET,
    OidcProvider,
)

oidc_provider = provider_fixtures.oidc_provider

COMPLETE_URL = re.compile(r"\(or open (\S+)\)")


async def run_cli(env: dict[str, str], *args: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter", *args, "--json", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    answer: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return answer


@pytest.mark.slow
async def test_login_with_single_sign_on(
    database_url: str, oidc_provider: OidcProvider, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "CASEWORK_LOG_LEVEL": "WARNING",
        "CASEWORK_OIDC_ISSUER": oidc_provider.issuer,
        "CASEWORK_OIDC_CLIENT_ID": CONSOLE_CLIENT,
        "CASEWORK_OIDC_CLIENT_SECRET": CONSOLE_SECRET,
        "CASEWORK_OIDC_CLI_CLIENT_ID": CLI_CLIENT,
        "CASEWORK_OIDC_AUDIENCE": API_AUDIENCE,
        "CASEWORK_CONFIG_DIR": str(tmp_path / "config"),
        "CASEWORK_CODEC_KEYS": TEST_CODEC_KEYS,
    }
    env.pop("CASEWORK_TOKEN", None)
    # The master and origin keys: the data directory's, made by the test as the
    # embedded stack makes them.
    settings = Settings(DATABASE_URL=database_url, CASEWORK_DATA_DIR=tmp_path / "data")
    async with open_casework(settings, dsn=database_url) as app:
        await bootstrap_admin(app.store, "ada", "Ada Admin")
        ada = await resolve_actor(app.store, "ada")
        await add_team(app.store, ada, "north", "North")
        await add_staff(app.store, ada, "cal", "Cal", StaffRole.CASEWORKER, "north")

    async with served_api(env) as api_url:
        env["CASEWORK_API_URL"] = api_url
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter", "login", "--sso", "--json", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        shown: list[str] = []
        while not shown or COMPLETE_URL.search(shown[-1]) is None:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
            assert line, "casework login --sso ended without showing where to sign in"
            shown.append(line.decode())
        match = COMPLETE_URL.search(shown[-1])
        assert match is not None
        page = await oidc_provider.approve_device(match.group(1), "cal")
        assert "Sign-in Success" in page, page
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, err.decode()[-2000:]
        signed_in = json.loads(out.decode().strip().splitlines()[-1])
        assert signed_in["staff_id"] == "cal"

        who = await run_cli(env, "whoami")
        assert (who["staff_id"], who["role"], who["method"]) == ("cal", "caseworker", "oidc")
        assert (await run_cli(env, "logout"))["signed_out"] is True
