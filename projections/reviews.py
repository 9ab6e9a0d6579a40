"""Read models `reviews` (table `case_reviews`: the next review of each case, due and
overdue) and `escalations` (table `case_escalations`: escalations by level).

Tables created by projections/migrations/0001_read_models.sql, sections "projection
reviews" and "projection escalations"; granted in 0002_role_grants.sql;
tests/projections/test_units.py checks they exist after the migrations.

* `ReviewScheduled` (due_at, reason) → the case's row, status 'scheduled'
  (`case_summary.next_review_due` follows the same event in its own projection);
* `ReviewDue` → 'due' (a task for the worker); `ReviewLapsed` → 'lapsed', with the
  end of the grace period; `CaseClosed` removes the row (a closed case has no review).
* `EscalationRaised` opens an escalation (level 1) or moves it up the ladder (the
  same escalation id at a higher level, notifying worker, supervisor or manager);
  `EscalationResolved` closes it. The free-text reason is kept: the engine writes it.

Queries: `reviews` (reviews due and overdue) and `escalations` (open escalations).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
from pydantic import BaseModel

from cases.actors import Actor
from events.envelope import RecordedEvent
from events.vocabulary import (
    CaseClosed,
    EscalationRaised,
    EscalationResolved,
    ReviewLapsed,
    ReviewScheduled,
)
from events.vocabulary import ReviewDue as ReviewBecameDue
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, moment, on
from projections.scope import case_scope

REVIEWS = "reviews"
ESCALATIONS = "escalations"
REVIEW_TABLES = ("case_reviews",)
ESCALATION_TABLES = ("case_escalations",)
MIGRATIONS = ("0001_read_models.sql",)
"""The migrations (projections/migrations/) that create the tables of both read models."""


# --- handlers: reviews ---------------------------------------------------------------------


async def review_scheduled(
    conn: asyncpg.Connection, event: ReviewScheduled, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO case_reviews (case_id, due_on, due_at, reason, status, scheduled_at,
               updated_at)
           VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)
           ON CONFLICT (case_id) DO UPDATE SET due_on = $2, due_at = $3, reason = $4,
               status = 'scheduled', grace_until = NULL, scheduled_at = $5, updated_at = $5""",
        case_id_of(envelope),
        event.due_at.astimezone(UTC).date(),
        event.due_at,
        event.reason.value,
        envelope.occurred_at,
    )


async def review_due(
    conn: asyncpg.Connection, event: ReviewBecameDue, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "UPDATE case_reviews SET status = 'due', updated_at = $2 WHERE case_id = $1",
        case_id_of(envelope),
        envelope.occurred_at,
    )


async def review_lapsed(
    conn: asyncpg.Connection, event: ReviewLapsed, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE case_reviews SET status = 'lapsed', grace_until = $3, updated_at = $2
            WHERE case_id = $1""",
        case_id_of(envelope),
        envelope.occurred_at,
        event.grace_ended_at.astimezone(UTC).date(),
    )


async def case_closed(conn: asyncpg.Connection, event: CaseClosed, envelope: RecordedEvent) -> None:
    await conn.execute("DELETE FROM case_reviews WHERE case_id = $1", case_id_of(envelope))


REVIEW_HANDLERS = handler_map(
    on(ReviewScheduled, review_scheduled),
    on(ReviewBecameDue, review_due),
    on(ReviewLapsed, review_lapsed),
    on(CaseClosed, case_closed),
)

REVIEWS_PROJECTION = Projection(
    name=REVIEWS,
    tables=REVIEW_TABLES,
    handlers=REVIEW_HANDLERS,
    ignores=ignoring_the_rest(REVIEW_HANDLERS),
)


# --- handlers: escalations -----------------------------------------------------------------


async def escalation_raised(
    conn: asyncpg.Connection, event: EscalationRaised, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO case_escalations (case_id, escalation_id, subject, subject_id, team,
               level, escalated_to, reason, raised_at, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')
           ON CONFLICT (case_id, escalation_id) DO UPDATE SET level = $6, escalated_to = $7,
               team = $5, reason = $8, status = 'open', resolved_at = NULL""",
        case_id_of(envelope),
        event.escalation_id,
        event.subject.value,
        event.subject_id,
        event.team,
        event.level,
        event.notify,
        event.reason,
        envelope.occurred_at,
    )


async def escalation_resolved(
    conn: asyncpg.Connection, event: EscalationResolved, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE case_escalations SET status = 'resolved', resolved_at = $3
            WHERE case_id = $1 AND escalation_id = $2""",
        case_id_of(envelope),
        event.escalation_id,
        envelope.occurred_at,
    )


ESCALATION_HANDLERS = handler_map(
    on(EscalationRaised, escalation_raised),
    on(EscalationResolved, escalation_resolved),
)

ESCALATIONS_PROJECTION = Projection(
    name=ESCALATIONS,
    tables=ESCALATION_TABLES,
    handlers=ESCALATION_HANDLERS,
    ignores=ignoring_the_rest(ESCALATION_HANDLERS),
)


# --- queries -------------------------------------------------------------------------------


class ReviewDue(BaseModel):
    case_id: str
    client_ref: str
    worker: str
    team: str
    risk_level: str | None
    review_id: str | None
    due_on: date
    due_at: datetime
    grace_until: date | None
    status: str
    days_overdue: int
    """Days past the due date (negative: days left)."""
    overdue: bool
    """The due time has passed (reviews can be due within the day under a demo policy)."""


async def reviews(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    within_days: int = 14,
    overdue_only: bool = False,
    now: datetime | None = None,
    limit: int = 500,
    after: tuple[datetime, str] | None = None,
) -> list[ReviewDue]:
    """Reviews overdue, then due within `within_days`, the most overdue first (by due
    time and case_id: `after` one such key, the rows that follow it).

    Joins two projections that advance separately, `case_summary` and `reviews`
    (`case_reviews`). Cases are selected and ordered through
    `case_summary.next_review_due` (indexed per team and worker, with the scope),
    while the row shows `case_reviews`' due date, grace and status. Both follow the
    same ReviewScheduled (and CaseClosed clears both), so once both projections have
    applied it they agree; the join requires that agreement (`rv.due_at =
    cs.next_review_due`). A row is therefore never one read model's due date with
    the other's review: while one projection has applied a rescheduling the other
    has not, the case is left out, for the projector's lag, and comes back when both
    have. Scope, client_ref, worker, team and risk level come from case_summary as
    in every query (projections/scope.py, "Joining case_summary").
    """
    now_ = moment(now)
    horizon = now_ if overdue_only else now_ + timedelta(days=within_days)
    args: list[object] = [now_, horizon, limit]
    comparison = "<" if overdue_only else "<="
    following = ""
    if after is not None:
        args.extend(after)
        following = f"AND (cs.next_review_due, cs.case_id) > (${len(args) - 1}, ${len(args)})"
    rows = await pool.fetch(
        f"""SELECT rv.case_id, cs.client_ref, cs.worker, cs.team, cs.risk_level, rv.review_id,
                   rv.due_on, rv.due_at, rv.grace_until, rv.status,
                   ($1::timestamptz::date - rv.due_on) AS days_overdue,
                   rv.due_at < $1 AS overdue
              FROM case_summary cs JOIN case_reviews rv
                ON rv.case_id = cs.case_id AND rv.due_at = cs.next_review_due
             WHERE cs.next_review_due {comparison} $2
               AND cs.status = 'open' AND {case_scope(actor).sql("cs", args)} {following}
             ORDER BY cs.next_review_due, cs.case_id
             LIMIT $3""",
        *args,
    )
    return [ReviewDue.model_validate(dict(r)) for r in rows]


class OpenEscalation(BaseModel):
    case_id: str
    escalation_id: str
    subject: str | None
    subject_id: str | None
    level: int
    escalated_to: str | None
    reason: str
    raised_at: datetime
    open_hours: float
    worker: str
    team: str


async def escalations(
    pool: asyncpg.Pool,
    actor: Actor,
    *,
    level: int | None = None,
    now: datetime | None = None,
    limit: int = 500,
    after: tuple[int, datetime, str, str] | None = None,
) -> list[OpenEscalation]:
    """Open escalations, highest level first, then oldest (then by case_id and
    escalation_id: `after` a key (level, raised_at, case_id, escalation_id), the rows
    that follow it).

    Joins `case_summary` (another projection, with its own checkpoint) for the scope
    and the case's current worker and team only: safe, because no column of
    `case_escalations` is compared with or computed from it and visibility has one
    source for every query (projections/scope.py, "Joining case_summary"). The
    escalation's own team (whom it notified) stays in `case_escalations`.
    """
    args: list[object] = [moment(now), limit]
    where = ["e.status = 'open'", case_scope(actor).sql("cs", args)]
    if level is not None:
        args.append(level)
        where.append(f"e.level = ${len(args)}")
    if after is not None:
        after_level, *rest = after
        args.extend([-after_level, *rest])
        n = len(args)
        where.append(
            f"(-e.level, e.raised_at, e.case_id, e.escalation_id) > (${n - 3}, ${n - 2}, "
            f"${n - 1}, ${n})"
        )
    rows = await pool.fetch(
        f"""SELECT e.case_id, e.escalation_id, e.subject, e.subject_id, e.level, e.escalated_to,
                   e.reason, e.raised_at,
                   extract(epoch FROM $1 - e.raised_at)::float8 / 3600 AS open_hours,
                   cs.worker, cs.team
              FROM case_escalations e JOIN case_summary cs ON cs.case_id = e.case_id
             WHERE {" AND ".join(where)}
             ORDER BY e.level DESC, e.raised_at, e.case_id, e.escalation_id
             LIMIT $2""",
        *args,
    )
    return [OpenEscalation.model_validate(dict(r)) for r in rows]
