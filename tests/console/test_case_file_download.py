"""The audit page offers the verifiable case file (auditors, managers): downloaded in a
real browser, it verifies offline; a caseworker is not offered it and is refused it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC
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


async def test_the_caseload_downloads_as_csv_what_the_page_shows(
    stack: Stack, tmp_path: Path
) -> None:
    for ref in ("CL-dl-1", "CL-dl-2", "CL-dl-3"):
        await stack.until_projected(await stack.open_case(ref))
    alice = await stack.signed_in("alice")
    await alice.goto("/console/caseload")
    await alice.wait_for_selector("text=CL-dl-3")
    shown = await alice.locator("table.caseload tbody th a").all_inner_texts()
    async with alice.expect_download() as caught:
        await alice.click("text=Download CSV")
    download = await caught.value
    day = stack.clock().astimezone(UTC).date().isoformat()
    assert download.suggested_filename == f"open-cases-{day}.csv"
    target = tmp_path / "caseload.csv"
    await download.save_as(target)
    body = target.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [r[header.index("client_ref")] for r in rows] == shown
    assert {r[header.index("worker")] for r in rows} == {"alice"}
    assert "review_overdue" in header and "escalation_level" in header

    # The page's filters go with the link; the download is on record in the access log.
    await alice.goto("/console/caseload?only=replies")
    assert await alice.locator("text=Download CSV").count() == 0  # nothing to download
    await alice.goto("/console/caseload?risk=&only=")
    href = await alice.locator("text=Download Excel").get_attribute("href")
    assert href == "/console/export/open-cases.xlsx"
    entry = await stack.app.pool.fetchrow(
        "SELECT staff_id, view, filters::text AS filters, auth_method FROM access_log "
        "WHERE view LIKE 'export %' ORDER BY access_id DESC LIMIT 1"
    )
    assert entry is not None
    assert (entry["staff_id"], entry["view"], entry["auth_method"]) == (
        "alice", "export open-cases csv", "password"
    )  # fmt: skip
    assert json.loads(entry["filters"]) == {}
    refused = await alice.request.get("/console/export/open-cases.csv?risk=extreme")
    assert refused.status == 422
    # The auditor sees it among the latest exports.
    audrey = await stack.signed_in("audrey")
    await audrey.goto("/console/audit")
    latest = audrey.locator("table.exports tbody tr").first
    assert "open-cases" in await latest.inner_text() and "alice" in await latest.inner_text()
