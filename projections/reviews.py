"""Read models `case_reviews` (the next review of each case: due and overdue) and
`case_escalations` (escalations by level).

* `ReviewScheduled` (due_at, reason) → the case's row, status 'scheduled'
  (`case_summary.next_review_due` follows the same event in its own projection);
* `ReviewDue` → 'due' (a task for the worker); `ReviewLapsed` → 'lapsed', with the
  end of the grace period; `CaseClosed` removes the row (a closed case has no review).
* `EscalationRaised` opens an escalation (level 1) or moves it up the ladder (the
  same escalation id at a higher level, notifying worker, supervisor or manager);
  `EscalationResolved` closes it. The free-text reason is kept: the engine writes it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from events.envelope import RecordedEvent
from projections.base import Handler, Projection, case_id_of, data_of, ignoring_the_rest

REVIEWS = "reviews"
ESCALATIONS = "escalations"


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def review_scheduled(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    due = _when(d["due_at"])
    await conn.execute(
        """INSERT INTO case_reviews (case_id, due_on, due_at, reason, status, scheduled_at,
               updated_at)
           VALUES ($1, $2, $3, $4, 'scheduled', $5, $5)
           ON CONFLICT (case_id) DO UPDATE SET due_on = $2, due_at = $3, reason = $4,
               status = 'scheduled', grace_until = NULL, scheduled_at = $5, updated_at = $5""",
        case_id_of(event),
        due.astimezone(UTC).date(),
        due,
        d["reason"],
        event.occurred_at,
    )


async def review_due(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        "UPDATE case_reviews SET status = 'due', updated_at = $2 WHERE case_id = $1",
        case_id_of(event),
        event.occurred_at,
    )


async def review_lapsed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    grace = _when(data_of(event)["grace_ended_at"])
    await conn.execute(
        """UPDATE case_reviews SET status = 'lapsed', grace_until = $3, updated_at = $2
            WHERE case_id = $1""",
        case_id_of(event),
        event.occurred_at,
        grace.astimezone(UTC).date(),
    )


async def case_closed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute("DELETE FROM case_reviews WHERE case_id = $1", case_id_of(event))


async def escalation_raised(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await conn.execute(
        """INSERT INTO case_escalations (case_id, escalation_id, subject, subject_id, team,
               level, escalated_to, reason, raised_at, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')
           ON CONFLICT (case_id, escalation_id) DO UPDATE SET level = $6, escalated_to = $7,
               team = $5, reason = $8, status = 'open', resolved_at = NULL""",
        case_id_of(event),
        d["escalation_id"],
        d["subject"],
        d["subject_id"],
        d["team"],
        d["level"],
        d["notify"],
        d["reason"],
        event.occurred_at,
    )


async def escalation_resolved(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await conn.execute(
        """UPDATE case_escalations SET status = 'resolved', resolved_at = $3
            WHERE case_id = $1 AND escalation_id = $2""",
        case_id_of(event),
        data_of(event)["escalation_id"],
        event.occurred_at,
    )


REVIEW_HANDLERS: dict[str, Handler] = {
    "ReviewScheduled": review_scheduled,
    "ReviewDue": review_due,
    "ReviewLapsed": review_lapsed,
    "CaseClosed": case_closed,
}

REVIEWS_PROJECTION = Projection(
    name=REVIEWS,
    tables=("case_reviews",),
    handlers=REVIEW_HANDLERS,
    ignores=ignoring_the_rest(REVIEW_HANDLERS),
)

ESCALATION_HANDLERS: dict[str, Handler] = {
    "EscalationRaised": escalation_raised,
    "EscalationResolved": escalation_resolved,
}

ESCALATIONS_PROJECTION = Projection(
    name=ESCALATIONS,
    tables=("case_escalations",),
    handlers=ESCALATION_HANDLERS,
    ignores=ignoring_the_rest(ESCALATION_HANDLERS),
)
