"""`casework provider webhook-secret …` through the real command line, as an admin runs it
against `casework serve`: the secret printed once is the one Casework signs with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from application.bootstrap import open_casework
from application.webhook_secrets import provider_live_secrets
from infrastructure.settings import get_settings
from tests.cli_session import StaffCli, served_cli

PROVIDER = "food-bank"


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")
        await cli.ok_json("staff", "add-team", "north", "--name", "North team", as_="ada")
        await cli.ok_json(
            "provider", "add", PROVIDER, "--name", "Food bank", "--category", "food_assistance",
            "--webhook", "https://food-bank.test/referrals", as_="ada",
        )  # fmt: skip
        yield cli


async def live(cli: StaffCli) -> list[str]:
    async with open_casework(get_settings(), dsn=cli.database_url, pool_size=2) as app:
        return await provider_live_secrets(app, PROVIDER, datetime.now(UTC))


async def rows(cli: StaffCli) -> int:
    async with open_casework(get_settings(), dsn=cli.database_url, pool_size=2) as app:
        count: int = await app.pool.fetchval("SELECT count(*) FROM provider_webhook_secrets")
        return count


async def test_rotate_shows_the_secret_once_then_lists_and_revokes(cli: StaffCli) -> None:
    code, out, err = await cli.run("provider", "webhook-secret", "rotate", PROVIDER, as_="ada")
    assert code == 0, err
    (printed,) = [line.strip() for line in out.splitlines() if line.strip().startswith("whsec_")]
    assert "shown this once" in out
    assert await live(cli) == [printed]

    rotated = await cli.ok_json(
        "provider", "webhook-secret", "rotate", PROVIDER, "--overlap-hours", "2", as_="ada"
    )
    assert rotated["secret"] != printed and len(rotated["retiring"]) == 1
    assert await live(cli) == [rotated["secret"], printed]

    listed = await cli.ok_json("provider", "webhook-secret", "list", PROVIDER, as_="ada")
    assert [s["live"] for s in listed["secrets"]] == [True, True]
    code, out, err = await cli.run("provider", "webhook-secret", "list", PROVIDER, as_="ada")
    assert code == 0 and "whsec_" not in out and rotated["secret_id"] in out

    revoked = await cli.ok_json("provider", "webhook-secret", "revoke", PROVIDER, as_="ada")
    assert len(revoked["revoked"]) == 2
    assert await live(cli) == []


async def test_refusals_name_the_reason_and_write_nothing(cli: StaffCli) -> None:
    await cli.ok_json(
        "staff", "add", "cal", "--name", "Cal", "--role", "caseworker", "--team", "north",
        as_="ada",
    )  # fmt: skip
    await cli.enrol("cal", by="ada")
    message = await cli.refused("provider", "webhook-secret", "rotate", PROVIDER, as_="cal")
    assert "only an admin" in message
    message = await cli.refused(
        "provider", "webhook-secret", "rotate", PROVIDER, "--overlap-hours", "-1", as_="ada"
    )
    assert "overlap_hours" in message
    message = await cli.refused("provider", "webhook-secret", "rotate", "nobody", as_="ada")
    assert "nobody" in message
    message = await cli.refused("provider", "webhook-secret", "revoke", PROVIDER, as_="ada")
    assert "no live webhook secret" in message
    assert await rows(cli) == 0
