"""Escalation notifications and action reminders through the outbox, delivered once.

For each escalation level the workflow runs `deliver_escalation`; for each reminder
that an action of the plan falls due soon, `deliver_action_reminder` (to the action's
worker; `activities/outbox.py` holds the rows and the delivery). It resolves the
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

from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.outbox import Delivery, Notice, record_and_deliver
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


class ReminderNotice(BaseModel):
    """An open action of the plan falls due soon (`ActionReminderDue`): ids and dates only,
    never the client's details."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    action_id: str
    due_at: datetime
    worker: str
    team: str
    reminded_at: datetime


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
        delivery = await record_and_deliver(
            self.store.pool,
            [
                Notice(
                    key=f"{notice.case_id}:{notice.escalation_id}:{notice.level}:{m.staff_id}",
                    case_id=notice.case_id,
                    subject_id=notice.escalation_id,
                    level=notice.level,
                    recipient=m.staff_id,
                    notify_role=notice.notify,
                    channel_url=m.webhook_url,
                    document={**document, "recipient": m.staff_id},
                )
                for m in recipients
            ],
        )
        return _reported(log, "escalation", recipients, delivery)

    @activity.defn(name="deliver_action_reminder")
    async def deliver_action_reminder(self, notice: ReminderNotice) -> DeliveryReport:
        """Remind the action's worker (their supervisors when the worker has left, the
        managers when the team has none) that an action of the plan falls due soon."""
        log = get_logger(case_id=notice.case_id, action_id=notice.action_id)
        directory = await load_staff_directory(self.store)
        try:
            recipients = [directory.active_member(notice.worker)]
            role = "worker"
        except LookupError:
            recipients, role = list(directory.supervisors_of(notice.team)), "supervisor"
            if not recipients:
                recipients, role = list(directory.managers()), "manager"
        if not recipients:
            raise ApplicationError(
                f"no one to remind of {notice.action_id}: {notice.worker} is not an active "
                f"member and team {notice.team} has no supervisor, the agency no manager",
                type="NoRecipient",
                non_retryable=True,  # a reminder is not worth holding the case for
            )
        document: dict[str, Any] = {
            "kind": "action_reminder",
            **notice.model_dump(mode="json"),
        }
        due = notice.due_at.isoformat()
        delivery = await record_and_deliver(
            self.store.pool,
            [
                Notice(
                    key=f"{notice.case_id}:reminder:{notice.action_id}:{due}:{m.staff_id}",
                    case_id=notice.case_id,
                    subject_id=f"reminder-{notice.action_id}",
                    level=0,
                    recipient=m.staff_id,
                    notify_role=role,
                    channel_url=m.webhook_url,
                    document={**document, "recipient": m.staff_id},
                )
                for m in recipients
            ],
        )
        return _reported(log, "action reminder", recipients, delivery)


def _reported(
    log: Any, what: str, recipients: list[StaffMember], delivery: Delivery
) -> DeliveryReport:
    """The report of a delivery; raised (so Temporal retries) while any recipient lacks it."""
    if delivery.failed:
        log.warning(f"{what} delivery incomplete", failed=len(delivery.failed))
        raise ApplicationError(
            "not delivered to " + "; ".join(delivery.failed), type="NotificationUndelivered"
        )
    log.info(f"{what} delivered", recipients=len(recipients))
    return DeliveryReport(
        recipients=[m.staff_id for m in recipients],
        delivered=delivery.delivered,
        inbox_only=delivery.inbox_only,
        already_delivered=delivery.already_delivered,
    )
