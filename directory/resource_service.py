"""Commands on the resource directory over the event store (stream `directory-providers`)."""

from __future__ import annotations

from collections.abc import Sequence

from cases.actors import Actor
from directory import resource_rules
from directory.resources import Provider, Service
from directory.rules import KEEP, Keep
from directory.service import change_directory, load_resource_directory
from events.directory_events import PROVIDER_STREAM, ProviderCategory
from events.store import EventStore
from events.vocabulary import Domain


async def add_provider(
    store: EventStore,
    actor: Actor,
    provider_id: str,
    name: str,
    category: ProviderCategory | str,
    webhook_url: str,
    phone: str | None = None,
    email: str | None = None,
    eligibility: str = "",
) -> Provider:
    directory = await change_directory(
        store,
        PROVIDER_STREAM,
        load_resource_directory,
        lambda d: resource_rules.decide_add_provider(
            d, actor, provider_id, name, category, webhook_url, phone, email, eligibility
        ),
        actor,
    )
    return directory.any_provider(provider_id)


async def change_provider(
    store: EventStore,
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
) -> Provider:
    """Change an active provider's profile (KEEP: leave an attribute as it is)."""
    directory = await change_directory(
        store,
        PROVIDER_STREAM,
        load_resource_directory,
        lambda d: resource_rules.decide_change_provider(
            d,
            actor,
            provider_id,
            name=name,
            category=category,
            webhook_url=webhook_url,
            phone=phone,
            email=email,
            eligibility=eligibility,
            reason=reason,
        ),
        actor,
    )
    return directory.any_provider(provider_id)


async def deactivate_provider(
    store: EventStore, actor: Actor, provider_id: str, reason: str
) -> Provider:
    directory = await change_directory(
        store,
        PROVIDER_STREAM,
        load_resource_directory,
        lambda d: resource_rules.decide_deactivate_provider(d, actor, provider_id, reason),
        actor,
    )
    return directory.any_provider(provider_id)


async def add_service(
    store: EventStore,
    actor: Actor,
    provider_id: str,
    service_id: str,
    name: str,
    domains: Sequence[Domain | str],
    eligibility: str = "",
) -> Service:
    directory = await change_directory(
        store,
        PROVIDER_STREAM,
        load_resource_directory,
        lambda d: resource_rules.decide_add_service(
            d, actor, provider_id, service_id, name, domains, eligibility
        ),
        actor,
    )
    return directory.service(provider_id, service_id)


async def withdraw_service(
    store: EventStore, actor: Actor, provider_id: str, service_id: str, reason: str
) -> Service:
    directory = await change_directory(
        store,
        PROVIDER_STREAM,
        load_resource_directory,
        lambda d: resource_rules.decide_withdraw_service(d, actor, provider_id, service_id, reason),
        actor,
    )
    service = directory.any_provider(provider_id).find_service(service_id)
    assert service is not None
    return service
