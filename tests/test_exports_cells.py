"""The cells of an exported file (application/exports.py), without a database: no text a
person typed is ever a formula to a spreadsheet, in CSV or XLSX; numbers and booleans
stay what they are; times are ISO 8601 UTC; columns come from the row model, flattened
and chosen by name."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from application.exports import (
    FORMULA_STARTS,
    Cell,
    XlsxBook,
    cell,
    choose_columns,
    columns_of,
    csv_text,
    neutralise,
)
from application.paging import InvalidQuery
from projections.case_summary import Caseload

letters = st.one_of(st.characters(exclude_categories=("Cc", "Cs")), st.sampled_from("\t\r\n"))
"""What text fields hold: any character but control ones (events/fields.py), except the
tab, carriage return and newline a long text may have."""
dangerous = st.sampled_from(FORMULA_STARTS).flatmap(
    lambda start: st.text(letters, max_size=40).map(lambda rest: start + rest)
)
texts = st.one_of(st.text(letters, max_size=60), dangerous)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    texts,
    st.lists(texts, max_size=4),
)


ESCAPED = re.compile(r"_x([0-9A-F]{4})_")


def safe(text: str) -> bool:
    """Nothing a spreadsheet runs: no formula start, unless behind the quote."""
    return not text.startswith(FORMULA_STARTS)


@given(texts)
def test_neutralised_text_never_starts_a_formula(text: str) -> None:
    out = neutralise(text)
    if text.startswith(FORMULA_STARTS):
        assert out == "'" + text
    else:
        assert out == text
    assert safe(out) or out.startswith("'")
    assert safe(out)


@given(values)
def test_a_cell_keeps_numbers_and_neutralises_text(value: object) -> None:
    got = cell(value)
    if value is None or isinstance(value, bool | int | float):
        assert got == value and type(got) is type(value)
    else:
        assert isinstance(got, str) and safe(got)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), min_size=1, max_size=20))
def test_csv_reads_back_what_was_written_and_runs_nothing(rows: list[list[object]]) -> None:
    cells = [[cell(v) for v in row] for row in rows]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([csv_text(c) for c in row] for row in cells)
    back = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert back == [[csv_text(c) for c in row] for row in cells]
    for row, original in zip(back, rows, strict=True):
        for text, value in zip(row, original, strict=True):
            if isinstance(value, str | list):
                assert safe(text)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), min_size=1, max_size=10))
def test_xlsx_writes_text_as_text_and_numbers_as_numbers(rows: list[list[object]]) -> None:
    cells: list[list[Cell]] = [[cell(v) for v in row] for row in rows]
    handle, name = tempfile.mkstemp(prefix="casework-cells-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        book = XlsxBook(path)
        sheet = book.add_sheet("cells", ["a", "b", "c"])
        sheet.write_rows(cells)
        book.close()
        read = openpyxl.load_workbook(path)["cells"]
        for r, row in enumerate(cells, start=2):
            for c, value in enumerate(row, start=1):
                found = read.cell(row=r, column=c)
                assert found.data_type != "f"  # never a formula
                if value is None:
                    assert found.value is None
                elif isinstance(value, bool):
                    assert found.value is value
                elif isinstance(value, int | float):
                    assert found.data_type == "n" and found.value == pytest.approx(value)
                else:
                    # openpyxl gives an empty string back as None, and leaves OOXML's
                    # escapes of control characters (`_x000D_`) as they are stored
                    text = ESCAPED.sub(lambda m: chr(int(m[1], 16)), found.value or "")
                    assert found.data_type == "s" and text == value
                    assert safe(text)
    finally:
        path.unlink(missing_ok=True)


def test_times_are_iso_8601_utc_and_days_iso_dates() -> None:
    paris = timezone(timedelta(hours=1))
    assert cell(datetime(2026, 12, 7, 10, 30, tzinfo=paris)) == "2026-12-07T09:30:00Z"
    assert cell(datetime(2026, 12, 7, 9, 30, 0, 5, tzinfo=UTC)) == "2026-12-07T09:30:00.000005Z"
    assert cell(date(2026, 12, 7)) == "2026-12-07"
    assert cell(["=a", "b"]) == "'=a; b"


class Inner(BaseModel):
    x: int
    y: str | None


class Outer(BaseModel):
    name: str
    inner: Inner
    maybe: Inner | None
    counts: dict[str, int]
    tags: list[str]


def test_columns_are_the_fields_flattened_and_chosen_by_name() -> None:
    names = [c.name for c in columns_of(Outer, {"counts": ("a", "b")})]
    assert names == [
        "name", "inner.x", "inner.y", "maybe.x", "maybe.y", "counts.a", "counts.b", "tags"
    ]  # fmt: skip
    caseload = [c.name for c in columns_of(Caseload, {"by_risk": ("low", "crisis")})]
    assert "by_risk.crisis" in caseload and "by_risk" not in caseload
    available = columns_of(Outer)
    assert [c.name for c in choose_columns(available, "tags, name")] == ["tags", "name"]
    for asked, says in (
        ("name,nope", "no column nope"),
        ("name,name", "named twice"),
        ("", "separated by commas"),
        ("name,,tags", "separated by commas"),
    ):
        with pytest.raises(InvalidQuery) as refused:
            choose_columns(available, asked)
        assert refused.value.parameter == "columns" and says in refused.value.message
