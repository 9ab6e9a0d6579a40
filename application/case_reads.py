"""Reading one case, with the access check and the access log: its state (`case show`)
and its history (`case history`). Every read is allowed by the one access table and
recorded before anything is returned."""

from __future__ import annotations

from typing import Any

from application.access_log import CaseLocation, ReadGrant, View, authorise_read
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from cases.actors import Actor
from cases.evolve import fold
from cases.state import CaseState


async def authorise(
    app: Casework,
    actor: Actor,
    case_id: str,
    view: View,
    state: CaseState | None,
    *,
    reason: str | None,
    break_glass: str | None,
    subject: str | None = None,
) -> ReadGrant:
    """Allow `actor` this view of the case (where `state` locates it), recording the read;
    refuse with the same answer whether the case does not exist or is out of scope."""
    location = CaseLocation(state.team, state.assigned_worker) if state else None
    return await authorise_read(
        app.store.pool, actor, case_id, view, location,
        reason=reason, break_glass=break_glass, store=app.store, subject=subject,
    )  # fmt: skip


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
    await authorise(
        app, actor, case_id, View.CASE_SHOW, state, reason=reason, break_glass=break_glass
    )
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
    await authorise(
        app, actor, case_id, View.CASE_HISTORY, state, reason=reason, break_glass=break_glass
    )
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
