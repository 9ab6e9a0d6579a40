"""Do the read models equal a rebuild? (`casework verify`, without touching them.)

In one transaction: hold each projection's checkpoint row (its projector waits for
the moment it takes), replay the log up to that checkpoint into temporary copies
of the projection's tables, compare them row for row with the live tables, and
roll everything back. The live tables are never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from events.store import EventStore, GlobalCursor
from projections.base import Projection


@dataclass(frozen=True)
class TableDifference:
    projection: str
    table: str
    only_live: int
    only_rebuilt: int

    def __str__(self) -> str:
        return (
            f"read model {self.table} ({self.projection}) differs from a rebuild: "
            f"{self.only_live} row(s) only in the live table, "
            f"{self.only_rebuilt} only in the rebuild"
        )


async def compare_with_rebuild(
    dsn: str, store: EventStore, projection: Projection, batch: int = 2000
) -> list[TableDifference]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "pg_temp, public"})
    differences: list[TableDifference] = []
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            row = await conn.fetchrow(
                """SELECT transaction_id::text::bigint AS t, global_position AS p
                     FROM projection_checkpoints WHERE name = $1 FOR SHARE""",
                projection.name,
            )
            upto = GlobalCursor(row["t"], row["p"]) if row else GlobalCursor()
            for table in projection.tables:
                await conn.execute(
                    f'CREATE TEMP TABLE "{table}" (LIKE public."{table}" INCLUDING ALL) '
                    "ON COMMIT DROP"
                )
            cursor = GlobalCursor()
            done = upto == GlobalCursor()
            while not done:
                events = await store.read_all(cursor, batch)
                if not events:
                    break
                for event in events:
                    if GlobalCursor.of(event) > upto:
                        done = True
                        break
                    if event.event_type in projection.handlers:
                        await projection.apply(conn, event)
                cursor = GlobalCursor.of(events[-1])
                done = done or cursor >= upto
            for table in projection.tables:
                only_live = await conn.fetchval(
                    f'SELECT count(*) FROM (TABLE public."{table}" EXCEPT ALL '
                    f'TABLE pg_temp."{table}") d'
                )
                only_rebuilt = await conn.fetchval(
                    f'SELECT count(*) FROM (TABLE pg_temp."{table}" EXCEPT ALL '
                    f'TABLE public."{table}") d'
                )
                if only_live or only_rebuilt:
                    differences.append(
                        TableDifference(projection.name, table, only_live, only_rebuilt)
                    )
        finally:
            await tx.rollback()
    finally:
        await conn.close()
    return differences
