"""`casework staff add --role provider --provider …` and `casework portal …` through the
real command line against `casework serve`: a provider member is made for an active
provider only, and the portal answers the provider its own referrals and nobody else.
(The portal's answers to a referral are walked through HTTP in tests/api/test_portal.py
and through the console in tests/security/test_one_path.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from application.bootstrap import open_casework
from directory import STAFF_STREAM
from infrastructure.settings import get_settings
from tests.cli_session import StaffCli, served_cli


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")
        await cli.ok_json("staff", "add-team", "north", "--name", "North team", as_="ada")
        await cli.ok_json(
            "provider", "add", "shelter-1", "--name", "Night shelter", "--category", "housing",
            "--webhook", "https://shelter.test/referrals", as_="ada",
        )  # fmt: skip
        yield cli


async def staff_version(cli: StaffCli) -> int:
    async with open_casework(get_settings(), dsn=cli.database_url, pool_size=2) as app:
        return await app.store.stream_version(STAFF_STREAM)


async def test_a_provider_member_is_made_for_an_active_provider_only(cli: StaffCli) -> None:
    before = await staff_version(cli)
    add = ("staff", "add", "pia", "--name", "Pia Ortega", "--role", "provider")
    assert "provider" in await cli.refused(*add, as_="ada")
    assert "no active provider 'nobody'" in await cli.refused(
        *add, "--provider", "nobody", as_="ada"
    )
    assert "team" in await cli.refused(
        *add, "--provider", "shelter-1", "--team", "north", as_="ada"
    )
    assert "provider" in await cli.refused(
        "staff", "add", "cal", "--name", "Cal", "--role", "caseworker", "--team", "north",
        "--provider", "shelter-1", as_="ada",
    )  # fmt: skip
    assert await staff_version(cli) == before, "a refusal wrote nothing"

    added = await cli.ok_json(*add, "--provider", "shelter-1", as_="ada")
    assert added["staff_member"]["provider_id"] == "shelter-1"
    assert added["staff_member"]["team"] is None
    code, out, err = await cli.run("staff", "show", "pia", as_="ada")
    assert code == 0 and "for provider shelter-1" in out, (out, err)

    await cli.enrol("pia", by="ada")
    listed = await cli.ok_json("portal", "list", as_="pia")
    assert listed["items"] == []
    code, out, _ = await cli.run("portal", "list", as_="pia")
    assert code == 0 and "No referrals have been sent to your organisation." in out

    # Not a provider's page for anyone else: an admin reads no provider's referrals.
    assert "may not read" in await cli.refused("portal", "list", as_="ada")
