"""Read model `kpi`: every measure of every case (cases/kpi.py) with its event's place in
the log (tables created by projections/migrations/0008_kpi.sql):

* `kpi_cases` — each case's `CaseFacts` (what its later measures need), as JSON;
* `kpi_measures` — one row per measure: the KPI, the team and worker that held the
  case, the day, the subject, the value, and the transaction id and global position of
  the event that made it (ordinal: its place among that event's measures);
* `kpi_sums` — the count and sum of the measures by KPI, month, team, worker and
  subject, kept as each measure is added (a report reads these, less the few measures
  made after its checkpoint, so it does not scan every measure).

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
TABLES = ("kpi_cases", "kpi_measures", "kpi_sums")
MIGRATIONS = ("0008_kpi.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


_WRITE = """
WITH facts AS (
    INSERT INTO kpi_cases (case_id, facts) VALUES ($1, $2::jsonb)
    ON CONFLICT (case_id) DO UPDATE SET facts = excluded.facts
),
made AS (
    SELECT * FROM unnest($5::int[], $6::text[], $7::text[], $8::text[], $9::date[],
                         $10::text[], $11::bigint[])
        AS m (ordinal, kpi, team, worker, day, subject, value)
),
kept AS (
    INSERT INTO kpi_measures (transaction_id, global_position, ordinal, case_id, kpi, team,
                              worker, day, subject, value)
    SELECT $3, $4, ordinal, $1, kpi, team, worker, day, subject, value FROM made
)
INSERT INTO kpi_sums (kpi, month, team, worker, subject, count, total)
SELECT kpi, date_trunc('month', day)::date, team, worker, subject, count(*), sum(value)
  FROM made GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (month, kpi, team, worker, subject) DO UPDATE
   SET count = kpi_sums.count + excluded.count, total = kpi_sums.total + excluded.total
"""


async def measured(conn: asyncpg.Connection, envelope: RecordedEvent) -> None:
    """Fold the event into its case's facts; keep the measures it makes, and add them to
    the sums (one statement)."""
    case_id = case_id_of(envelope)
    if case_id is None:
        return
    stored = await conn.fetchval("SELECT facts::text FROM kpi_cases WHERE case_id = $1", case_id)
    facts = CaseFacts.model_validate_json(stored) if stored is not None else None
    after, measures = step(facts, decode(envelope), envelope.occurred_at)
    if after is None or after is facts:
        return
    await conn.execute(
        _WRITE,
        case_id,
        after.model_dump_json(),
        envelope.transaction_id,
        envelope.global_position,
        list(range(len(measures))),
        [m.kpi.value for m in measures],
        [m.team for m in measures],
        [m.worker for m in measures],
        [m.day for m in measures],
        [m.subject for m in measures],
        [m.value for m in measures],
    )


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
    including `upto` in the log's order, selected like `aggregate` selects them: the sums
    less the measures made after `upto` (those since the checkpoint: few)."""
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
        f"""WITH later AS (
                SELECT kpi, date_trunc('month', day)::date AS month, team, worker, subject,
                       count(*) AS count, sum(value) AS total
                  FROM kpi_measures
                 WHERE (transaction_id, global_position) > ($1, $2)
                   AND day >= $3::date AND day < ($4::date + interval '1 month') {where}
                 GROUP BY 1, 2, 3, 4, 5
            )
            SELECT s.kpi, to_char(s.month, 'YYYY-MM') AS month, s.team, s.worker, s.subject,
                   s.count - coalesce(l.count, 0) AS count,
                   (s.total - coalesce(l.total, 0))::bigint AS total
              FROM kpi_sums s
              LEFT JOIN later l USING (kpi, month, team, worker, subject)
             WHERE s.month >= $3::date AND s.month <= $4::date {where}
               AND s.count - coalesce(l.count, 0) > 0
             ORDER BY s.kpi COLLATE "C", s.month, s.team COLLATE "C", s.worker COLLATE "C",
                      s.subject COLLATE "C\"""",
        *args,
    )
    return [
        Cell(kpi=Kpi(r["kpi"]), month=r["month"], team=r["team"], worker=r["worker"],
             subject=r["subject"], count=r["count"], total=r["total"])
        for r in rows
    ]  # fmt: skip
