"""`casework directory import FILE_OR_URL` through the real command line, as an admin
runs it against `casework serve`: the report (added, changed, unchanged, refused rows
naming their field), a second import that changes nothing, `--dry-run`, `--json`, a CSV
data package as a folder and as a zip, a package fetched from a URL, and the files
refused before anything is written (over `CASEWORK_HSDS_MAX_BYTES`, not HSDS, the
wrong version)."""

from __future__ import annotations

import http.server
import io
import json
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from events.directory_events import PROVIDER_STREAM
from events.hsds_events import IMPORTS_STREAM
from tests.cli_session import StaffCli, served_cli

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hsds"
BEDS = "5e7c0000-0000-4000-8000-000000000001"
TENANCY = "5e7c0000-0000-4000-8000-000000000002"
HARBOUR = "0b6a3c2e-1f1a-4e7e-9d0a-000000000001"


@pytest.fixture
async def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[StaffCli]:
    async with served_cli(database_url, monkeypatch, tmp_path) as cli:
        await cli.bootstrap_admin("ada", "Ada Admin")
        yield cli


async def events_written(database_url: str) -> dict[str, int]:
    """How many events each directory stream holds, and the whole log."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT stream_id, count(*) AS n FROM events WHERE stream_id = ANY($1) "
            "GROUP BY stream_id",
            [PROVIDER_STREAM, IMPORTS_STREAM],
        )
        total = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    counts = {PROVIDER_STREAM: 0, IMPORTS_STREAM: 0, **{r["stream_id"]: r["n"] for r in rows}}
    return {**counts, "all": int(total)}


async def profiles_recorded(database_url: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT data FROM events WHERE event_type = 'ServiceProfileRecorded' "
            "ORDER BY global_position"
        )
    finally:
        await conn.close()
    return [json.loads(r["data"]) for r in rows]


async def test_import_report_then_an_idempotent_second_import(
    cli: StaffCli, database_url: str
) -> None:
    source = str(FIXTURES / "directory.json")
    code, out, err = await cli.run("directory", "import", source, as_="ada")
    assert code == 0, err
    assert "3 added, 0 changed, 0 unchanged, 0 withdrawn, 0 refused" in out
    assert out.startswith("Import ")
    after_first = await events_written(database_url)
    assert after_first[IMPORTS_STREAM] == 1

    again = await cli.ok_json("directory", "import", source, as_="ada")
    assert (again["added"], again["changed"], again["unchanged"], again["refused"]) == (0, 0, 3, 0)
    assert again["events_written"] == 0
    written = await events_written(database_url)
    assert written[PROVIDER_STREAM] == after_first[PROVIDER_STREAM]  # nothing new
    assert written[IMPORTS_STREAM] == 2  # only the second import's summary
    code, out, err = await cli.run("directory", "import", source, "--dry-run", as_="ada")
    assert code == 0, err
    assert "Dry run (nothing written): 0 added, 0 changed, 3 unchanged" in out

    # The next version of the package: what changed is named, field by field.
    code, out, err = await cli.run(
        "directory", "import", str(FIXTURES / "directory_v2.json"), as_="ada"
    )
    assert code == 0, err
    assert "1 changed" in out and "1 withdrawn" in out
    assert f"changed {BEDS}: description, languages" in out
    # Each first profile names every field; the second version's names what changed.
    recorded = await profiles_recorded(database_url)
    assert [(p["service_id"], p["changed"]) for p in recorded[3:]] == [
        (BEDS, ["description", "languages"])
    ]


async def test_broken_rows_are_named_and_the_rest_imports(cli: StaffCli) -> None:
    code, out, err = await cli.run("directory", "import", str(FIXTURES / "broken.json"), as_="ada")
    assert code == 0, err
    assert "3 added" in out and "4 refused" in out
    for where in (
        "services[3].name",
        "services[4].organization_id",
        "services[5].id",
        "services[6].attributes",
    ):
        assert f"refused {where}: " in out, out
    report = await cli.ok_json("directory", "import", str(FIXTURES / "broken.json"), as_="ada")
    assert sorted(r["field"] for r in report["refusals"]) == [
        "attributes",
        "id",
        "name",
        "organization_id",
    ]
    assert all(r["reason"] for r in report["refusals"])


async def test_dry_run_writes_nothing(cli: StaffCli, database_url: str) -> None:
    before = await events_written(database_url)
    dry = await cli.ok_json(
        "directory", "import", str(FIXTURES / "directory.json"), "--dry-run", as_="ada"
    )
    assert (dry["dry_run"], dry["added"], dry["events_written"]) == (True, 3, 0)
    assert sorted(dry["added_services"]) == sorted(
        [BEDS, TENANCY, "5e7c0000-0000-4000-8000-000000000003"]
    )
    assert await events_written(database_url) == before
    code, out, err = await cli.run(
        "directory", "import", str(FIXTURES / "directory.json"), "--dry-run", as_="ada"
    )
    assert code == 0, err
    assert "Dry run (nothing written): 3 added" in out
    assert await events_written(database_url) == before


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue()


async def test_a_csv_data_package_as_a_folder_and_as_a_zip(cli: StaffCli, tmp_path: Path) -> None:
    folder = await cli.ok_json("directory", "import", str(FIXTURES / "csv"), as_="ada")
    assert (folder["added"], folder["refused"]) == (3, 0)
    assert len(folder["providers_added"]) == 2
    archive = tmp_path / "directory.zip"
    archive.write_bytes(_zipped(FIXTURES / "csv"))
    zipped = await cli.ok_json("directory", "import", str(archive), as_="ada")
    assert (zipped["added"], zipped["changed"], zipped["unchanged"]) == (0, 0, 3)
    # The imported organisation is a provider of the resource directory.
    shown = (await cli.ok_json("provider", "show", HARBOUR, as_="ada"))["provider"]
    assert shown["name"] == "Harbour Housing Trust"
    assert BEDS in [s["service_id"] for s in shown["services"]]
    # A folder without datapackage.json is refused here, naming the argument.
    (tmp_path / "empty").mkdir()
    refused = await cli.refused("directory", "import", str(tmp_path / "empty"), as_="ada")
    assert refused.startswith("FILE_OR_URL:") and "datapackage.json" in refused


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """`folder` over HTTP on a free local port, in a thread: its base URL."""
    handler = partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_package_fetched_from_a_url(cli: StaffCli, database_url: str) -> None:
    with serving(FIXTURES) as base:
        report = await cli.ok_json("directory", "import", f"{base}/directory.json", as_="ada")
        assert (report["added"], report["refused"]) == (3, 0)
        before = await events_written(database_url)
        missing = await cli.refused("directory", "import", f"{base}/nowhere.json", as_="ada")
        assert missing.startswith("FILE_OR_URL:") and "404" in missing
        assert await events_written(database_url) == before


async def test_refused_files_write_nothing(
    cli: StaffCli, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await events_written(database_url)

    code, out, err = await cli.run(
        "directory", "import", str(FIXTURES / "not_hsds.txt"), "--json", as_="ada"
    )
    assert code == 1, err
    error = json.loads(out)["error"]
    assert error["field"] == "file" and "not an HSDS package" in error["message"]

    code, out, err = await cli.run(
        "directory", "import", str(FIXTURES / "wrong_version.json"), "--json", as_="ada"
    )
    assert code == 1, err
    error = json.loads(out)["error"]
    assert error["field"] == "version" and "2.0" in error["message"]
    assert "error:" in err and "version" in err

    # Over the limit: refused by the command itself, before anything is sent.
    monkeypatch.setenv("CASEWORK_HSDS_MAX_BYTES", "1000")
    big = FIXTURES / "directory.json"
    assert big.stat().st_size > 1000
    code, out, err = await cli.run("directory", "import", str(big), "--json", as_="ada")
    assert code == 1, err
    error = json.loads(out)["error"]
    assert error["field"] == "FILE_OR_URL"
    assert "CASEWORK_HSDS_MAX_BYTES" in error["message"] and "1000" in error["message"]
    too_big_folder = await cli.refused("directory", "import", str(FIXTURES / "csv"), as_="ada")
    assert "CASEWORK_HSDS_MAX_BYTES" in too_big_folder
    monkeypatch.delenv("CASEWORK_HSDS_MAX_BYTES")

    # Only an admin imports.
    await cli.ok_json(
        "staff", "add", "mia", "--name", "Mia", "--role", "manager", as_="ada"
    )  # fmt: skip
    await cli.enrol("mia", by="ada")
    assert "may not" in await cli.refused(
        "directory", "import", str(FIXTURES / "directory.json"), as_="mia"
    )
    after = await events_written(database_url)
    # The staff member and her account were written; nothing of any import.
    assert (after[PROVIDER_STREAM], after[IMPORTS_STREAM]) == (
        before[PROVIDER_STREAM],
        before[IMPORTS_STREAM],
    )
