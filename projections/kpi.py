"""Read model `kpi`: every measure of every case (cases/kpi.py) with its event's place in
the log (tables created by projections/migrations/0008_kpi.sql):

* `kpi_cases` — each case's `CaseFacts` (what its later measures need), as JSON;
* `kpi_measures` — one row per measure: the KPI, the team and worker that held the
  case, the day, the subject, the value, and the transaction id and global position of
  the event that made it (ordinal: its place among that event's measures).

No personal data: the facts and measures are times, teams, workers, providers,
domains and reasons. A report counts the measures of the events up to a place in the
log (`cells`), so it can say exactly which signed checkpoint it was computed from
(application/reports/kpi.py) and be recomputed from the log up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from cases.kpi import MEASURED, CaseFacts, Cell, Kpi, Selection, step
from events.envelope import RecordedEvent
from events.registry import event_type_of
from projections.base import Handler, Projection, case_id_of, decode, ignoring_the_rest

NAME = "kpi"
TABLES = ("kpi_cases", "kpi_measures")
MIGRATIONS = ("0008_kpi.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


async def measured(conn: asyncpg.Connection, envelope: RecordedEvent) -> None:
    """Fold the event into its case's facts and keep the measures it makes."""
    case_id = case_id_of(envelope)
    if case_id is None:
        return
    stored = await conn.fetchval("SELECT facts::text FROM kpi_cases WHERE case_id = $1", case_id)
    facts = CaseFacts.model_validate_json(stored) if stored is not None else None
    after, measures = step(facts, decode(envelope), envelope.occurred_at)
    if after is None or after is facts:
        return
    await conn.execute(
        """INSERT INTO kpi_cases (case_id, facts) VALUES ($1, $2::jsonb)
           ON CONFLICT (case_id) DO UPDATE SET facts = excluded.facts""",
        case_id,
        after.model_dump_json(),
    )
    if measures:
        await conn.executemany(
            """INSERT INTO kpi_measures (transaction_id, global_position, ordinal, case_id,
                   kpi, team, worker, day, subject, value)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [
                (envelope.transaction_id, envelope.global_position, i, case_id, m.kpi.value,
                 m.team, m.worker, m.day, m.subject, m.value)
                for i, m in enumerate(measures)
            ],
        )  # fmt: skip


HANDLERS: dict[str, Handler] = {event_type_of(model): measured for model in MEASURED}

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPlace:
    """A place in the log's order (transaction id, then global position)."""

    transaction_id: int
    global_position: int


async def cells(conn: asyncpg.Connection | asyncpg.Pool, upto: LogPlace, selection: Selection
                ) -> list[Cell]:  # fmt: skip
    """The cells (cases/kpi.py `aggregate`) of the measures made by the events up to and
    including `upto` in the log's order, selected like `aggregate` selects them."""
    args: list[object] = [
        upto.transaction_id, upto.global_position,
        date.fromisoformat(f"{selection.first_month}-01"),
        date.fromisoformat(f"{selection.last_month}-01"),
    ]  # fmt: skip
    where = ""
    if selection.team is not None:
        args.append(selection.team)
        where += f" AND team = ${len(args)}"
    if selection.worker is not None:
        args.append(selection.worker)
        where += f" AND worker = ${len(args)}"
    rows: Sequence[asyncpg.Record] = await conn.fetch(
        f"""SELECT kpi, to_char(day, 'YYYY-MM') AS month, team, worker, subject,
                   count(*) AS count, sum(value)::bigint AS total
              FROM kpi_measures
             WHERE (transaction_id, global_position) <= ($1, $2)
               AND day >= $3::date AND day < ($4::date + interval '1 month')
               {where}
             GROUP BY kpi, month, team, worker, subject
             ORDER BY kpi COLLATE "C", month, team COLLATE "C", worker COLLATE "C",
                      subject COLLATE "C\"""",
        *args,
    )
    return [
        Cell(kpi=Kpi(r["kpi"]), month=r["month"], team=r["team"], worker=r["worker"],
             subject=r["subject"], count=r["count"], total=r["total"])
        for r in rows
    ]  # fmt: skip
