"""Read model `referrals`: every referral by provider and status.

Table `referrals` (created by projections/migrations/0001_read_models.sql, section
"projection referrals"; granted in 0002_role_grants.sql; tests/projections/test_units.py
checks it exists after the migrations). Status: made → sent (or dispatch_failed,
retried) → accepted | declined → completed.

Queries: `referrals` and `referral_counts`. The time waiting for the provider's
reply is computed by query from `made_at` / `dispatched_at` for referrals still at
made, sent or dispatch_failed (AWAITING_REPLY).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralMade,
    ReferralWithdrawn,
)
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, moment, on
from projections.scope import case_scope

NAME = "referrals"
TABLES = ("referrals",)
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


# --- handlers ----------------------------------------------------------------------------


async def made(conn: asyncpg.Connection, event: ReferralMade, envelope: RecordedEvent) -> None:
    await conn.execute(
        """INSERT INTO referrals (case_id, referral_id, provider_id, service_id, goal_id,
               status, made_by, made_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 'made', $6, $7, $7)""",
        case_id_of(envelope),
        event.referral_id,
        event.provider_id,
        event.service_id,
        event.goal_id,
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )


async def _update(
    conn: asyncpg.Connection, envelope: RecordedEvent, referral_id: str, sets: str, *args: object
) -> None:
    """UPDATE the referral's row: $1 case id, $2 referral id, $3 event time, $4… args."""
    await conn.execute(
        f"UPDATE referrals SET {sets}, updated_at = $3 WHERE case_id = $1 AND referral_id = $2",
        case_id_of(envelope),
        referral_id,
        envelope.occurred_at,
        *args,
    )


async def dispatched(
    conn: asyncpg.Connection, event: ReferralDispatched, envelope: RecordedEvent
) -> None:
    await _update(
        conn,
        envelope,
        event.referral_id,
        "status = 'sent', dispatched_at = $3, dispatch_attempts = $4, dispatch_error = NULL",
        event.attempts,
    )


async def dispatch_failed(
    conn: asyncpg.Connection, event: ReferralDispatchFailed, envelope: RecordedEvent
) -> None:
    await _update(
        conn,
        envelope,
        event.referral_id,
        "status = 'dispatch_failed', dispatch_attempts = $4, dispatch_error = $5",
        event.attempts,
        event.error,
    )


async def accepted(
    conn: asyncpg.Connection, event: ReferralAccepted, envelope: RecordedEvent
) -> None:
    await _update(conn, envelope, event.referral_id, "status = 'accepted', responded_at = $3")


async def declined(
    conn: asyncpg.Connection, event: ReferralDeclined, envelope: RecordedEvent
) -> None:
    await _update(conn, envelope, event.referral_id, "status = 'declined', responded_at = $3")


async def completed(
    conn: asyncpg.Connection, event: ReferralCompleted, envelope: RecordedEvent
) -> None:
    await _update(
        conn,
        envelope,
        event.referral_id,
        "status = 'completed', completed_at = $3, responded_at = coalesce(responded_at, $3)",
    )


async def withdrawn(
    conn: asyncpg.Connection, event: ReferralWithdrawn, envelope: RecordedEvent
) -> None:
    await _update(conn, envelope, event.referral_id, "status = 'withdrawn'")


async def follow_up_due(
    conn: asyncpg.Connection, event: ReferralFollowUpDue, envelope: RecordedEvent
) -> None:
    await _update(conn, envelope, event.referral_id, "follow_up_due_at = $3")


async def report_received(
    conn: asyncpg.Connection, event: ProviderReportReceived, envelope: RecordedEvent
) -> None:
    await _update(conn, envelope, event.referral_id, "reports = reports + 1, last_report_at = $3")


HANDLERS = handler_map(
    on(ReferralMade, made),
    on(ReferralDispatched, dispatched),
    on(ReferralDispatchFailed, dispatch_failed),
    on(ReferralAccepted, accepted),
    on(ReferralDeclined, declined),
    on(ReferralCompleted, completed),
    on(ProviderReportReceived, report_received),
    on(ReferralFollowUpDue, follow_up_due),
    on(ReferralWithdrawn, withdrawn),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)


# --- queries -------------------------------------------------------------------------------

AWAITING_REPLY = ("made", "sent", "dispatch_failed")


class Referral(BaseModel):
    case_id: str
    referral_id: str
    provider_id: str
    service_id: str
    goal_id: str
    status: str
    made_by: str
    made_at: datetime
    dispatched_at: datetime | None
    dispatch_attempts: int
    dispatch_error: str | None
    responded_at: datetime | None
    completed_at: datetime | None
    reports: int
    team: str
    worker: str
    waiting_hours: float | None
    """Hours since the referral was sent (or made) for those still awaiting a reply."""


class ReferralCount(BaseModel):
    provider_id: str
    status: str
    referrals: int
    oldest_waiting_hours: float | None


def _referral_where(
    actor: Actor, args: list[object], provider: str | None, status: str | None, open_only: bool
) -> str:
    where = [case_scope(actor).sql("cs", args)]
    if provider is not None:
        args.append(provider)
        where.append(f"r.provider_id = ${len(args)}")
    if status is not None:
        args.append(status)
        where.append(f"r.status = ${len(args)}")
    if open_only:
        where.append("r.status NOT IN ('declined', 'completed')")
    return " AND ".join(where)


_WAITING = """CASE WHEN r.status IN ('made', 'sent', 'dispatch_failed')
      THEN extract(epoch FROM $1 - coalesce(r.dispatched_at, r.made_at))::float8 / 3600 END"""

_REFERRAL_ORDER = """(r.status NOT IN ('made', 'sent', 'dispatch_failed'))::int,
      CASE WHEN r.status IN ('made', 'sent', 'dispatch_failed')
           THEN coalesce(r.dispatched_at, r.made_at) ELSE r.made_at END,
      r.made_at, r.case_id, r.referral_id"""
"""The order of `referrals`, as a key that does not depend on now: awaiting a reply
first, the longest waiting first (the oldest send, or making when unsent: the most
hours waiting), then by when made, case and referral. `referral_key` is the same key
for a row."""


def referral_key(row: Referral) -> tuple[int, datetime, datetime, str, str]:
    """A row's place in the order of `referrals` (`_REFERRAL_ORDER`)."""
    if row.status in AWAITING_REPLY:
        since = row.dispatched_at or row.made_at
        return (0, since, row.made_at, row.case_id, row.referral_id)
    return (1, row.made_at, row.made_at, row.case_id, row.referral_id)


async def referrals(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    provider: str | None = None,
    status: str | None = None,
    open_only: bool = False,
    now: datetime | None = None,
    limit: int = 500,
    after: tuple[int, datetime, datetime, str, str] | None = None,
) -> list[Referral]:
    """Referrals, those waiting longest for a reply first (`after` a `referral_key`, the
    rows that follow it).

    Joins `case_summary` (another projection, with its own checkpoint) for the scope
    and the case's current team and worker only: safe, because no column of
    `referrals` is compared with or computed from it and visibility has one source
    for every query (projections/scope.py, "Joining case_summary").
    """
    args: list[object] = [moment(now), limit]
    where = _referral_where(actor, args, provider, status, open_only)
    if after is not None:
        args.extend(after)
        n = len(args)
        where += f" AND ({_REFERRAL_ORDER}) > (${n - 4}, ${n - 3}, ${n - 2}, ${n - 1}, ${n})"
    rows = await pool.fetch(
        f"""SELECT r.case_id, r.referral_id, r.provider_id, r.service_id, r.goal_id, r.status,
                   r.made_by, r.made_at, r.dispatched_at, r.dispatch_attempts, r.dispatch_error,
                   r.responded_at, r.completed_at, r.reports, cs.team, cs.worker,
                   {_WAITING} AS waiting_hours
              FROM referrals r JOIN case_summary cs ON cs.case_id = r.case_id
             WHERE {where}
             ORDER BY {_REFERRAL_ORDER}
             LIMIT $2""",
        *args,
    )
    return [Referral.model_validate(dict(r)) for r in rows]


async def referral_counts(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    provider: str | None = None,
    now: datetime | None = None,
    limit: int | None = None,
    after: tuple[str, str] | None = None,
) -> list[ReferralCount]:
    """Referrals by provider and status, with the longest wait for a reply (at most
    `limit` rows, by provider and status; `after` such a pair, the rows that follow it).

    Joins `case_summary` for the scope only: safe for the reason `referrals` gives
    (projections/scope.py, "Joining case_summary").
    """
    args: list[object] = [moment(now)]
    where = _referral_where(actor, args, provider, None, False)
    if after is not None:
        args.extend(after)
        where += f" AND (r.provider_id, r.status) > (${len(args) - 1}, ${len(args)})"
    args.append(limit)
    rows = await pool.fetch(
        f"""SELECT r.provider_id, r.status, count(*) AS referrals,
                   max({_WAITING}) AS oldest_waiting_hours
              FROM referrals r JOIN case_summary cs ON cs.case_id = r.case_id
             WHERE {where}
             GROUP BY r.provider_id, r.status ORDER BY r.provider_id, r.status
             LIMIT ${len(args)}""",
        *args,
    )
    return [ReferralCount.model_validate(dict(r)) for r in rows]


class ProviderReferral(BaseModel):
    """A referral as its provider's list shows it: ids, service, status and dates; never
    the case's team, worker or anything of the client (the portal's view adds what the
    client consented to share, from the case itself)."""

    case_id: str
    referral_id: str
    provider_id: str
    service_id: str
    status: str
    made_at: datetime
    dispatched_at: datetime | None
    responded_at: datetime | None
    completed_at: datetime | None
    reports: int
    updated_at: datetime


async def referrals_for_provider(
    pool: asyncpg.Pool,
    provider_id: str,
    *,
    status: str | None = None,
    limit: int = 500,
    after: tuple[datetime, str, str] | None = None,
) -> list[ProviderReferral]:
    """The referrals sent to `provider_id`, newest first (`after` a row's (made_at,
    case_id, referral_id): the rows that follow it).

    No `case_summary` join and no case scope: a provider sees no case, only the referrals
    to it, so the predicate is the provider id itself (the caller decides whose:
    application/provider_portal.py, from the access table's `referred` relation)."""
    args: list[object] = [provider_id, limit]
    where = ["r.provider_id = $1"]
    if status is not None:
        args.append(status)
        where.append(f"r.status = ${len(args)}")
    if after is not None:
        args.extend(after)
        n = len(args)
        where.append(f"(r.made_at, r.case_id, r.referral_id) < (${n - 2}, ${n - 1}, ${n})")
    rows = await pool.fetch(
        f"""SELECT r.case_id, r.referral_id, r.provider_id, r.service_id, r.status, r.made_at,
                   r.dispatched_at, r.responded_at, r.completed_at, r.reports, r.updated_at
              FROM referrals r
             WHERE {" AND ".join(where)}
             ORDER BY r.made_at DESC, r.case_id DESC, r.referral_id DESC
             LIMIT $2""",
        *args,
    )
    return [
        ProviderReferral.model_validate({**dict(r), "case_id": str(r["case_id"])}) for r in rows
    ]
