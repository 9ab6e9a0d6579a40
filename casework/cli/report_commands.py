"""Reports on the command line: `casework report kpi` asks the API for the KPI report as
the signed-in staff member (and can keep it as a file); `casework report rebuild FILE`
recomputes a kept report from the log as of its signed checkpoint (an operator
command, straight to the database, the checkpoint directory and the trusted keys).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from casework.cli.context import JsonOption, settings_from_context, staff_call
from casework.cli.exports import ColumnsOption, CsvOption, XlsxOption, exported
from casework.cli.output import console, emit, fail, run
from casework.i18n import _

report_app = typer.Typer(help="Reports: KPI figures, and recomputing a report from the log.")


def figure_text(figure: dict[str, Any]) -> str:
    """A figure as people read it: hours or days, a percentage, a mean rating, a count."""
    value = figure["value"]
    if value is None:
        return ""
    unit = figure["unit"]
    if unit == "seconds":  # the figure is in hours
        if value >= 48:
            return f"{value / 24:.1f} d"
        return f"{value:.1f} h" if value >= 1 else f"{value * 60:.0f} min"
    if unit == "rate":
        return f"{value * 100:.0f} %"
    if unit == "rating":
        return f"{value:.2f}"
    return f"{value:.0f}"


def render_report(d: dict[str, Any]) -> None:
    checkpoint = d["checkpoint"]
    table = Table(
        _("KPI"), _("month"), _("team"), _("worker"), _("subject"), _("n"), _("figure"),
        title=_report_title(d),
        title_justify="left",
    )  # fmt: skip
    for f in d["figures"]:
        table.add_row(
            f["title"], f["month"], f["team"], f["worker"], f["subject"], str(f["count"]),
            figure_text(f),
        )  # fmt: skip
    console.print(table)
    console.print(
        _(
            "computed from the log as of checkpoint #%(sequence)s (tree size %(size)s, root "
            "%(root)s)",
            sequence=checkpoint["sequence"],
            size=checkpoint["tree_size"],
            root=checkpoint["root_hash"],
        )
    )


def _report_title(d: dict[str, Any]) -> str:
    """The report's title: its months, and the team or worker it is limited to."""
    months = {"first": d["first_month"], "last": d["last_month"]}
    team, worker = d.get("team"), d.get("worker")
    if team and worker:
        return _(
            "KPI report %(first)s to %(last)s, team %(team)s, worker %(worker)s",
            **months,
            team=team,
            worker=worker,
        )
    if team:
        return _("KPI report %(first)s to %(last)s, team %(team)s", **months, team=team)
    if worker:
        return _("KPI report %(first)s to %(last)s, worker %(worker)s", **months, worker=worker)
    return _("KPI report %(first)s to %(last)s", **months)


@report_app.command("kpi")
def kpi_command(
    since: str | None = typer.Option(None, "--since", help="From this month (YYYY-MM)."),
    until: str | None = typer.Option(None, "--until", help="To this month (YYYY-MM)."),
    team: str | None = typer.Option(None, "--team", help="Only this team's figures."),
    worker: str | None = typer.Option(None, "--worker", help="Only this worker's figures."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Keep the report (JSON) in this file, for `report rebuild`."
    ),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """KPI figures by month, team, worker and subject, with the signed checkpoint of the
    log they were computed from (`--csv`/`--xlsx`: the figures as a file, the checkpoint
    in the workbook's About sheet)."""
    params = {"since": since, "until": until, "team": team, "worker": worker}
    if output is not None and (csv is not None or xlsx is not None):
        fail(_("--output: not with --csv or --xlsx"), as_json, kind="invalid", field="--output")
    path = "/api/v1/reports/kpi"
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json, params=params):
        return
    data = staff_call("GET", path, as_json=as_json, params=params)
    if output is not None:
        try:
            output.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(
                _(
                    "%(option)s: cannot write %(path)s: %(reason)s",
                    option="--output",
                    path=output,
                    reason=exc.strerror,
                ),
                as_json,
                field="--output",
            )
    emit(data, as_json, render_report)
    if output is not None and not as_json:
        console.print(_("kept in %(path)s", path=output))


@report_app.command("rebuild")
def rebuild_command(
    report: Path = typer.Argument(..., help="A report kept by `casework report kpi --output`."),
    as_of: int | None = typer.Option(
        None, "--as-of", min=1, help="The checkpoint's sequence number (default: the report's)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Recompute a report from the log as of a signed checkpoint and show whether the
    figures match (exit 1 when they do not, or the log does not reproduce the checkpoint)."""
    import asyncpg
    from pydantic import ValidationError

    from application.reports.kpi import KpiReport
    from application.reports.rebuild import RebuildRefused, lines, rebuild_report
    from events.checkpoints import CheckpointError
    from infrastructure.database import NOT_ANSWERING, database_not_answering, database_url

    settings = settings_from_context()
    try:
        kept = KpiReport.model_validate_json(report.read_bytes())
    except OSError as exc:
        fail(
            _("REPORT: cannot read %(path)s: %(reason)s", path=report, reason=exc.strerror),
            as_json,
            field="REPORT",
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "(report)"
        fail(
            _(
                "REPORT: %(path)s is not a KPI report (%(where)s: %(problem)s)",
                path=report,
                where=where,
                problem=problem["msg"],
            ),
            as_json,
            field="REPORT",
        )

    async def go() -> Any:
        dsn = database_url(settings)
        try:
            conn = await asyncpg.connect(dsn)
        except NOT_ANSWERING as exc:
            raise database_not_answering(dsn, exc) from exc
        try:
            return await rebuild_report(conn, settings, kept, as_of=as_of)
        finally:
            await conn.close()

    try:
        result = run(go())
    except (RebuildRefused, CheckpointError) as exc:
        fail(str(exc), as_json, field="--as-of" if str(exc).startswith("--as-of") else "REPORT")
    emit(result.to_json(), as_json, lambda _data: console.print("\n".join(lines(result, kept))))
    if not result.matches:
        raise typer.Exit(1)
