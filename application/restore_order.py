"""Keeping a restored log's global order readable (`casework restore`, application/restore.py).

Events are walked in (transaction_id, global_position) order and read only below the
oldest running transaction, so restored transaction ids at or beyond the server's own
(a fresh server, another cluster) would hide the restored log from the notary and the
projector and put new events *before* it. They are renumbered here, order kept, below
the server's (the transaction id is in no hash, leaf or proof: events/merkle.py).
"""

from __future__ import annotations

import asyncpg

from application.backup_tools import backup_log
from infrastructure.environment import EnvironmentProblem

FIRST_NORMAL_XID = 3
"""Transaction ids below it are PostgreSQL's own (invalid, bootstrap, frozen)."""


_RENUMBER = """
CREATE TEMP TABLE casework_restore_order ON COMMIT DROP AS
SELECT global_position, transaction_id AS old_tx,
       ({first}::bigint + sum(brk) OVER (ORDER BY transaction_id, global_position))::text::xid8
           AS new_tx
  FROM (SELECT global_position, transaction_id,
               CASE WHEN global_position < lag(global_position)
                         OVER (ORDER BY transaction_id, global_position)
                    THEN 1 ELSE 0 END AS brk
          FROM events) walked"""


async def keep_global_order_readable(conn: asyncpg.Connection) -> int:
    """Renumber the restored transaction ids below this server's, if any is at or beyond
    it; the number of distinct ids used (0: nothing to do).

    The global order is (transaction_id, global_position). A run of events whose global
    positions rise in that order keeps its order under one shared id, so each such run
    gets the next id from FIRST_NORMAL_XID on: the order is unchanged, and every event
    is below the oldest running transaction (readable), and before any new one."""
    async with conn.transaction():
        current = int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
        highest = await conn.fetchval("SELECT max(transaction_id)::text::bigint FROM events")
        if highest is None or int(highest) < current:
            return 0
        try:  # the log's append-only triggers: off for this transaction (a superuser's)
            await conn.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError as exc:
            raise EnvironmentProblem(
                f"the restored events' transaction ids ({highest}) are at or beyond this "
                f"server's ({current}) and must be renumbered, which needs a superuser",
                "DATABASE_URL",
                "restore as a superuser (DATABASE_URL), or into a server whose transaction "
                "ids are ahead of the backup's",
            ) from exc
        await conn.execute(_RENUMBER.format(first=FIRST_NORMAL_XID))
        runs = int(await conn.fetchval("SELECT count(DISTINCT new_tx) FROM casework_restore_order"))
        needed = FIRST_NORMAL_XID + runs + 1 - current
        if needed > 0:  # a server younger than the runs: use up transaction ids first
            await conn.execute(
                """CREATE TEMP TABLE casework_restore_burn (i int) ON COMMIT DROP;
                   DO $$ BEGIN FOR i IN 1..%d LOOP
                     BEGIN INSERT INTO casework_restore_burn VALUES (i);
                     EXCEPTION WHEN OTHERS THEN NULL; END;
                   END LOOP; END $$""".replace("%d", str(int(needed)))
            )
        await conn.execute(
            """UPDATE events e SET transaction_id = o.new_tx FROM casework_restore_order o
                WHERE e.global_position = o.global_position"""
        )
        if await conn.fetchval("SELECT to_regclass('merkle_leaves')") is not None:
            await conn.execute(
                """UPDATE merkle_leaves m SET transaction_id = o.new_tx::text::bigint
                     FROM casework_restore_order o WHERE m.global_position = o.global_position"""
            )
        for table in ("projection_checkpoints", "projection_rebuilds"):
            if await conn.fetchval("SELECT to_regclass($1)", table) is not None:
                await conn.execute(
                    f"""UPDATE {table} p SET transaction_id = o.new_tx::text::bigint
                          FROM casework_restore_order o
                         WHERE p.global_position = o.global_position
                           AND p.transaction_id = o.old_tx::text::bigint"""
                )
        backup_log().warning(
            "restored transaction ids renumbered below the server's (order kept)",
            highest_restored=int(highest),
            server=current,
            runs=runs,
        )
        return runs
