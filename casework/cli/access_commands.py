"""`casework access-log CASE`: who read a case, when, through which view and why.

For the roles the authorisation policy lets read the access log (auditors and
managers); newest entries first. Refused attempts and emergency ("break the glass")
reads are listed too. `casework break-glass-log` lists every emergency access, and
`casework export-log` every export of a list as a file (who, which list, format,
filters, rows, how it ended). Each writes itself to a file with `--csv FILE` or
`--xlsx FILE` (casework/cli/exports.py).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from casework.cli.api_client import api_path
from casework.cli.context import JsonOption
from casework.cli.exports import ColumnsOption, CsvOption, XlsxOption, exported
from casework.cli.output import console, emit
from casework.cli.projection_commands import _listed
from casework.i18n import _

app = typer.Typer()


@app.command("access-log")
def access_log_command(
    case_id: str = typer.Argument(..., help="The case id."),
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many entries."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Every read of the case's details or history, newest first (auditors, managers)."""
    path = api_path("/api/v1/cases/{}/access-log", case_id)
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json):
        return
    from application.access_log import AccessEntry

    found = _listed(path, AccessEntry, as_json)[:limit]
    data = {"case_id": case_id, "entries": [e.model_dump(mode="json") for e in found]}
    render_entries(_("Access log of case %(case)s", case=case_id), found, data, as_json)


def render_entries(
    title: str, found: list[Any], data: Any, as_json: bool, *, with_case: bool = False
) -> None:
    """Access-log entries as a table (or `data` as JSON); `with_case`: a column for it."""

    def render(_data: Any) -> None:
        columns = [_("#"), _("when"), _("who"), _("role"), _("team"), _("view"), _("outcome")]
        columns.append(_("reason"))
        if with_case:
            columns.insert(5, _("case"))
        table = Table(*columns, title=title, title_justify="left")
        for e in found:
            outcome = _("allowed") if e.allowed else _("refused")
            if e.break_glass:
                outcome += " [bold red]" + escape(_("(break glass)")) + "[/]"
            cells = [
                str(e.access_id),
                f"{e.accessed_at:%Y-%m-%d %H:%M:%S}",
                e.staff_id,
                e.role,
                e.team or "",
                e.view,
                outcome,
                e.reason or "",
            ]
            if with_case:
                cells.insert(5, e.case_id or "")
            table.add_row(*cells)
        console.print(table)

    emit(data, as_json, render)


@app.command("break-glass-log")
def break_glass_log_command(
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many entries."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Every emergency ("break the glass") access to a case, newest first (auditors,
    managers)."""
    path = "/api/v1/access-log/break-glass"
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json):
        return
    from application.access_log import AccessEntry

    found = _listed(path, AccessEntry, as_json)[:limit]
    data = {"entries": [e.model_dump(mode="json") for e in found]}
    render_entries(_("Emergency access"), found, data, as_json, with_case=True)


@app.command("export-log")
def export_log_command(
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many entries."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Every export of a list as a file, newest first: who, which list and format, the
    filters, how many rows and how it ended (auditors, managers)."""
    path = "/api/v1/access-log/exports"
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json):
        return
    from application.access_log import ExportEntry

    found = _listed(path, ExportEntry, as_json)[:limit]

    def render(_data: Any) -> None:
        table = Table(
            _("#"), _("when"), _("who"), _("role"), _("list"), _("format"), _("filters"),
            _("rows"), _("ended"),
            title=_("Exports"), title_justify="left",
        )  # fmt: skip
        for e in found:
            table.add_row(
                str(e.access_id),
                f"{e.accessed_at:%Y-%m-%d %H:%M:%S}",
                e.staff_id,
                e.role,
                e.list_name,
                e.format,
                ", ".join(f"{k}={v}" for k, v in e.filters.items()),
                "" if e.row_count is None else str(e.row_count),
                e.outcome or ("refused" if not e.allowed else "not said"),
            )
        console.print(table)

    emit({"exports": [e.model_dump(mode="json") for e in found]}, as_json, render)
