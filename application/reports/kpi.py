"""The KPI report: figures by KPI, month, team, worker and subject, computed from the
events a signed checkpoint covers, so anyone can recompute them later
(application/reports/rebuild.py, `casework report rebuild`).

`kpi_report` takes the newest trusted checkpoint (the notary's, from the checkpoint
directory, its signature checked with the trusted keys) whose events the `kpi` read
model has applied, finds the last of those events in the log's order (the
checkpoint's `tree_size`-th), and sums the read model's measures made by the events up
to it (projections/kpi.py `cells`). The report carries the whole signed checkpoint.

Who sees what: the role's relation for outcomes (cases/access.py `Query.OUTCOMES`).
Every case's measures for `any` (managers, auditors); a supervisor's team's (the team
that held the case when the measured thing happened); a caseworker's own. A team or
worker outside that is refused naming the parameter.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, Field, computed_field

from application.bootstrap import Casework
from application.notary import checkpoint_sink, trusted_keys
from application.paging import InvalidQuery
from cases.access import AccessDenied, Query, query_relation
from cases.actors import Actor
from cases.kpi import KPIS, RULES_VERSION, Cell, Kpi, Selection, Unit, figure, totals
from events.checkpoints import CheckpointError, SignedCheckpoint
from infrastructure.logs import get_logger
from infrastructure.settings import Settings
from projections.kpi import LogPlace, cells
from projections.runner import read_checkpoint

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
READ_MODEL = "kpi"
CATCH_UP_WAIT_SECONDS = 10.0
log = get_logger(component="reports")


class NoCheckpoint(RuntimeError):
    """No trusted signed checkpoint to compute a report from (yet)."""


class KpiFigure(BaseModel):
    """One figure as people read it, from its cell."""

    kpi: Kpi
    title: str
    unit: Unit
    month: str
    team: str
    worker: str
    subject: str
    count: int
    total: int
    value: float | None = Field(
        description="Hours for a duration (mean), a share 0–1 for a rate, the mean rating, "
        "or the count."
    )


class KpiReport(BaseModel):
    """A KPI report and the signed checkpoint of the log it was computed from."""

    report: Literal["kpi"] = "kpi"
    rules: int = Field(
        default=RULES_VERSION,
        description="The version of the KPI rules (cases/kpi.py) the figures were computed with.",
    )
    first_month: str
    last_month: str
    team: str | None = None
    worker: str | None = None
    checkpoint: dict[str, Any] = Field(
        description="The signed checkpoint (events/checkpoints.py `SignedCheckpoint`): the "
        "figures count exactly the events of the log's first `tree_size`."
    )
    computed_at: datetime
    computed_by: str
    cells: list[Cell]

    def selection(self) -> Selection:
        return Selection(self.first_month, self.last_month, self.team, self.worker)

    def signed_checkpoint(self) -> SignedCheckpoint:
        return SignedCheckpoint.from_json(self.checkpoint)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def figures(self) -> list[KpiFigure]:
        """Each cell as people read it."""
        return [figure_of(c) for c in self.cells]


def headline(report: KpiReport) -> list[KpiFigure]:
    """One figure per KPI over the whole report (every month, team, worker, subject)."""
    found = totals(report.cells)
    return [
        figure_of(Cell(kpi=kpi, month=report.last_month, team="", worker="", subject="",
                       count=count, total=total))
        for kpi in Kpi
        if kpi in found
        for count, total in (found[kpi],)
    ]  # fmt: skip


def figure_of(cell: Cell) -> KpiFigure:
    info = KPIS[cell.kpi]
    return KpiFigure(
        kpi=cell.kpi, title=info.title, unit=info.unit, month=cell.month, team=cell.team,
        worker=cell.worker, subject=cell.subject, count=cell.count, total=cell.total,
        value=figure(info.unit, cell.count, cell.total),
    )  # fmt: skip


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_of_index(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def selection_for(
    actor: Actor,
    settings: Settings,
    *,
    since: str | None,
    until: str | None,
    team: str | None,
    worker: str | None,
    default_until: datetime,
) -> Selection:
    """The report's selection for the actor, or InvalidQuery / AccessDenied naming the
    parameter. Months are YYYY-MM; without `until` the checkpoint's month, without
    `since` the eleven months before `until`."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and not MONTH.match(value):
            raise InvalidQuery(name, f"expected a month as YYYY-MM, got {value!r}")
    last = until or f"{default_until.year:04d}-{default_until.month:02d}"
    first = since or _month_of_index(_month_index(last) - 11)
    if _month_index(last) < _month_index(first):
        raise InvalidQuery("until", f"{last} is before since ({first})")
    span = _month_index(last) - _month_index(first) + 1
    if span > settings.report_max_months:
        raise InvalidQuery(
            "until",
            f"the report spans {span} months; at most {settings.report_max_months} "
            "(CASEWORK_REPORT_MAX_MONTHS)",
        )
    relation = query_relation(actor, Query.OUTCOMES)
    if relation == "team":
        if team is not None and team != actor.team:
            raise ScopeRefused("team", f"{actor.staff_id} may see team {actor.team}'s figures only")
        team = actor.team
    elif relation != "any":
        if worker is not None and worker != actor.staff_id:
            raise ScopeRefused("worker", f"{actor.staff_id} may see their own figures only")
        worker = actor.staff_id
    return Selection(first, last, team, worker)


class ScopeRefused(AccessDenied):
    """A report for a team or worker the reader may not see; names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def trusted_checkpoints(settings: Settings) -> list[SignedCheckpoint]:
    """Every checkpoint in the checkpoint directory whose signature a trusted key checks,
    oldest first (a malformed or untrusted one is left out)."""
    sink = checkpoint_sink(settings)
    keys = trusted_keys(settings)
    found: list[SignedCheckpoint] = []
    for signed in sink.all():
        try:
            keys.check(signed)
        except CheckpointError:
            continue
        found.append(signed)
    return found


def latest_trusted_checkpoint(settings: Settings) -> SignedCheckpoint | None:
    """The newest checkpoint, if a trusted key signed it."""
    try:
        signed = checkpoint_sink(settings).latest()
        if signed is None:
            return None
        trusted_keys(settings).check(signed)
    except (CheckpointError, OSError):
        return None
    return signed


_PLACES: OrderedDict[tuple[str, int, bytes], LogPlace] = OrderedDict()
PLACES_KEPT = 64
"""Checkpoints whose last event's place is remembered (the newest are asked for)."""


async def place_of(conn: asyncpg.Connection | asyncpg.Pool, signed: SignedCheckpoint) -> LogPlace:
    """The last event a checkpoint covers (the `tree_size`-th in the log's order)."""
    key = (signed.checkpoint.log_id, signed.tree_size, signed.root_hash)
    if key in _PLACES:
        _PLACES.move_to_end(key)
        return _PLACES[key]
    if signed.tree_size == 0:
        return LogPlace(0, 0)
    row = await conn.fetchrow(
        """SELECT transaction_id::text::bigint AS tx, global_position FROM events
            ORDER BY transaction_id, global_position OFFSET $1 LIMIT 1""",
        signed.tree_size - 1,
    )
    if row is None:
        raise NoCheckpoint(
            f"checkpoint #{signed.sequence} covers {signed.tree_size} events; the log has fewer"
        )
    place = LogPlace(row["tx"], row["global_position"])
    _PLACES[key] = place
    while len(_PLACES) > PLACES_KEPT:
        _PLACES.popitem(last=False)
    return place


async def _covered(app: Casework, place: LogPlace) -> bool:
    async with app.pool.acquire() as conn:
        applied = await read_checkpoint(conn, READ_MODEL)
    return (applied.transaction_id, applied.global_position) >= (
        place.transaction_id,
        place.global_position,
    )


async def report_checkpoint(app: Casework) -> tuple[SignedCheckpoint, LogPlace]:
    """The newest trusted checkpoint the read model has caught up with (waiting a little
    for it), and the place in the log of its last event."""
    signed = latest_trusted_checkpoint(app.settings)
    if signed is None:
        raise NoCheckpoint(
            "no signed checkpoint yet: the notary (`casework notary`) has published none to "
            "CASEWORK_CHECKPOINT_DIR, or no key in CASEWORK_NOTARY_PUBLIC_KEYS signed it"
        )
    place = await place_of(app.pool, signed)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_WAIT_SECONDS
    while not await _covered(app, place):
        if loop.time() > deadline:
            log.warning(
                "kpi read model behind the checkpoint", sequence=signed.sequence,
                tree_size=signed.tree_size, waited_s=CATCH_UP_WAIT_SECONDS,
            )  # fmt: skip
            raise NoCheckpoint(
                f"the kpi read model has not yet applied the events of checkpoint "
                f"#{signed.sequence}: is the projector running?"
            )
        await asyncio.sleep(0.2)
    return signed, place


async def kpi_report(
    app: Casework,
    actor: Actor,
    *,
    since: str | None = None,
    until: str | None = None,
    team: str | None = None,
    worker: str | None = None,
    now: datetime | None = None,
) -> KpiReport:
    """The KPI report the actor may see, as of the newest signed checkpoint (`now`: when
    it was computed, the entry point's clock)."""
    query_relation(actor, Query.OUTCOMES)
    signed, place = await report_checkpoint(app)
    selection = selection_for(
        actor, app.settings, since=since, until=until, team=team, worker=worker,
        default_until=signed.checkpoint.timestamp,
    )  # fmt: skip
    found = await cells(app.pool, place, selection)
    return KpiReport(
        first_month=selection.first_month,
        last_month=selection.last_month,
        team=selection.team,
        worker=selection.worker,
        checkpoint=signed.to_json(),
        computed_at=now or datetime.now(UTC),
        computed_by=actor.staff_id,
        cells=found,
    )
