"""Read model `referrals`: every referral by provider and status.

Status: made → sent (or dispatch_failed, retried) → accepted | declined → completed.
The time waiting for the provider's reply is computed by query from `made_at` /
`dispatched_at` for referrals still at made, sent or dispatch_failed.
"""

from __future__ import annotations

import asyncpg

from events.envelope import RecordedEvent
from projections.base import Handler, Projection, case_id_of, data_of, ignoring_the_rest

NAME = "referrals"


async def made(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await conn.execute(
        """INSERT INTO referrals (case_id, referral_id, provider_id, service_id, goal_id,
               status, made_by, made_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 'made', $6, $7, $7)""",
        case_id_of(event),
        d["referral_id"],
        d["provider_id"],
        d["service_id"],
        d["goal_id"],
        event.metadata.actor_id,
        event.occurred_at,
    )


async def _update(conn: asyncpg.Connection, event: RecordedEvent, sets: str, *args: object) -> None:
    await conn.execute(
        f"UPDATE referrals SET {sets}, updated_at = $3 WHERE case_id = $1 AND referral_id = $2",
        case_id_of(event),
        data_of(event)["referral_id"],
        event.occurred_at,
        *args,
    )


async def dispatched(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(
        conn,
        event,
        "status = 'sent', dispatched_at = $3, dispatch_attempts = $4, dispatch_error = NULL",
        data_of(event)["attempts"],
    )


async def dispatch_failed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    d = data_of(event)
    await _update(
        conn,
        event,
        "status = 'dispatch_failed', dispatch_attempts = $4, dispatch_error = $5",
        d["attempts"],
        d["error"],
    )


async def accepted(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(conn, event, "status = 'accepted', responded_at = $3")


async def declined(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(conn, event, "status = 'declined', responded_at = $3")


async def completed(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(
        conn,
        event,
        "status = 'completed', completed_at = $3, responded_at = coalesce(responded_at, $3)",
    )


async def follow_up_due(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(conn, event, "follow_up_due_at = $3")


async def report_received(conn: asyncpg.Connection, event: RecordedEvent) -> None:
    await _update(conn, event, "reports = reports + 1, last_report_at = $3")


HANDLERS: dict[str, Handler] = {
    "ReferralMade": made,
    "ReferralDispatched": dispatched,
    "ReferralDispatchFailed": dispatch_failed,
    "ReferralAccepted": accepted,
    "ReferralDeclined": declined,
    "ReferralCompleted": completed,
    "ProviderReportReceived": report_received,
    "ReferralFollowUpDue": follow_up_due,
}

PROJECTION = Projection(
    name=NAME,
    tables=("referrals",),
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)
