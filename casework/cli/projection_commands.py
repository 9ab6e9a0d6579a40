"""The projector and the read-model queries on the command line.

`casework projector` runs the projector; `casework projections status|rebuild` look
after it (operator commands, straight to the database); `casework caseload|approvals|
referrals|reviews|escalations|outcomes|timeline|summary|overdue|transfers` query the
read models through the HTTP API as the signed-in staff member (`casework login`).
Every list but `summary` and `overdue` also writes itself to a file, whole, with
`--csv FILE` or `--xlsx FILE` (and `--columns`): casework/cli/exports.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from casework.cli.api_client import api_path, pages
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    dump,
    read_headers,
    settings_from_context,
    staff_call,
)
from casework.cli.exports import ColumnsOption, CsvOption, XlsxOption, exported
from casework.cli.output import console, emit, fail, run, stop_on_signals
from casework.i18n import _, pgettext

# The projector and `projections status|rebuild` import the projections (and asyncpg) when
# they run; the queries read the API's rows with the read models' own row models (from
# the projections that define them, as application.read_models hands them out), imported
# by each command.

app = typer.Typer()
projections_app = typer.Typer(help="Read models: status and rebuild.")


R = TypeVar("R", bound=BaseModel)


def _dsn() -> str:
    from infrastructure.database import database_url

    return database_url(settings_from_context())


def _listed(
    path: str, model: type[R], as_json: bool, headers: dict[str, str] | None = None, **params: Any
) -> list[R]:
    """Every row of one of the API's paged lists, as the signed-in staff member."""
    settings = settings_from_context()
    rows = pages(settings, path, as_json=as_json, params=params, headers=headers)
    return [model.model_validate(row) for row in rows]


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(*columns, title=title, title_justify="left")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _hours(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 24:.1f} d" if value >= 48 else f"{value:.1f} h"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _parse_day(value: str | None, option: str, as_json: bool) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        fail(
            _(
                "%(option)s: expected a date as YYYY-MM-DD, got %(value)s",
                option=option,
                value=repr(value),
            ),
            as_json,
            kind="invalid",
            field=option,
        )


# --- the projector ------------------------------------------------------------------------


@app.command("projector")
def projector_command() -> None:
    """Run the projector: follow the event log into the read models until stopped."""
    from projections.service import run_projector

    async def go() -> None:
        shutdown = stop_on_signals()
        await run_projector(settings_from_context(), _dsn(), shutdown)

    run(go())


@projections_app.command("status")
def status_command(as_json: bool = JsonOption) -> None:
    """Each projection's position, lag (events and seconds), runner and error."""
    import asyncpg

    from projections.catalog import all_projections
    from projections.status import projection_status

    async def go() -> list[Any]:
        conn = await asyncpg.connect(_dsn())
        try:
            return list(await projection_status(conn, all_projections()))
        finally:
            await conn.close()

    statuses = run(go())
    data = [{**s.model_dump(mode="json"), "state": s.state} for s in statuses]

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Projections"),
                [
                    _("projection"),
                    _("state"),
                    _("position"),
                    _("lag (events)"),
                    _("lag (s)"),
                    _("updated"),
                ],
                [
                    [
                        s.name,
                        s.state,
                        s.global_position,
                        s.lag_events,
                        f"{s.lag_seconds:.1f}",
                        _day(s.updated_at),
                    ]
                    for s in statuses
                ],
            )
        )
        for s in statuses:
            if s.last_error:
                stopped = escape(_("%(name)s stopped:", name=s.name))
                console.print(f"[bold red]{stopped}[/] {s.last_error}", highlight=False)

    emit({"projections": data}, as_json, render)
    if any(s.last_error for s in statuses):
        raise typer.Exit(1)


@projections_app.command("rebuild")
def rebuild_command(
    name: str | None = typer.Argument(None, help="The projection to rebuild (default: all)."),
    as_json: bool = JsonOption,
) -> None:
    """Rebuild from the start aside, then swap in (readers keep the old tables meanwhile)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from projections.catalog import all_projections, projection_named
    from projections.rebuild import RebuildError, rebuild

    try:
        targets = [projection_named(name)] if name else all_projections()
    except LookupError as exc:
        fail(str(exc), as_json)

    async def go() -> list[dict[str, Any]]:
        results = []
        with Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as bar:
            for projection in targets:
                task = bar.add_task(projection.name, total=None)

                def progress(done: int, total: int, task: Any = task) -> None:
                    bar.update(task, completed=done, total=total)

                result = await rebuild(_dsn(), projection, progress=progress)
                results.append(
                    {
                        "name": result.name,
                        "events": result.events,
                        "seconds": round(result.seconds, 3),
                        "global_position": result.cursor.global_position,
                    }
                )
        return results

    try:
        results = run(go())
    except RebuildError as exc:
        fail(str(exc), as_json)
    emit(
        {"rebuilt": results},
        as_json,
        lambda d: console.print(
            "\n".join(
                _(
                    "rebuilt %(name)s: %(events)s events in %(seconds)s s",
                    name=r["name"],
                    events=r["events"],
                    seconds=r["seconds"],
                )
                for r in d["rebuilt"]
            )
        ),
    )


# --- queries -------------------------------------------------------------------------------


@app.command("caseload")
def caseload_command(
    worker: str | None = typer.Option(None, "--worker", help="Only this worker's cases."),
    team: str | None = typer.Option(None, "--team", help="Only this team's cases."),
    by_team: bool = typer.Option(False, "--by-team", help="One line per team."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Open cases per worker (or team): by risk, overdue reviews, days since contact."""
    filters: dict[str, Any] = {
        "worker": worker,
        "team": team,
        "by": "team" if by_team else "worker",
    }
    if exported("/api/v1/caseload", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params=filters):  # fmt: skip
        return
    from projections.case_summary import Caseload

    rows = _listed("/api/v1/caseload", Caseload, as_json, **filters)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Caseload"),
                [
                    _("team"),
                    _("worker"),
                    pgettext("column", "open"),
                    _("crisis"),
                    _("high"),
                    _("medium"),
                    _("low"),
                    _("unassessed"),
                    _("overdue reviews"),
                    _("max days since contact"),
                    _("never contacted"),
                ],
                [
                    [
                        r.team,
                        r.worker or _("(%(count)s workers)", count=r.workers),
                        r.open_cases,
                        r.by_risk["crisis"],
                        r.by_risk["high"],
                        r.by_risk["medium"],
                        r.by_risk["low"],
                        r.by_risk["unassessed"],
                        r.overdue_reviews,
                        r.max_days_since_contact,
                        r.never_contacted,
                    ]
                    for r in rows
                ],
            )
        )

    emit({"caseload": dump(rows)}, as_json, render)


@app.command("approvals")
def approvals_command(
    kind: str | None = typer.Option(None, "--kind", help="plan or closure."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Approvals waiting for a decision, oldest first."""
    if exported("/api/v1/approvals", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params={"kind": kind}):  # fmt: skip
        return
    from projections.approvals import PendingApproval

    rows = _listed("/api/v1/approvals", PendingApproval, as_json, kind=kind)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Pending approvals"),
                [
                    _("requested"),
                    _("waiting"),
                    _("case"),
                    _("client ref"),
                    _("kind"),
                    _("what"),
                    _("requested by"),
                    _("team"),
                    _("you may decide"),
                ],
                [
                    [
                        _day(r.requested_at),
                        _hours(r.waiting_hours),
                        r.case_id,
                        r.client_ref,
                        r.kind,
                        f"{r.plan_id} v{r.plan_version}" if r.kind == "plan" else r.closure_reason,
                        r.requested_by,
                        r.team,
                        _("yes") if r.can_decide else "",
                    ]
                    for r in rows
                ],
            )
        )

    emit({"approvals": dump(rows)}, as_json, render)


@app.command("referrals")
def referrals_command(
    provider: str | None = typer.Option(None, "--provider"),
    status: str | None = typer.Option(None, "--status"),
    open_only: bool = typer.Option(False, "--open", help="Leave out declined and completed."),
    by_provider: bool = typer.Option(
        False, "--by-provider", help="With --csv or --xlsx: the counts by provider and status."
    ),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Referrals by provider and status, the longest waiting for a reply first."""
    params: dict[str, Any] = {"provider": provider}
    path = "/api/v1/referrals/by-provider"
    if not by_provider:
        path = "/api/v1/referrals"
        params = {"provider": provider, "status": status, "open": open_only or None}
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json, params=params):
        return
    from projections.referrals import Referral, ReferralCount

    rows = _listed(
        "/api/v1/referrals",
        Referral,
        as_json,
        provider=provider,
        status=status,
        open=open_only or None,
    )
    counts = _listed("/api/v1/referrals/by-provider", ReferralCount, as_json, provider=provider)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Referrals by provider"),
                [_("provider"), _("status"), _("referrals"), _("longest wait")],
                [
                    [c.provider_id, c.status, c.referrals, _hours(c.oldest_waiting_hours)]
                    for c in counts
                ],
            )
        )
        console.print(
            _table(
                _("Referrals"),
                [
                    _("case"),
                    _("referral"),
                    _("provider"),
                    _("service"),
                    _("status"),
                    _("made"),
                    _("waiting"),
                    _("worker"),
                ],
                [
                    [
                        r.case_id,
                        r.referral_id,
                        r.provider_id,
                        r.service_id,
                        r.status,
                        _day(r.made_at),
                        _hours(r.waiting_hours),
                        r.worker,
                    ]
                    for r in rows
                ],
            )
        )

    emit({"by_provider": dump(counts), "referrals": dump(rows)}, as_json, render)


@app.command("reviews")
def reviews_command(
    within: int = typer.Option(14, "--within", help="Also reviews due within this many days."),
    overdue: bool = typer.Option(False, "--overdue", help="Only overdue reviews."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Reviews overdue and due soon, the most overdue first."""
    filters: dict[str, Any] = {"within": within, "overdue": overdue or None}
    if exported("/api/v1/reviews", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params=filters):  # fmt: skip
        return
    from projections.reviews import ReviewDue

    rows = _listed("/api/v1/reviews", ReviewDue, as_json, **filters)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Reviews due"),
                [
                    _("due"),
                    _("days overdue"),
                    _("status"),
                    _("case"),
                    _("client ref"),
                    _("risk"),
                    _("worker"),
                    _("team"),
                ],
                [
                    [
                        r.due_on,
                        r.days_overdue,
                        r.status,
                        r.case_id,
                        r.client_ref,
                        r.risk_level,
                        r.worker,
                        r.team,
                    ]
                    for r in rows
                ],
            )
        )

    emit({"reviews": dump(rows)}, as_json, render)


@app.command("escalations")
def escalations_command(
    level: int | None = typer.Option(None, "--level"),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Open escalations by level, the highest and oldest first."""
    if exported("/api/v1/escalations", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params={"level": level}):  # fmt: skip
        return
    from projections.reviews import OpenEscalation

    rows = _listed("/api/v1/escalations", OpenEscalation, as_json, level=level)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Open escalations"),
                [
                    _("level"),
                    _("to"),
                    _("raised"),
                    _("open for"),
                    _("case"),
                    _("reason"),
                    _("worker"),
                    _("team"),
                ],
                [
                    [
                        r.level,
                        r.escalated_to,
                        _day(r.raised_at),
                        _hours(r.open_hours),
                        r.case_id,
                        r.reason,
                        r.worker,
                        r.team,
                    ]
                    for r in rows
                ],
            )
        )

    emit({"escalations": dump(rows)}, as_json, render)


def render_advocacy_and_feedback(d: dict[str, Any]) -> None:
    """Advocacy by barrier and outcome per team, and feedback by provider (issue 16)."""
    console.print(
        _table(
            _("Advocacy by barrier"),
            [_("barrier"), _("team"), _("opened"), pgettext("column", "open"),
             pgettext("column", "resolved"), _("partly"), pgettext("column", "not resolved"),
             pgettext("column", "withdrawn"), _("appealed"), _("won on appeal")],
            [
                [a["barrier"], a["team"], a["opened"], a["still_open"], a["resolved"],
                 a["partly_resolved"], a["not_resolved"], a["withdrawn"], a["appealed"],
                 a["won_on_appeal"]]
                for a in d.get("advocacy", [])
            ],
        )
    )  # fmt: skip
    console.print(
        _table(
            _("Client feedback by provider (lowest rated first)"),
            [_("provider"), _("service"), _("ratings"), _("average"), _("poor (1-2)")],
            [
                [f["provider_id"], f["service_id"], f["ratings"], f["avg_rating"], f["poor"]]
                for f in d.get("feedback", [])
            ],
        )
    )
    plans = d.get("plan_feedback") or {}
    if plans.get("ratings"):
        console.print(
            _(
                "Plans rated by clients: %(ratings)s (average %(average)s); agreed %(agreed)s, "
                "did not agree %(disagreed)s",
                ratings=plans["ratings"],
                average=plans["avg_rating"],
                agreed=plans["agrees"],
                disagreed=plans["disagrees"],
            )
        )


@app.command("outcomes")
def outcomes_command(
    since: str | None = typer.Option(None, "--since", help="From this date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Before this date (YYYY-MM-DD)."),
    section: str | None = typer.Option(
        None,
        "--section",
        help="With --csv or --xlsx: goals, closures, plan-approval, advocacy, feedback or "
        "plan-feedback (a CSV file holds one; an Excel workbook a sheet for each when left "
        "out).",
    ),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Goals met / not met by domain and team, closures by reason, time to plan approval,
    advocacy by barrier and outcome per team, the client's feedback by provider."""
    lo, hi = _parse_day(since, "--since", as_json), _parse_day(until, "--until", as_json)
    period = {"since": lo and lo.date().isoformat(), "until": hi and hi.date().isoformat()}
    if exported("/api/v1/outcomes", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params={**period, "section": section}):  # fmt: skip
        return
    if section is not None:
        fail("--section: only with --csv or --xlsx", as_json, kind="invalid", field="--section")
    data = staff_call("GET", "/api/v1/outcomes", as_json=as_json, params=period)

    def render(d: dict[str, Any]) -> None:
        console.print(
            _table(
                _("Goals evaluated"),
                [_("domain"), _("team"), _("met"), _("partly met"), _("not met")],
                [
                    [g["domain"], g["team"], g["met"], g["partly_met"], g["not_met"]]
                    for g in d["goals"]
                ],
            )
        )
        console.print(
            _table(
                _("Closures"), [_("reason"), _("cases")], [[k, v] for k, v in d["closures"].items()]
            )
        )
        approval = d["plan_approval"]
        console.print(
            _(
                "Plans approved: %(approved)s; average time from submission to approval: "
                "%(average)s",
                approved=approval["approved"],
                average=_hours(approval["avg_hours_to_approval"]) or _("n/a"),
            )
        )
        render_advocacy_and_feedback(d)

    emit(data, as_json, render)


@app.command("timeline")
def timeline_command(
    case_id: str = typer.Argument(..., help="The case id."),
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """What happened on a case and who did it (the read is recorded in the access log)."""
    path, headers = (
        api_path("/api/v1/cases/{}/timeline", case_id),
        read_headers(reason, break_glass),
    )
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json, headers=headers):
        return
    from projections.timeline import TimelineEntry

    rows = _listed(path, TimelineEntry, as_json, headers=headers)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Case %(case)s", case=case_id),
                [_("#"), _("when"), _("who"), _("role"), _("what")],
                [
                    [r.stream_version, _day(r.occurred_at), r.actor_id, r.actor_role, r.description]
                    for r in rows
                ],
            )
        )

    emit({"case_id": case_id, "timeline": dump(rows)}, as_json, render)


@app.command("summary")
def summary_command(
    case_id: str = typer.Argument(..., help="The case id."),
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """Where a case stands: status, worker, risk, plan, referrals, reviews, escalations.

    The read is recorded in the access log."""
    summary = staff_call(
        "GET",
        api_path("/api/v1/cases/{}/summary", case_id),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
    )

    def render(_data: Any) -> None:
        table = Table(
            "", "", show_header=False, title=_("Case %(case)s", case=case_id), title_justify="left"
        )
        for key, value in summary.items():
            table.add_row(key.replace("_", " "), "" if value is None else str(value))
        console.print(table)

    emit(summary, as_json, render)


@app.command("overdue")
def overdue_command(as_json: bool = JsonOption) -> None:
    """Overdue and lapsed reviews, and open escalations: the oldest first."""
    from projections.reviews import OpenEscalation, ReviewDue

    overdue = _listed("/api/v1/reviews", ReviewDue, as_json, overdue=True)
    open_escalations = _listed("/api/v1/escalations", OpenEscalation, as_json)
    reviews = sorted(overdue, key=lambda r: r.due_at)
    escalations = sorted(open_escalations, key=lambda e: e.raised_at)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Overdue reviews"),
                [
                    _("due"),
                    _("status"),
                    _("grace until"),
                    _("case"),
                    _("worker"),
                    _("team"),
                    _("risk"),
                ],
                [
                    [
                        f"{r.due_at:%Y-%m-%d %H:%M:%S}",
                        r.status,
                        r.grace_until,
                        r.case_id,
                        r.worker,
                        r.team,
                        r.risk_level,
                    ]
                    for r in reviews
                ],
            )
        )
        console.print(
            _table(
                _("Open escalations"),
                [_("raised"), _("level"), _("to"), _("case"), _("reason"), _("worker"), _("team")],
                [
                    [
                        f"{e.raised_at:%Y-%m-%d %H:%M:%S}",
                        e.level,
                        e.escalated_to,
                        e.case_id,
                        e.reason,
                        e.worker,
                        e.team,
                    ]
                    for e in escalations
                ],
            )
        )

    emit({"reviews": dump(reviews), "escalations": dump(escalations)}, as_json, render)


@app.command("transfers")
def transfers_command(
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Transfers waiting for your answer, oldest first (answer with `case transfer-reply`)."""
    if exported("/api/v1/transfers", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json):
        return
    from projections.transfers import PendingTransfer

    rows = _listed("/api/v1/transfers", PendingTransfer, as_json)

    def render(_data: Any) -> None:
        console.print(
            _table(
                _("Transfers waiting for you"),
                [
                    _("requested"),
                    _("case"),
                    _("client ref"),
                    _("from"),
                    _("to"),
                    _("requested by"),
                    _("reason"),
                ],
                [
                    [
                        _day(r.requested_at),
                        r.case_id,
                        r.client_ref,
                        f"{r.from_worker} ({r.from_team})",
                        f"{r.to_worker or _('any caseworker')} ({r.to_team})",
                        r.requested_by,
                        r.reason,
                    ]
                    for r in rows
                ],
            )
        )

    emit({"transfers": dump(rows)}, as_json, render)
