"""The KPI dashboard (issue 32): the KPI report (application/reports/kpi.py, the same use
case as `GET /api/v1/reports/kpi` and `casework report kpi`) as charts, each with its
table beside it, for the months, team and worker chosen in the form.

Who sees what is the report's: managers and auditors every team, a supervisor their
team, a caseworker their own figures (cases/access.py `Query.OUTCOMES`). A team or
worker outside that, a month that is not YYYY-MM or a span too long is shown beside
its field (403, 422); before the notary has signed a checkpoint the page says so (503).

The report's cells are by month, team, worker and subject; the charts sum them to the
team (`summed`: counts and totals added, then `cases.kpi.figure`), by month for the
figures over time and by subject (a provider's service, a goal's domain, an advocacy's
barrier) over the whole period for the others. Durations are shown in days, rates as
a percentage, ratings as their mean.

Every chart is SVG drawn here (casework/console/charts.py): no script, no inline style,
the CSS a stylesheet of this origin (`/console/dashboard/charts.css`). The page names
the signed checkpoint the figures count the events of, and how to recompute them
(`casework report rebuild`, with the report as JSON from `/console/dashboard/report.json`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from pydantic import TypeAdapter, ValidationError

from application.paging import InvalidQuery
from application.reports.kpi import KpiReport, NoCheckpoint, ScopeRefused, kpi_report
from cases.access import AccessDenied
from cases.kpi import KPIS, Cell, Kpi, Unit, figure
from casework import i18n
from casework.console.charts import Chart, Kind, Series, stylesheet, svg
from casework.console.numbers import decimal_text, whole
from casework.console.web import PREFIX, casework_of, now_of, page, signed_in
from casework.i18n import N_, _, pgettext
from events.fields import Identifier

router = APIRouter(prefix=PREFIX, include_in_schema=False)

FIELDS = ("since", "until", "team", "worker")
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_LONGEST_MONTH = 7

KPI_TITLES = (
    N_("Referral to first contact"),
    N_("Referral to assessment"),
    N_("Referral to plan approval"),
    N_("Case duration"),
    N_("Reviews done on time (not lapsed)"),
    N_("Escalations raised"),
    N_("Escalation open until resolved"),
    N_("Referrals accepted"),
    N_("Referrals completed"),
    N_("Goals met"),
    N_("Plan actions done on time"),
    N_("Advocacy concluded"),
    N_("Client feedback rating"),
)
"""The KPIs' titles (`cases.kpi.KPIS`) as catalog entries: the page shows each in its
language (`kpi_title`); tests/console/test_pages_spanish.py checks the two agree."""


def kpi_title(kpi: Kpi) -> str:
    """The KPI's title in the language of the moment."""
    return i18n.raw_gettext(KPIS[kpi].title)


# --- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The form as sent ('' for a field left blank)."""

    since: str = ""
    until: str = ""
    team: str = ""
    worker: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        q = request.query_params
        return cls(*(q.get(name, "").strip() for name in FIELDS))

    def problem(self) -> InvalidQuery | None:
        """What the form's own checks refuse (the report checks the rest)."""
        for name in ("since", "until"):
            if len(getattr(self, name)) > _LONGEST_MONTH:
                return InvalidQuery(name, _("expected a month as YYYY-MM"))
        for name in ("team", "worker"):
            value = getattr(self, name)
            if value:
                try:
                    _IDENTIFIER.validate_python(value)
                except ValidationError:
                    return InvalidQuery(
                        name, _("letters, digits and . _ @ - only (at most 100), as in a staff id")
                    )
        return None

    def query(self) -> str:
        return urlencode({name: getattr(self, name) for name in FIELDS if getattr(self, name)})


# --- what the page shows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    caption: str
    head: tuple[str, ...]
    row_headers: int
    """The first cells of each row that head it (`<th scope="row">`)."""
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    about: str
    table: Table
    chart: Chart | None

    @property
    def wide(self) -> bool:
        """A table too wide to sit beside its chart goes below it."""
        return len(self.table.head) > 5


Sums = dict[tuple[str, ...], tuple[int, int]]


def summed(cells: Iterable[Cell], key: Callable[[Cell], tuple[str, ...]]) -> Sums:
    """Cells added up by `key` (across workers, teams, months or subjects as the key
    leaves them out): (count, total) each, whose figure is `cases.kpi.figure`'s."""
    out: Sums = {}
    for cell in cells:
        k = key(cell)
        count, total = out.get(k, (0, 0))
        out[k] = (count + cell.count, total + cell.total)
    return out


def months_between(first: str, last: str) -> tuple[str, ...]:
    def index(month: str) -> int:
        return int(month[:4]) * 12 + int(month[5:7]) - 1

    return tuple(f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index(first), index(last) + 1))


@dataclass(frozen=True)
class Figures:
    """The report's cells by KPI, its months and teams (each found once)."""

    cells: dict[Kpi, list[Cell]]
    months: tuple[str, ...]
    teams: tuple[str, ...]
    """Every team of the report: a series each in every chart by team, so that a team
    keeps its colour from chart to chart."""

    @classmethod
    def of(cls, report: KpiReport) -> Figures:
        cells: dict[Kpi, list[Cell]] = {kpi: [] for kpi in Kpi}
        for cell in report.cells:
            cells[cell.kpi].append(cell)
        return cls(
            cells,
            months_between(report.first_month, report.last_month),
            tuple(sorted({cell.team for cell in report.cells})),
        )

    def summed(self, kpi: Kpi, key: Callable[[Cell], tuple[str, ...]]) -> Sums:
        return summed(self.cells[kpi], key)


def words(subject: str) -> str:
    """A subject (a domain, a barrier, an outcome …) as words in the page's language."""
    text = subject.replace("_", " ")
    return i18n.raw_gettext(text) if text else _("(none)")


@dataclass(frozen=True)
class Reading:
    """How a KPI's (count, total) reads on the page."""

    axis: str
    """The plotted figure's name and unit (the chart's axis, the table's column), marked
    with `N_` and translated where shown."""
    value: Callable[[int, int], float | None]
    decimals: int
    bounds: tuple[float, float] | None = None
    before: tuple[tuple[str, Callable[[int, int], str]], ...] = ()
    """Columns before the figure (header, text from count and total)."""
    after: tuple[tuple[str, Callable[[int, int], str]], ...] = ()


def _days(count: int, total: int) -> float | None:
    hours = figure(Unit.SECONDS, count, total)
    return None if hours is None else hours / 24


def _percent(count: int, total: int) -> float | None:
    share = figure(Unit.RATE, count, total)
    return None if share is None else share * 100


def _rating(count: int, total: int) -> float | None:
    return figure(Unit.RATING, count, total)


def _count(count: int, total: int) -> float | None:
    return figure(Unit.COUNT, count, total)


def _measured(count: int, total: int) -> str:
    return whole(count)


def _yes(count: int, total: int) -> str:
    return whole(total)


def _no(count: int, total: int) -> str:
    return whole(count - total)


DAYS = Reading(N_("Mean, days"), _days, 1, after=((N_("Measured"), _measured),))
RATINGS = Reading(
    N_("Mean rating (1–5)"), _rating, 2, (1.0, 5.0), after=((N_("Ratings"), _measured),)
)
COUNTED = Reading(N_("Count"), _count, 0)
PERCENT = Reading("%", _percent, 1, (0.0, 100.0))


def on_time(no: str) -> Reading:
    """A rate of things done on time, `no` the word for the others ("Lapsed", "Late")."""
    return Reading(
        N_("% on time"), _percent, 1, (0.0, 100.0), before=((N_("On time"), _yes), (no, _no))
    )


def _text(reading: Reading, value: float | None) -> str:
    return "—" if value is None else decimal_text(value, reading.decimals)


def by_month(
    f: Figures, kpi: Kpi, kind: Kind, reading: Reading, about: str, title: str = ""
) -> Panel:
    """A KPI by month, a series (a line, a bar) per team."""
    title = title or kpi_title(kpi)
    axis = i18n.raw_gettext(reading.axis)
    sums = f.summed(kpi, lambda c: (c.month, c.team))
    months, teams = f.months, f.teams
    rows = []
    for month, team in sorted(sums):
        count, total = sums[(month, team)]
        rows.append(
            (
                month,
                team,
                *(text(count, total) for _, text in reading.before),
                _text(reading, reading.value(count, total)),
                *(text(count, total) for _, text in reading.after),
            )
        )
    head = (_("Month"), _("Team"), *(i18n.raw_gettext(h) for h, _f in reading.before), axis,
            *(i18n.raw_gettext(h) for h, _f in reading.after))  # fmt: skip
    caption = _("%(title)s, by month and team", title=title)
    chart = Chart(
        key=kpi.value.replace("_", "-"), title=caption, kind=kind,
        labels=months, axis=axis, decimals=reading.decimals, bounds=reading.bounds,
        series=tuple(
            Series(team, tuple(_plotted(reading, sums.get((m, team))) for m in months))
            for team in teams
        ),
        language=i18n.current(),
    )  # fmt: skip
    return Panel(
        key=chart.key, title=title, about=about,
        table=Table(caption, head, 2, tuple(rows)),
        chart=chart if rows else None,
    )  # fmt: skip


def _plotted(reading: Reading, sums: tuple[int, int] | None) -> float | None:
    """The value as the table shows it (rounded alike), None where nothing was measured."""
    if sums is None:
        return None
    value = reading.value(*sums)
    return None if value is None else round(value, reading.decimals)


def referrals_by_service(f: Figures) -> Panel:
    """Referral acceptance and completion by provider/service, over the period."""
    accepted = f.summed(Kpi.REFERRAL_ACCEPTED, lambda c: (c.subject,))
    completed = f.summed(Kpi.REFERRAL_COMPLETED, lambda c: (c.subject,))
    services = sorted({s for (s,) in accepted} | {s for (s,) in completed})
    share = PERCENT
    rows = []
    for service in services:
        a = accepted.get((service,), (0, 0))
        d = completed.get((service,), (0, 0))
        rows.append(
            (service, whole(a[0]), whole(a[1]), _text(share, _percent(*a)), whole(d[0]),
             whole(d[1]), _text(share, _percent(*d)))
        )  # fmt: skip
    title = _("Referrals accepted and completed, by provider and service")
    chart = Chart(
        key="referrals-by-service", title=title, kind="hbar", labels=tuple(services),
        axis=_("% of referrals"), decimals=1, bounds=(0.0, 100.0),
        series=(
            Series(_("% accepted"), tuple(_plotted(share, accepted.get((s,))) for s in services)),
            Series(_("% completed"),
                   tuple(_plotted(share, completed.get((s,))) for s in services)),
        ),
        language=i18n.current(),
    )  # fmt: skip
    head = (_("Provider/service"), _("Replies"), _("Accepted"), _("% accepted"),
            pgettext("referrals", "Ended"), _("Completed"), _("% completed"))  # fmt: skip
    return Panel(
        key=chart.key, title=title,
        about=_("Of the providers' replies, the share that accepted the referral; of the "
                "referrals that ended (completed, declined or withdrawn), the share completed. "
                "Over the whole period, every team shown."),
        table=Table(title, head, 1, tuple(rows)), chart=chart if rows else None,
    )  # fmt: skip


def goals_by_domain(f: Figures) -> Panel:
    sums = f.summed(Kpi.GOAL_MET, lambda c: (c.subject, c.team))
    domains = sorted({d for d, _ in sums})
    teams = f.teams
    share = PERCENT
    rows = tuple(
        (words(d), t, whole(total), whole(count), _text(share, _percent(count, total)))
        for (d, t), (count, total) in sorted(sums.items())
    )
    title = _("Goals met, by domain")
    chart = Chart(
        key="goals-by-domain", title=title, kind="bar", labels=tuple(words(d) for d in domains),
        axis=_("% of goals met"), decimals=1, bounds=(0.0, 100.0),
        series=tuple(
            Series(t, tuple(_plotted(share, sums.get((d, t))) for d in domains)) for t in teams
        ),
        language=i18n.current(),
    )  # fmt: skip
    head = (_("Domain"), _("Team"), _("Met"), _("Evaluated"), _("% met"))
    return Panel(
        key=chart.key, title=title,
        about=_("Each goal evaluated in the period: the share met (partly met and not met "
                "count as not met), by the goal's domain and team."),
        table=Table(title, head, 2, rows),
        chart=chart if rows else None,
    )  # fmt: skip


def advocacy_by_barrier(f: Figures) -> Panel:
    sums = f.summed(Kpi.ADVOCACY_OUTCOME, lambda c: c.subject.partition("/")[::2])
    barriers = sorted({b for b, _ in sums})
    outcomes = sorted({o for _, o in sums})
    rows = tuple((words(b), words(o), whole(sums[(b, o)][0])) for b, o in sorted(sums))
    title = _("Advocacy concluded, by barrier and outcome")
    chart = Chart(
        key="advocacy-by-barrier", title=title, kind="stacked",
        labels=tuple(words(b) for b in barriers), axis=kpi_title(Kpi.ADVOCACY_OUTCOME),
        decimals=0,
        series=tuple(
            Series(words(o), tuple(float(sums.get((b, o), (0, 0))[0]) for b in barriers))
            for o in outcomes
        ),
        language=i18n.current(),
    )  # fmt: skip
    return Panel(
        key=chart.key, title=title,
        about=_("Each advocacy concluded in the period, by what stood in the client's way "
                "and how it ended: the systemic barriers the agency meets."),
        table=Table(title, (_("Barrier"), _("Outcome"), _("Concluded")), 2, rows),
        chart=chart if rows else None,
    )  # fmt: skip


def panels(report: KpiReport) -> list[Panel]:
    """Every panel of the dashboard, in the page's order, in the language of the moment."""
    f = Figures.of(report)
    return [
        by_month(f, Kpi.REFERRAL_TO_FIRST_CONTACT, "line", DAYS,
                 _("Days from the referral in (the case's opening) to the first contact, each "
                   "case counted in the month of that contact.")),
        by_month(f, Kpi.REFERRAL_TO_ASSESSMENT, "line", DAYS,
                 _("Days from the referral in to the first assessment.")),
        by_month(f, Kpi.REFERRAL_TO_PLAN_APPROVAL, "line", DAYS,
                 _("Days from the referral in to the supervisor's first approval of a plan.")),
        by_month(f, Kpi.CASE_DURATION, "line", DAYS,
                 _("Days from the opening (or reopening) to the closure, in the month "
                   "closed.")),
        by_month(f, Kpi.REVIEW_ON_TIME, "bar", on_time(N_("Lapsed")),
                 _("Reviews due: done before they lapsed, or lapsed."),
                 title=_("Reviews on time and lapsed")),
        by_month(f, Kpi.ESCALATION_RAISED, "bar", COUNTED,
                 _("Escalations raised (each once, whatever level it reached).")),
        by_month(f, Kpi.ESCALATION_OPEN_TIME, "line", DAYS,
                 _("Days each escalation stayed open until it was resolved, in the month "
                   "resolved.")),
        referrals_by_service(f),
        goals_by_domain(f),
        by_month(f, Kpi.ACTION_ON_TIME, "line", on_time(N_("Late")),
                 _("Plan actions completed: by their due date, or late.")),
        advocacy_by_barrier(f),
        by_month(f, Kpi.FEEDBACK_RATING, "line", RATINGS,
                 _("The clients' ratings (1 poor to 5 excellent) of their plans and "
                   "services.")),
    ]  # fmt: skip


# --- the routes ---------------------------------------------------------------------------------


def _refused(request: Request, filters: Filters, parameter: str, message: str,
             status_code: int) -> Response:  # fmt: skip
    field = parameter if parameter in FIELDS else ""
    return page(
        request, "dashboard.html", title=_("KPI dashboard"), current="dashboard",
        filters=filters, errors={field: message}, status_code=status_code,
    )  # fmt: skip


async def _report(request: Request, filters: Filters) -> KpiReport | Response:
    """The report for the form, or the page that says why not."""
    principal = await signed_in(request)
    problem = filters.problem()
    if problem is not None:
        return _refused(request, filters, problem.parameter, problem.message, 422)
    try:
        return await kpi_report(
            casework_of(request), principal.actor,
            since=filters.since or None, until=filters.until or None,
            team=filters.team or None, worker=filters.worker or None, now=now_of(request),
        )  # fmt: skip
    except ScopeRefused as exc:
        message = str(exc).removeprefix(f"{exc.parameter}: ")
        return _refused(request, filters, exc.parameter, message, 403)
    except InvalidQuery as exc:
        return _refused(request, filters, exc.parameter, exc.message, 422)
    except AccessDenied as exc:
        return page(request, "refused.html", title=_("Not for your role"), message=str(exc),
                    status_code=403)  # fmt: skip
    except NoCheckpoint as exc:
        message = str(exc)
        heading = (
            _("No signed checkpoint yet") if message.startswith("no signed checkpoint")
            else _("The figures are not ready yet")
        )  # fmt: skip
        return page(
            request, "dashboard.html", title=_("KPI dashboard"), current="dashboard",
            filters=filters, errors={}, unavailable=message, unavailable_title=heading,
            status_code=503,
        )  # fmt: skip


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    filters = Filters.of(request)
    report = await _report(request, filters)
    if isinstance(report, Response):
        return report
    shown = panels(report)
    # pygal takes 10-70 ms a chart not drawn before: in a worker thread, so that the event
    # loop goes on answering other requests meanwhile.
    drawn = await asyncio.to_thread(draw, [p.chart for p in shown if p.chart is not None])
    checkpoint: dict[str, Any] = report.checkpoint
    return page(
        request, "dashboard.html", title=_("KPI dashboard"), current="dashboard",
        filters=filters, errors={}, report=report, panels=shown, drawn=drawn,
        checkpoint=checkpoint, tree_size=whole(int(checkpoint["tree_size"])),
        query=filters.query(),
    )  # fmt: skip


def draw(charts: list[Chart]) -> dict[str, Markup]:
    """Each chart's SVG by its key."""
    return {chart.key: svg(chart) for chart in charts}


@router.get("/dashboard/report.json")
async def dashboard_report(request: Request) -> Response:
    """The report the page shows, as `casework report kpi --output` keeps it: what
    `casework report rebuild FILE` recomputes from the log."""
    filters = Filters.of(request)
    report = await _report(request, filters)
    if isinstance(report, Response):
        return report
    name = f"kpi-report-{report.first_month}-{report.last_month}.json"
    return JSONResponse(
        report.model_dump(mode="json"),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/dashboard/charts.css")
async def charts_css() -> Response:
    """The charts' CSS (pygal's, scoped) and the page's layout: a stylesheet of this
    origin, so that the CSP's `style-src 'self'` needs no inline style."""
    return Response(stylesheet(), media_type="text/css")
