"""`--csv FILE` and `--xlsx FILE` on every list command: the whole list as a file.

The command asks the API for the same list with the same filters and `format=csv` (or
`xlsx`), and `--columns` when given (casework/api/exports.py), and writes the answer to
FILE as it arrives (`-`: standard output, CSV only, and not with `--json`, whose answer
standard output carries), then says on stderr `wrote N bytes to FILE`. With `--json` it
also prints `{"ok": true, "format", "out", "bytes"}`. Both options at once write both
files.
"""

from __future__ import annotations

from typing import Any

import typer

from casework.cli.api_client import STDOUT, download
from casework.cli.context import settings_from_context
from casework.cli.output import emit, err_console, fail
from casework.i18n import _

CsvOption = typer.Option(
    None,
    "--csv",
    metavar="FILE",
    help="Write the whole list (every page, these filters) to FILE as CSV ('-': stdout).",
)
XlsxOption = typer.Option(
    None, "--xlsx", metavar="FILE", help="Write the whole list to FILE as an Excel workbook."
)
ColumnsOption = typer.Option(
    None,
    "--columns",
    metavar="A,B,…",
    help="With --csv or --xlsx: only these columns, in this order (nested ones dotted: "
    "by_risk.crisis).",
)


def exported(
    path: str,
    *,
    csv: str | None,
    xlsx: str | None,
    columns: str | None,
    as_json: bool,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> bool:
    """Write the list at `path` to the files asked for; False when none was (the command
    then shows the list as usual)."""
    if csv is None and xlsx is None:
        if columns is not None:
            fail(
                _("--columns: only with --csv or --xlsx"),
                as_json,
                kind="invalid",
                field="--columns",
            )
        return False
    if csv == STDOUT and as_json:
        fail(
            _("--csv: a file name with --json (standard output carries the JSON answer)"),
            as_json,
            kind="invalid",
            field="--csv",
        )
    if xlsx == STDOUT:
        fail(
            _("--xlsx: a file name (an Excel workbook is not written to the terminal)"),
            as_json,
            kind="invalid",
            field="--xlsx",
        )
    settings = settings_from_context()
    for format_, out in (("csv", csv), ("xlsx", xlsx)):
        if out is None:
            continue
        size = download(
            settings,
            path,
            out,
            as_json=as_json,
            params={**(params or {}), "format": format_, "columns": columns},
            headers=headers,
            option=f"--{format_}",
        )
        where = "stdout" if out == STDOUT else out
        err_console.print(
            _("wrote %(size)s bytes to %(where)s", size=size, where=where),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if as_json and out != STDOUT:
            emit({"ok": True, "format": format_, "out": out, "bytes": size}, as_json)
    return True
