"""Referring a client: the provider and service come from the resource directory, and
the referral goes to the provider's own channel."""

from __future__ import annotations

from application.bootstrap import Casework
from cases import commands as c
from cases.actors import Actor
from directory import NotFound, load_resource_directory
from events.vocabulary import SharedField
from workflows.case import CommandResult


async def refer(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    provider: str,
    service: str,
    goal: str,
    shared_fields: list[SharedField],
    note: str = "",
    expected_version: int | None = None,
    update_id: str | None = None,
) -> CommandResult:
    """Refer the case's client to `provider`'s active `service` for `goal` (`update_id`:
    the Update's id, so that a retry with it refers once)."""
    resources = await load_resource_directory(app.store)
    found = resources.provider(provider)
    offered = found.find_service(service)
    if offered is None or not offered.active:
        raise NotFound(f"service: {provider} offers no active service {service!r}")
    cmd = c.Refer(
        actor=actor,
        provider_id=provider,
        service_id=service,
        goal_id=goal,
        channel_url=found.channel.webhook_url,
        shared_fields=shared_fields,
        note=note,
        expected_version=expected_version,
    )
    return await (await app.cases()).execute(case_id, cmd, update_id=update_id)
