"""The resource directory as a pure fold of its events: providers and their services.

Like `StaffDirectory`, `ResourceDirectory` is immutable and `fold` returns a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from directory.errors import NotFound
from events.directory_events import (
    ContactChannel,
    ProviderAdded,
    ProviderCategory,
    ProviderChanged,
    ProviderDeactivated,
    ProviderServiceAdded,
    ProviderServiceWithdrawn,
)
from events.hsds_events import ServiceProfile, ServiceProfileRecorded
from events.registry import DomainEvent
from events.vocabulary import Domain


class Service(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_id: str
    service_id: str
    name: str
    eligibility: str = ""
    domains: tuple[Domain, ...]
    active: bool = True
    withdrawal_reason: str | None = None
    profile: ServiceProfile | None = None
    """Its HSDS profile, for a service imported from the community's directory."""


class Provider(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_id: str
    name: str
    category: ProviderCategory
    channel: ContactChannel
    eligibility: str = ""
    services: tuple[Service, ...] = ()
    """Every service ever added, withdrawn ones included, in the order added."""
    active: bool = True
    deactivation_reason: str | None = None

    def find_service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.service_id == service_id), None)

    @property
    def active_services(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.active)


@dataclass(frozen=True)
class ResourceDirectory:
    """Providers and their services as of stream version `version`."""

    providers: Mapping[str, Provider] = field(default_factory=lambda: MappingProxyType({}))
    version: int = 0

    @classmethod
    def from_events(cls, events: Iterable[DomainEvent]) -> ResourceDirectory:
        return cls().fold(events)

    def fold(self, events: Iterable[DomainEvent]) -> ResourceDirectory:
        providers = dict(self.providers)
        version = self.version
        for event in events:
            _apply(providers, event)
            version += 1
        if version == self.version:
            return self
        return ResourceDirectory(MappingProxyType(providers), version)

    # --- lookups ----------------------------------------------------------------------

    def any_provider(self, provider_id: str) -> Provider:
        """The provider with this id, active or deactivated."""
        try:
            return self.providers[provider_id]
        except KeyError:
            raise NotFound(f"no provider {provider_id!r} in the resource directory") from None

    def provider(self, provider_id: str) -> Provider:
        """An active provider; NotFound (a LookupError) if unknown or deactivated."""
        provider = self.any_provider(provider_id)
        if not provider.active:
            raise NotFound(
                f"provider {provider_id!r} is deactivated ({provider.deactivation_reason})"
            )
        return provider

    def service(self, provider_id: str, service_id: str) -> Service:
        """An active service of an active provider; NotFound naming what is missing."""
        found = self.provider(provider_id).find_service(service_id)
        if found is None:
            raise NotFound(f"provider {provider_id!r} has no service {service_id!r}")
        if not found.active:
            raise NotFound(
                f"service {service_id!r} of provider {provider_id!r} is withdrawn "
                f"({found.withdrawal_reason})"
            )
        return found

    def listing(
        self,
        category: ProviderCategory | None = None,
        domain: Domain | None = None,
        include_inactive: bool = False,
    ) -> list[Provider]:
        """Providers (of `category`, offering an active service for `domain`)."""
        return [
            p
            for p in self.providers.values()
            if (include_inactive or p.active)
            and (category is None or p.category is category)
            and (domain is None or any(domain in s.domains for s in p.active_services))
        ]

    def services_for(self, domain: Domain) -> list[Service]:
        """Active services of active providers that address `domain`."""
        return [
            s
            for p in self.providers.values()
            if p.active
            for s in p.active_services
            if domain in s.domains
        ]


def _apply(providers: dict[str, Provider], event: DomainEvent) -> None:
    match event:
        case ProviderAdded():
            providers[event.provider_id] = Provider(
                provider_id=event.provider_id,
                name=event.name,
                category=event.category,
                channel=event.channel,
                eligibility=event.eligibility,
            )
        case ProviderChanged():
            providers[event.provider_id] = providers[event.provider_id].model_copy(
                update={
                    "name": event.name,
                    "category": event.category,
                    "channel": event.channel,
                    "eligibility": event.eligibility,
                }
            )
        case ProviderDeactivated():
            providers[event.provider_id] = providers[event.provider_id].model_copy(
                update={"active": False, "deactivation_reason": event.reason}
            )
        case ProviderServiceAdded():
            provider = providers[event.provider_id]
            service = Service(
                provider_id=event.provider_id,
                service_id=event.service_id,
                name=event.name,
                eligibility=event.eligibility,
                domains=tuple(event.domains),
            )
            providers[event.provider_id] = provider.model_copy(
                update={"services": (*provider.services, service)}
            )
        case ProviderServiceWithdrawn():
            provider = providers[event.provider_id]
            services = tuple(
                s.model_copy(update={"active": False, "withdrawal_reason": event.reason})
                if s.service_id == event.service_id
                else s
                for s in provider.services
            )
            providers[event.provider_id] = provider.model_copy(update={"services": services})
        case ServiceProfileRecorded():
            provider = providers[event.provider_id]
            profile = event.profile
            services = tuple(
                s.model_copy(
                    update={
                        "name": profile.name,
                        "eligibility": profile.eligibility,
                        "domains": tuple(profile.domains),
                        "profile": profile,
                    }
                )
                if s.service_id == event.service_id
                else s
                for s in provider.services
            )
            providers[event.provider_id] = provider.model_copy(update={"services": services})
        case _:
            raise ValueError(f"{event.type} is not an event of the resource directory")
