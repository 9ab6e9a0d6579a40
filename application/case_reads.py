"""Reading one case, with the access check and the access log: its state (`case show`)
and its history (`case history`). Every read is allowed by the one access table and
recorded before anything is returned."""

from __future__ import annotations

from typing import Any

from application.access_log import CaseLocation, View, authorise_read
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from cases.actors import Actor
from cases.evolve import fold
from cases.state import CaseState


async def read_case(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> dict[str, Any]:
    """The case's state as its workflow holds it, once the read is allowed and recorded."""
    try:
        state: CaseState | None = await (await app.cases()).state(case_id)
    except CaseNotFound:
        state = None
    location = CaseLocation(state.team, state.assigned_worker) if state else None
    await authorise_read(
        app.store.pool, actor, case_id, View.CASE_SHOW, location,
        reason=reason, break_glass=break_glass, store=app.store,
    )  # fmt: skip
    assert state is not None
    return state.model_dump(mode="json")


async def read_history(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> list[dict[str, Any]]:
    """The case's events (who did what, when), once the read is allowed and recorded."""
    events = await app.store.read_stream(f"case-{case_id}")
    state = fold(events, app.store.registry) if events else None
    location = CaseLocation(state.team, state.assigned_worker) if state else None
    await authorise_read(
        app.store.pool, actor, case_id, View.CASE_HISTORY, location,
        reason=reason, break_glass=break_glass, store=app.store,
    )  # fmt: skip
    return [
        {
            "version": e.stream_version,
            "type": e.event_type,
            "actor": e.metadata.actor_id,
            "role": e.metadata.actor_role,
            "occurred_at": e.occurred_at.isoformat(),
        }
        for e in events
    ]
