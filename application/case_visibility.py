"""Where a case stands for visibility (its team and assigned worker), from the read model
when it is known to be current, else from the case's workflow.

Every command is preceded by this question (application/case_commands.py): out of the
caller's scope is not found. Asking the workflow (a Temporal Query) costs a round trip
through the server and the worker; `case_summary` holds the same two columns, with the
version of the case's stream it last folded into its row (`stream_version`).

A case's team and worker change only through the events of `SCOPE_EVENT_TYPES` (after
the `CaseOpened` that sets them). So the row is right exactly when no such event lies in
the log after the version it folded, whatever else the case has recorded since (notes,
contacts: events `case_summary` ignores do not move its version). One query reads the
row and asks the `events` table for that (the stream's `(stream_id, stream_version)`
index, from the row's version on). A case the projector has not reached yet (opened a
moment ago: no row) is located by its `CaseOpened` in the log, under the same check.

When a scope event lies beyond what the read model folded (a transfer just accepted, a
case just reassigned, while the projector catches up or is stopped), or the log has no
`CaseOpened` for the id, the answer is the workflow's, as before: never a stale scope.
"""

from __future__ import annotations

from application.access_log import CaseLocation
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from cases.state import stream_id_for

SCOPE_EVENT_TYPES: tuple[str, ...] = ("CaseAssigned", "TransferAccepted")
"""The events that move a case to another team or worker (cases/evolve.py); the
`CaseOpened` that first places it is the base (tests/api/test_visibility.py checks the
vocabulary has no other event naming a team or a worker)."""

_LOCATE = """
WITH base AS (
    SELECT cs.team, cs.worker, cs.stream_version AS folded
      FROM case_summary cs
     WHERE cs.case_id = $1
    UNION ALL
    SELECT e.data->>'team', e.data->>'assigned_worker', e.stream_version
      FROM events e
     WHERE e.stream_id = $2 AND e.stream_version = 1 AND e.event_type = 'CaseOpened'
    ORDER BY folded DESC
    LIMIT 1
)
SELECT b.team, b.worker,
       EXISTS (SELECT 1 FROM events e
                WHERE e.stream_id = $2 AND e.stream_version > b.folded
                  AND e.event_type = ANY($3::text[])) AS moved
  FROM base b
"""


async def located_by_read_model(app: Casework, case_id: str) -> CaseLocation | None:
    """The case's team and worker when the read model (or, before the projector has
    reached the case, its opening in the log) is current for them; None otherwise
    (lagging behind a scope event, or no such case)."""
    row = await app.pool.fetchrow(
        _LOCATE, str(case_id), stream_id_for(case_id), list(SCOPE_EVENT_TYPES)
    )
    if row is None or row["moved"] or row["team"] is None or row["worker"] is None:
        return None
    return CaseLocation(team=row["team"], worker=row["worker"])


async def locate(app: Casework, case_id: str) -> CaseLocation | None:
    """Where the case stands (None: no such case), current as of this call."""
    found = await located_by_read_model(app, case_id)
    if found is not None:
        return found
    try:
        state = await (await app.cases()).state(case_id)
    except CaseNotFound:
        return None
    return CaseLocation(team=state.team, worker=state.assigned_worker)
