"""Seed the demo agency into the directories (idempotent) and its fast policy."""

from __future__ import annotations

from datetime import timedelta

from cases.actors import Actor
from cases.policy import DEFAULT_POLICY, EscalationStep, Policy
from devtools.demo.agency import PROVIDERS, STAFF, TEAMS
from directory import (
    NotFound,
    add_provider,
    add_service,
    add_staff,
    add_team,
    bootstrap_admin,
    change_provider,
    change_staff,
    load_resource_directory,
    load_staff_directory,
)
from events.store import EventStore
from events.vocabulary import RiskLevel

DEMO_POLICY = Policy(
    review_interval={
        RiskLevel.CRISIS: timedelta(seconds=25),
        RiskLevel.HIGH: timedelta(seconds=35),
        RiskLevel.MEDIUM: timedelta(seconds=45),
        RiskLevel.LOW: timedelta(seconds=60),
    },
    review_grace=timedelta(seconds=15),
    escalation_ladder=[
        EscalationStep(notify="supervisor", after=timedelta(0)),
        EscalationStep(notify="manager", after=timedelta(seconds=20)),
    ],
    approval_deadline=timedelta(seconds=90),
    referral_reply_deadline=timedelta(seconds=60),
    action_reminder_lead=timedelta(seconds=5),
)
"""Second-scale durations, so reviews go due, lapse and escalate while you watch."""

AGENCY_POLICY = DEFAULT_POLICY
"""What the demo puts back in force when it ends: reviews every 7 to 90 days by risk,
a week's grace, the manager a week after the supervisor (cases/policy.py)."""

REVIEW_LEAD = timedelta(seconds=5)
"""How long before a review is due the demo's workers do it (every case but the
neglected ones): well inside the shortest interval, and with the grace period on top
there are 20 s to get it recorded before it would lapse."""


def webhook_templates(base_url: str) -> tuple[str, str]:
    """The staff and provider webhook URL templates of a provider simulator at
    `base_url`, as `seed_directories` takes them."""
    return (
        base_url + "/notifications/{staff_id}",
        base_url + "/providers/{provider_id}/referrals",
    )


async def seed_directories(store: EventStore, staff_url: str, provider_url: str) -> Actor:
    """Teams, staff and providers; webhooks point at the simulator. Returns the admin."""
    staff = await load_staff_directory(store)
    admin_seed = STAFF[0]
    if staff.is_empty:
        await bootstrap_admin(store, admin_seed.staff_id, admin_seed.name)
        staff = await load_staff_directory(store)
    admin = staff.actor(admin_seed.staff_id)
    for team_id, name in TEAMS.items():
        if team_id not in staff.teams:
            await add_team(store, admin, team_id, name)
    for person in STAFF[1:]:
        url = staff_url.format(staff_id=person.staff_id)
        if person.staff_id not in staff.members:
            await add_staff(
                store, admin, person.staff_id, person.name, person.role, person.team, url
            )
        elif staff.members[person.staff_id].webhook_url != url:
            await change_staff(store, admin, person.staff_id, webhook_url=url, reason="demo")
    resources = await load_resource_directory(store)
    for provider in PROVIDERS:
        url = provider_url.format(provider_id=provider.provider_id)
        try:
            existing = resources.any_provider(provider.provider_id)
        except NotFound:
            await add_provider(
                store,
                admin,
                provider.provider_id,
                provider.name,
                provider.category,
                url,
                eligibility=provider.eligibility,
            )
            for service in provider.services:
                await add_service(
                    store,
                    admin,
                    provider.provider_id,
                    service.service_id,
                    service.name,
                    list(service.domains),
                    service.eligibility,
                )
            continue
        if str(existing.channel.webhook_url) != url:
            await change_provider(
                store, admin, provider.provider_id, webhook_url=url, reason="demo simulator"
            )
    return admin
