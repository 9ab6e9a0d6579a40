"""The audit page offers the verifiable case file (auditors, managers): downloaded in a
real browser, it verifies offline; a caseworker is not offered it and is refused it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from application.notary import checkpoint_now, checkpoint_sink, public_keys_path
from events.case_file import load_public_keys, verify_case_file
from events.catalog import default_registry
from tests.console.conftest import Stack
from tests.pg import with_database


async def test_an_auditor_downloads_a_case_file_that_verifies(
    stack: Stack, pg_server: str, tmp_path: Path
) -> None:
    # This test's checkpoints and notary key, not those of a data directory in use.
    stack.app.settings.data_dir = tmp_path / "data"
    case_id = await stack.open_case("CL-file")
    await stack.until_projected(case_id)
    dsn = with_database(pg_server, await stack.app.pool.fetchval("SELECT current_database()"))
    total = await stack.app.pool.fetchval("SELECT count(*) FROM events")
    deadline = asyncio.get_running_loop().time() + 120
    while True:  # events reach the notary once no older transaction is in progress
        await checkpoint_now(stack.app.settings, dsn)
        latest = checkpoint_sink(stack.app.settings).latest()
        if latest is not None and latest.tree_size >= total:
            break
        assert asyncio.get_running_loop().time() < deadline, "the notary did not catch up"
        await asyncio.sleep(0.1)

    audrey = await stack.signed_in("audrey")
    await audrey.goto(f"/console/audit/{case_id}")
    async with audrey.expect_download() as caught:
        await audrey.click("text=Download the case file")
    download = await caught.value
    target = tmp_path / "case.json"
    await download.save_as(target)
    keys = load_public_keys(public_keys_path(stack.app.settings).read_text())
    report = verify_case_file(target.read_bytes(), keys, default_registry())
    assert report.ok, report.problems
    assert report.case_id == case_id and report.personal_fields == "disclosed"

    alice = await stack.signed_in("alice")  # the case's caseworker
    await alice.goto(f"/console/audit/{case_id}")
    assert await alice.locator("text=Download the case file").count() == 0
    answer = await alice.request.get(f"/console/audit/{case_id}/export")
    assert answer.status == 403
