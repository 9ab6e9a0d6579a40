"""`deliver_action_reminder` against the real outbox table and a real webhook receiver:
who gets an action's reminder, once, whatever the retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities, ReminderNotice
from cases.actors import Actor
from devtools.provider_simulator import Behaviour, ProviderSimulator
from directory import add_staff, add_team, bootstrap_admin
from events.store import EventStore

# The notice's own dates: nothing here is compared with the machine's clock.
DUE = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)


def notice(worker: str, action_id: str = "action-1") -> ReminderNotice:
    return ReminderNotice(
        case_id=str(uuid.uuid4()),
        action_id=action_id,
        due_at=DUE,
        worker=worker,
        team="north",
        reminded_at=DUE - timedelta(days=2),
    )


async def staff(store: EventStore, sim: ProviderSimulator, *, supervisor: bool = True) -> Actor:
    """Alice (no webhook) and Bob in the north team, with its supervisor Carol (or none),
    and Max the manager; the admin who added them."""
    admin = (await bootstrap_admin(store, "root", "Agency admin")).as_actor()
    await add_team(store, admin, "north", "North team")
    await add_staff(store, admin, "alice", "Alice", "caseworker", "north", None)
    await add_staff(store, admin, "bob", "Bob", "caseworker", "north", sim.notification_url("bob"))
    if supervisor:
        await add_staff(
            store, admin, "carol", "Carol", "supervisor", "north", sim.notification_url("carol")
        )
    await add_staff(store, admin, "max", "Max", "manager", None, sim.notification_url("max"))
    return admin


async def test_the_worker_gets_it_once_however_often_it_is_sent(
    store: EventStore, simulator: ProviderSimulator
) -> None:
    await staff(store, simulator)
    activities = NotificationActivities(store)
    sent = notice("bob")
    first = await ActivityEnvironment().run(activities.deliver_action_reminder, sent)
    again = await ActivityEnvironment().run(activities.deliver_action_reminder, sent)
    assert (first.delivered, again.already_delivered) == (["bob"], ["bob"])
    [received] = simulator.notifications_for("bob")
    assert received.deliveries == 1
    assert received.body["kind"] == "action_reminder"
    assert (received.body["action_id"], received.body["due_at"]) == (
        "action-1",
        "2031-03-14T09:00:00Z",
    )
    row = await store.pool.fetchrow(
        "SELECT escalation_id, level, notify_role, delivered_at FROM notification_outbox"
    )
    assert row is not None
    assert (row["escalation_id"], row["level"], row["notify_role"]) == (
        "reminder-action-1",
        0,
        "worker",
    )
    assert row["delivered_at"] is not None


async def test_a_worker_without_a_webhook_finds_it_in_the_inbox(
    store: EventStore, simulator: ProviderSimulator
) -> None:
    await staff(store, simulator)
    report = await ActivityEnvironment().run(
        NotificationActivities(store).deliver_action_reminder, notice("alice")
    )
    assert (report.recipients, report.inbox_only, report.delivered) == (["alice"], ["alice"], [])
    assert not simulator.notifications


async def test_a_worker_who_has_left_is_replaced_by_the_supervisors_then_the_managers(
    store: EventStore, simulator: ProviderSimulator
) -> None:
    admin = await staff(store, simulator, supervisor=False)
    activities = NotificationActivities(store)
    report = await ActivityEnvironment().run(activities.deliver_action_reminder, notice("gone"))
    assert report.delivered == ["max"]  # no supervisor in the team: the managers
    await add_staff(
        store, admin, "carol", "Carol", "supervisor", "north", simulator.notification_url("carol")
    )
    report = await ActivityEnvironment().run(
        activities.deliver_action_reminder, notice("gone", action_id="action-2")
    )
    assert report.delivered == ["carol"]
    roles = await store.pool.fetch("SELECT recipient, notify_role FROM notification_outbox")
    assert {(r["recipient"], r["notify_role"]) for r in roles} == {
        ("max", "manager"),
        ("carol", "supervisor"),
    }


async def test_an_unreachable_webhook_fails_the_attempt_and_keeps_the_row(
    store: EventStore, simulator: ProviderSimulator
) -> None:
    await staff(store, simulator)
    simulator.configure_recipient("bob", Behaviour.failing_first(1))
    with pytest.raises(ApplicationError, match="not delivered to bob"):
        await ActivityEnvironment().run(
            NotificationActivities(store).deliver_action_reminder, notice("bob")
        )
    row = await store.pool.fetchrow(
        "SELECT attempts, last_error, delivered_at FROM notification_outbox"
    )
    assert row is not None
    assert (row["attempts"], row["delivered_at"]) == (1, None) and row["last_error"]
