"""Escalation notifications through a PostgreSQL outbox, delivered exactly once.

For each escalation level the workflow runs `deliver_escalation`. It resolves the
recipients in the staff directory (the assigned worker, the supervisors of the
case's team, or the managers, as the policy's ladder says), writes one outbox row
per recipient (idempotent: the key is `case:escalation:level:recipient`), then
POSTs each undelivered row to the recipient's webhook with that key as
`Idempotency-Key` and marks it delivered. A worker killed mid-delivery retries
with the same keys: rows already delivered are skipped and the receiver recognises
a repeated key, so each recipient acts on each escalation level once.

Recipients without a webhook get the row only (their in-app inbox). Documents carry
ids and reasons, never a client's personal details.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.webhooks import post_json
from directory import load_staff_directory
from directory.staff import StaffMember
from events.store import EventStore
from infrastructure.logs import get_logger

RETRY_POLICY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=0,
)
"""Escalations must reach someone: retry until delivered (capped at 5 minutes apart)."""

START_TO_CLOSE_TIMEOUT: Final = timedelta(seconds=60)


class EscalationNotice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    escalation_id: str
    level: int
    subject: str
    subject_id: str
    notify: str
    team: str
    assigned_worker: str
    reason: str
    raised_at: datetime


class DeliveryReport(BaseModel):
    recipients: list[str]
    delivered: list[str]
    inbox_only: list[str]
    already_delivered: list[str]


class NotificationActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def _recipients(self, notice: EscalationNotice) -> list[StaffMember]:
        directory = await load_staff_directory(self.store)
        if notice.notify == "worker":
            try:
                found = [directory.active_member(notice.assigned_worker)]
            except LookupError:
                found = []
        elif notice.notify == "supervisor":
            found = list(directory.supervisors_of(notice.team))
        else:
            found = list(directory.managers())
        if not found and notice.notify != "manager":
            found = list(directory.managers())  # nobody at that level: go up
        return found

    @activity.defn(name="deliver_escalation")
    async def deliver_escalation(self, notice: EscalationNotice) -> DeliveryReport:
        log = get_logger(
            case_id=notice.case_id, escalation_id=notice.escalation_id, level=notice.level
        )
        recipients = await self._recipients(notice)
        if not recipients:
            raise ApplicationError(
                f"no one to notify for {notice.escalation_id}: the staff directory has no "
                f"{notice.notify} for team {notice.team} and no manager",
                type="NoRecipient",
            )
        document: dict[str, Any] = {
            "kind": "escalation",
            **notice.model_dump(mode="json"),
        }
        pool: asyncpg.Pool = self.store.pool
        rows = [
            (
                f"{notice.case_id}:{notice.escalation_id}:{notice.level}:{m.staff_id}",
                notice.case_id,
                notice.escalation_id,
                notice.level,
                m.staff_id,
                notice.notify,
                m.webhook_url,
                json.dumps({**document, "recipient": m.staff_id}),
            )
            for m in recipients
        ]
        await pool.executemany(
            """INSERT INTO notification_outbox (key, case_id, escalation_id, level, recipient,
                   notify_role, channel_url, document)
               VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8::jsonb)
               ON CONFLICT (key) DO NOTHING""",
            rows,
        )
        report = DeliveryReport(
            recipients=[m.staff_id for m in recipients],
            delivered=[],
            inbox_only=[],
            already_delivered=[],
        )
        failures: list[str] = []
        for key, *_rest in rows:
            row = await pool.fetchrow(
                """SELECT recipient, channel_url, document::text AS document, delivered_at
                     FROM notification_outbox WHERE key = $1""",
                key,
            )
            assert row is not None
            if row["delivered_at"] is not None:
                report.already_delivered.append(row["recipient"])
                continue
            if not row["channel_url"]:
                await pool.execute(
                    "UPDATE notification_outbox SET delivered_at = now() WHERE key = $1", key
                )
                report.inbox_only.append(row["recipient"])
                continue
            try:
                await post_json(
                    row["channel_url"], json.loads(row["document"]), idempotency_key=key
                )
            except Exception as exc:
                await pool.execute(
                    """UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2
                        WHERE key = $1""",
                    key,
                    str(exc)[:500],
                )
                failures.append(f"{row['recipient']}: {exc}")
                continue
            await pool.execute(
                """UPDATE notification_outbox
                      SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
                    WHERE key = $1""",
                key,
            )
            report.delivered.append(row["recipient"])
        if failures:
            log.warning("escalation delivery incomplete", failed=len(failures))
            raise ApplicationError(
                "not delivered to " + "; ".join(failures), type="NotificationUndelivered"
            )
        log.info("escalation delivered", recipients=len(recipients))
        return report
