"""Read model `circle`: circles of support and case conferences, without personal data.

Tables (created by projections/migrations/0006_circle.sql, which also grants them to the
projector and reader roles; tests/projections/test_units.py checks they exist):

* `circle_members` — a row per member of a case's circle of support: id, role, what the
  client consents to share with them, how often something was shared, added / removed;
  never a name or contact details (they stay sealed in the case);
* `case_conferences` — a row per case conference: the day, who took part (staff ids,
  circle member ids, whether the client attended), how many decisions, which actions
  were agreed; never the decisions themselves.

Queries (the `conferences` row of the access table, scoped by projections/scope.py):

* `conferences` — the conferences of the cases the actor sees, the latest first;
* `circle_members` — one case's circle as the read model holds it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import asyncpg
from pydantic import BaseModel

from cases.access import Query
from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    CaseConferenceRecorded,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberRemoved,
    CircleMemberUpdated,
    SharedWithCircleMember,
)
from projections.base import (
    Projection,
    case_id_of,
    handler_map,
    ignoring_the_rest,
    on,
    today,
)
from projections.scope import case_scope

NAME = "circle"
TABLES = ("circle_members", "case_conferences")
MIGRATIONS = ("0006_circle.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def member_added(
    conn: asyncpg.Connection, event: CircleMemberAdded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO circle_members (case_id, member_id, role, added_by, added_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (case_id, member_id) DO NOTHING""",
        case_id_of(envelope),
        event.member_id,
        event.role.value,
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )


async def member_updated(
    conn: asyncpg.Connection, event: CircleMemberUpdated, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE circle_members SET role = $3 WHERE case_id = $1 AND member_id = $2",
        case_id_of(envelope),
        event.member_id,
        event.role.value,
    )


async def member_removed(
    conn: asyncpg.Connection, event: CircleMemberRemoved, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE circle_members SET removed_at = $3 WHERE case_id = $1 AND member_id = $2",
        case_id_of(envelope),
        event.member_id,
        envelope.occurred_at,
    )


async def consent_recorded(
    conn: asyncpg.Connection, event: CircleConsentRecorded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE circle_members SET consent = $3, consent_recorded_at = $4
            WHERE case_id = $1 AND member_id = $2""",
        case_id_of(envelope),
        event.member_id,
        [s.value for s in event.shared],
        envelope.occurred_at,
    )


async def shared(
    conn: asyncpg.Connection, event: SharedWithCircleMember, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE circle_members SET shared_count = shared_count + 1, last_shared_at = $3
            WHERE case_id = $1 AND member_id = $2""",
        case_id_of(envelope),
        event.member_id,
        envelope.occurred_at,
    )


async def conference_recorded(
    conn: asyncpg.Connection, event: CaseConferenceRecorded, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO case_conferences (case_id, conference_id, held_on, client_attended,
               staff, circle, decisions, action_ids, recorded_by, recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (case_id, conference_id) DO NOTHING""",
        case_id_of(envelope),
        event.conference_id,
        event.held_on,
        event.client_attended,
        list(event.participants.staff),
        list(event.participants.circle),
        len(event.decisions),
        list(event.action_ids),
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )


HANDLERS = handler_map(
    on(CircleMemberAdded, member_added),
    on(CircleMemberUpdated, member_updated),
    on(CircleMemberRemoved, member_removed),
    on(CircleConsentRecorded, consent_recorded),
    on(SharedWithCircleMember, shared),
    on(CaseConferenceRecorded, conference_recorded),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


class ConferenceRow(BaseModel):
    case_id: str
    client_ref: str
    team: str
    worker: str
    conference_id: str
    held_on: date
    client_attended: bool
    staff: list[str]
    circle: list[str]
    decisions: int
    action_ids: list[str]
    recorded_by: str


class CircleMemberRow(BaseModel):
    case_id: str
    member_id: str
    role: str
    consent: list[str]
    shared_count: int
    active: bool
    added_at: datetime


async def conferences(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    within_days: int | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[ConferenceRow]:
    """The case conferences of the cases the actor sees (held in the last `within_days`
    days, when given), the latest first.

    Joins `case_summary` for the scope and the case's reference, team and worker only:
    safe as projections/scope.py explains ("Joining case_summary")."""
    args: list[object] = [limit]
    where = [case_scope(actor, Query.CONFERENCES).sql("cs", args)]
    if within_days is not None:
        args.append(today(now) - timedelta(days=within_days))
        where.append(f"cc.held_on >= ${len(args)}")
    rows = await pool.fetch(
        f"""SELECT cc.case_id, cs.client_ref, cs.team, cs.worker, cc.conference_id,
                   cc.held_on, cc.client_attended, cc.staff, cc.circle, cc.decisions,
                   cc.action_ids, cc.recorded_by
              FROM case_conferences cc JOIN case_summary cs ON cs.case_id = cc.case_id
             WHERE {" AND ".join(where)}
             ORDER BY cc.held_on DESC, cc.recorded_at DESC, cc.case_id, cc.conference_id
             LIMIT $1""",
        *args,
    )
    return [ConferenceRow.model_validate(dict(r)) for r in rows]


async def circle_members(pool: asyncpg.Pool, actor: Actor, case_id: str) -> list[CircleMemberRow]:
    """One case's circle of support (ids, roles, consent; no names), in the order added.

    Joins `case_summary` for the scope only ("Joining case_summary")."""
    args: list[object] = [case_id]
    where = case_scope(actor, Query.CONFERENCES).sql("cs", args)
    rows = await pool.fetch(
        f"""SELECT m.case_id, m.member_id, m.role, m.consent, m.shared_count,
                   m.removed_at IS NULL AS active, m.added_at
              FROM circle_members m JOIN case_summary cs ON cs.case_id = m.case_id
             WHERE m.case_id = $1 AND {where}
             ORDER BY m.added_at, m.member_id""",
        *args,
    )
    return [CircleMemberRow.model_validate(dict(r)) for r in rows]
