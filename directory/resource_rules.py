"""Pure decisions over the resource directory: a command and the directory give one event.

Only admins change the directory; ids are never reused; a service belongs to an
active provider. Errors name the field or id at fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from cases.actors import Actor
from directory.errors import Refused
from directory.resources import ResourceDirectory
from directory.rules import KEEP, Keep, build, kept, require_admin
from events.directory_events import (
    ProviderAdded,
    ProviderCategory,
    ProviderChanged,
    ProviderDeactivated,
    ProviderServiceAdded,
    ProviderServiceWithdrawn,
)
from events.vocabulary import Domain


def decide_add_provider(
    directory: ResourceDirectory,
    actor: Actor,
    provider_id: str,
    name: str,
    category: ProviderCategory | str,
    webhook_url: str,
    phone: str | None = None,
    email: str | None = None,
    eligibility: str = "",
) -> ProviderAdded:
    require_admin(actor, "add a provider")
    event = build(
        ProviderAdded,
        provider_id=provider_id,
        name=name,
        category=category,
        channel={"webhook_url": webhook_url, "phone": phone, "email": email},
        eligibility=eligibility,
    )
    if event.provider_id in directory.providers:
        raise Refused(f"provider_id: {provider_id!r} is already in the resource directory")
    return event


def decide_change_provider(
    directory: ResourceDirectory,
    actor: Actor,
    provider_id: str,
    *,
    name: str | Keep = KEEP,
    category: ProviderCategory | str | Keep = KEEP,
    webhook_url: str | Keep = KEEP,
    phone: str | Keep | None = KEEP,
    email: str | Keep | None = KEEP,
    eligibility: str | Keep = KEEP,
    reason: str | None = None,
) -> ProviderChanged:
    """A new profile for an active provider; pass KEEP for what stays as it is."""
    require_admin(actor, "change a provider")
    provider = directory.provider(provider_id)
    channel = provider.channel
    event = build(
        ProviderChanged,
        provider_id=provider_id,
        name=kept(name, provider.name),
        category=kept(category, provider.category),
        channel={
            "webhook_url": kept(webhook_url, channel.webhook_url),
            "phone": kept(phone, channel.phone),
            "email": kept(email, channel.email),
        },
        eligibility=kept(eligibility, provider.eligibility),
        reason=reason,
    )
    unchanged = (
        event.name == provider.name
        and event.category is provider.category
        and event.channel == provider.channel
        and event.eligibility == provider.eligibility
    )
    if unchanged:
        raise Refused(f"nothing to change for provider {provider_id}: the profile is already so")
    return event


def decide_deactivate_provider(
    directory: ResourceDirectory, actor: Actor, provider_id: str, reason: str
) -> ProviderDeactivated:
    require_admin(actor, "deactivate a provider")
    directory.provider(provider_id)
    return build(ProviderDeactivated, provider_id=provider_id, reason=reason)


def decide_add_service(
    directory: ResourceDirectory,
    actor: Actor,
    provider_id: str,
    service_id: str,
    name: str,
    domains: Sequence[Domain | str],
    eligibility: str = "",
) -> ProviderServiceAdded:
    require_admin(actor, "add a service")
    event = build(
        ProviderServiceAdded,
        provider_id=provider_id,
        service_id=service_id,
        name=name,
        domains=list(domains),
        eligibility=eligibility,
    )
    provider = directory.provider(provider_id)
    if provider.find_service(event.service_id) is not None:
        raise Refused(f"service_id: provider {provider_id!r} already has {service_id!r}")
    return event


def decide_withdraw_service(
    directory: ResourceDirectory,
    actor: Actor,
    provider_id: str,
    service_id: str,
    reason: str,
) -> ProviderServiceWithdrawn:
    require_admin(actor, "withdraw a service")
    directory.service(provider_id, service_id)
    return build(
        ProviderServiceWithdrawn, provider_id=provider_id, service_id=service_id, reason=reason
    )
