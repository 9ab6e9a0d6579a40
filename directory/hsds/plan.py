"""An HSDS package against the resource directory: what an import would change (pure).

`plan_import(package, directory, …)` checks every row (schema.py), refuses the bad
ones individually (each named: resource, row, id, field, reason) and compares each
good service's profile, made canonical (child lists sorted), with the one the directory
holds: a new service is added (`ProviderServiceAdded` + `ServiceProfileRecorded`), a
different profile is recorded naming the fields that changed, an equal one writes
nothing (so importing the same package twice changes nothing), a service whose status
turns inactive or defunct is withdrawn. A service the package no longer lists is left
alone unless `withdraw_missing`. Organizations become providers (their HSDS id is the
provider id); a new one is reached through `channel_for(provider_id)` (the portal).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from directory.hsds import mapping, schema
from directory.hsds.package import RawPackage, reason
from directory.resources import ResourceDirectory
from events.directory_events import (
    ContactChannel,
    EmailAddress,
    ProviderAdded,
    ProviderChanged,
    ProviderServiceAdded,
    ProviderServiceWithdrawn,
)
from events.hsds_events import (
    Capacity,
    Contact,
    ImportRefusal,
    Location,
    Schedule,
    ServiceArea,
    ServiceProfile,
    ServiceProfileRecorded,
)
from events.registry import DomainEvent
from events.vocabulary import Domain

R = TypeVar("R", bound=BaseModel)

INACTIVE = frozenset({"inactive", "defunct"})
GEOMETRY = frozenset({"geojson", "topojson", "kml"})


@dataclass(frozen=True)
class Refusal:
    """A row not imported: `where` reads like `services[3].name`."""

    resource: str
    row: int
    id: str | None
    field: str
    reason: str
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.resource}[{self.row}].{self.field}"

    def record(self) -> ImportRefusal:
        text = self.reason % dict(self.values) if self.values else self.reason
        return ImportRefusal(
            resource=self.resource, row=self.row, id=self.id, field=self.field, reason=text[:200]
        )


@dataclass(frozen=True)
class Change:
    service_id: str
    provider_id: str
    fields: tuple[str, ...]


@dataclass
class ImportPlan:
    version: str
    events: list[DomainEvent] = dataclasses.field(default_factory=list)
    added: list[str] = dataclasses.field(default_factory=list)
    changed: list[Change] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    withdrawn: list[str] = dataclasses.field(default_factory=list)
    providers_added: list[str] = dataclasses.field(default_factory=list)
    providers_changed: list[str] = dataclasses.field(default_factory=list)
    refusals: list[Refusal] = dataclasses.field(default_factory=list)


def _check(
    model: type[R], resource: str, index: int, row: dict[str, Any], refusals: list[Refusal]
) -> R | None:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(row)"
        missing = first["type"] == "missing"
        ident = row.get("id")
        refusals.append(
            Refusal(
                resource,
                index,
                str(ident)[:100] if ident is not None else None,
                where,
                reason("required") if missing else reason("invalid: %(problem)s"),
                {} if missing else {"problem": first["msg"]},
            )
        )
        return None


def _rows(package: RawPackage, resource: str, model: type[R], refusals: list[Refusal]) -> list[R]:
    out = []
    for index, row in enumerate(package.rows(resource)):
        checked = _check(model, resource, index, row, refusals)
        if checked is not None:
            out.append(checked)
    return out


def _nested(package: RawPackage, resource: str, key: str) -> list[tuple[int, dict[str, Any]]]:
    """Child rows given inside each service (the JSON form), with the service's id."""
    out = []
    for service in package.rows("services"):
        for child in service.get(key) or []:
            if isinstance(child, dict):
                out.append({**child, "service_id": child.get("service_id", service.get("id"))})
    return list(enumerate(out))


def _children(
    package: RawPackage, resource: str, model: type[R], refusals: list[Refusal]
) -> dict[str, list[R]]:
    """A child resource's rows by service id: its table's and those nested in services."""
    by_service: dict[str, list[R]] = defaultdict(list)
    rows = list(enumerate(package.rows(resource)))
    nested = _nested(package, resource, resource)
    for source, entries in ((resource, rows), (f"services.{resource}", nested)):
        for index, row in entries:
            checked = _check(model, source, index, row, refusals)
            if checked is None:
                continue
            owner = getattr(checked, "service_id", None) or getattr(checked, "link_id", None)
            if owner is not None:
                by_service[owner].append(checked)
    return by_service


def _service_rows(package: RawPackage) -> RawPackage:
    """The JSON form may nest a service's organization: its id is the organization_id."""
    services = []
    organizations = list(package.rows("organizations"))
    known = {o.get("id") for o in organizations}
    for row in package.rows("services"):
        org = row.get("organization")
        if isinstance(org, dict) and "organization_id" not in row:
            row = {**row, "organization_id": org.get("id")}
            if org.get("id") not in known:
                organizations.append(org)
                known.add(org.get("id"))
        services.append(row)
    return RawPackage(
        package.version, {**package.resources, "services": services, "organizations": organizations}
    )


def _email(value: str | None) -> str | None:
    from pydantic import TypeAdapter

    if value is None:
        return None
    try:
        return TypeAdapter(EmailAddress).validate_python(value)
    except ValidationError:
        return None


def _schedule(row: schema.ScheduleRow) -> Schedule:
    return Schedule.model_validate(
        {
            "byday": row.byday,
            "opens_at": row.opens_at,
            "closes_at": row.closes_at,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
            "timezone": row.timezone,
        }
    )


def _area(row: schema.ServiceAreaRow) -> ServiceArea:
    codes: list[str] = []
    if row.extent and (row.extent_type or "").lower() not in GEOMETRY:
        codes = sorted({c.strip() for c in row.extent.split(",") if c.strip()})
    return ServiceArea(name=row.name, extent_type=row.extent_type, codes=codes)


def _profile_fields(profile: ServiceProfile | None) -> dict[str, Any]:
    return {} if profile is None else profile.model_dump(mode="json")


def changed_fields(before: ServiceProfile | None, after: ServiceProfile) -> list[str]:
    """The profile's fields that differ (all of them for a service without a profile)."""
    old, new = _profile_fields(before), _profile_fields(after)
    return [name for name in ServiceProfile.model_fields if old.get(name) != new.get(name)]


def plan_import(
    raw: RawPackage,
    directory: ResourceDirectory,
    *,
    import_id: str,
    channel_for: Callable[[str], str],
    needs_map: Mapping[str, Domain] | None = None,
    withdraw_missing: bool = False,
) -> ImportPlan:
    package = _service_rows(raw)
    plan = ImportPlan(version=package.version)
    refusals = plan.refusals

    # Organizations, checked; the valid ones by id.
    organizations: dict[str, schema.OrganizationRow] = {}
    for index, row in enumerate(package.rows("organizations")):
        org = _check(schema.OrganizationRow, "organizations", index, row, refusals)
        if org is None:
            continue
        if org.id in organizations:
            refusals.append(
                Refusal(
                    "organizations", index, org.id, "id", reason("appears twice in the package")
                )
            )
            continue
        organizations[org.id] = org

    # Child resources, by service id.
    languages = _children(package, "languages", schema.LanguageRow, refusals)
    schedules = _children(package, "schedules", schema.ScheduleRow, refusals)
    areas = _children(package, "service_areas", schema.ServiceAreaRow, refusals)
    contacts = _children(package, "contacts", schema.ContactRow, refusals)
    phones = _children(package, "phones", schema.PhoneRow, refusals)
    capacities = _children(package, "service_capacities", schema.CapacityRow, refusals)
    attributes = _children(package, "attributes", schema.AttributeRow, refusals)
    at_locations = _children(package, "service_at_locations", schema.ServiceAtLocationRow, refusals)
    locations = {r.id: r for r in _rows(package, "locations", schema.LocationRow, refusals)}
    units = {r.id: r for r in _rows(package, "units", schema.UnitRow, refusals)}
    terms = {r.id: r for r in _rows(package, "taxonomy_terms", schema.TaxonomyTermRow, refusals)}
    contact_phones: dict[str, list[str]] = defaultdict(list)
    for row in package.rows("phones"):
        if row.get("contact_id") and row.get("number"):
            contact_phones[str(row["contact_id"])].append(str(row["number"]))
    nested_terms: dict[str, list[str]] = defaultdict(list)
    for raw_service in package.rows("services"):
        for attribute in raw_service.get("attributes") or []:
            term = attribute.get("taxonomy_term") if isinstance(attribute, dict) else None
            if isinstance(term, dict):
                for text in (term.get("code"), term.get("name")):
                    if isinstance(text, str):
                        nested_terms[str(raw_service.get("id"))].append(text)

    owner_of = {
        s.service_id: p.provider_id for p in directory.providers.values() for s in p.services
    }
    seen: set[str] = set()
    profiles: dict[str, list[tuple[str, ServiceProfile, str]]] = defaultdict(list)

    for index, row in enumerate(package.rows("services")):
        service = _check(schema.ServiceRow, "services", index, row, refusals)
        if service is None:
            if row.get("id") is not None:
                seen.add(str(row["id"]))
            continue

        def refuse(
            fieldname: str, why: str, index: int = index, sid: str = service.id, **values: Any
        ) -> None:
            refusals.append(Refusal("services", index, sid, fieldname, why, values))

        if service.id in seen:
            refuse("id", reason("appears twice in the package"))
            continue
        seen.add(service.id)
        if service.organization_id not in organizations:
            refuse(
                "organization_id",
                reason("no valid organization %(organization)s in the package"),
                organization=service.organization_id,
            )
            continue
        owner = owner_of.get(service.id)
        if owner is not None and owner != service.organization_id:
            refuse(
                "id",
                reason("already a service of provider %(provider)s"),
                provider=owner,
            )
            continue
        words: list[str] = list(nested_terms.get(service.id, []))
        for attribute in attributes.get(service.id, []):
            term = terms.get(attribute.taxonomy_term_id or "")
            if term is not None:
                words.extend(t for t in (term.code, term.name) if t)
        domains = mapping.domains_of(words, needs_map)
        if not domains:
            refuse(
                "attributes",
                reason("no taxonomy term names a need Casework knows (map terms with --needs-map)"),
            )
            continue
        try:
            profile = ServiceProfile(
                name=service.name,
                status=service.status,
                domains=domains,
                description=service.description,
                url=service.url,
                email=service.email,
                eligibility=service.eligibility_description,
                minimum_age=service.minimum_age,
                maximum_age=service.maximum_age,
                languages=sorted({r.code for r in languages.get(service.id, [])}),
                schedules=sorted(
                    (_schedule(r) for r in schedules.get(service.id, [])),
                    key=lambda s: (s.byday, s.opens_at, s.closes_at, str(s.valid_from)),
                ),
                service_areas=sorted(
                    (_area(r) for r in areas.get(service.id, [])), key=lambda a: a.name
                ),
                locations=sorted(
                    (
                        Location(
                            location_id=loc.id,
                            name=loc.name,
                            latitude=loc.latitude,
                            longitude=loc.longitude,
                        )
                        for sal in at_locations.get(service.id, [])
                        if (loc := locations.get(sal.location_id)) is not None
                    ),
                    key=lambda loc: loc.location_id,
                ),
                contacts=sorted(
                    [
                        Contact(
                            name=c.name,
                            title=c.title,
                            email=c.email,
                            phone=next(iter(contact_phones.get(c.id or "", [])), None),
                        )
                        for c in contacts.get(service.id, [])
                    ]
                    + [
                        Contact(phone=p.number)
                        for p in phones.get(service.id, [])
                        if p.contact_id is None
                    ],
                    key=lambda c: (c.name or "", c.title or "", c.phone or "", c.email or ""),
                ),
                capacities=sorted(
                    (
                        Capacity(
                            available=c.available,
                            maximum=c.maximum,
                            unit=units[c.unit_id].name if c.unit_id in units else "places",
                            updated=c.updated,
                        )
                        for c in capacities.get(service.id, [])
                    ),
                    key=lambda c: c.unit,
                ),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(row)"
            refuse(where, reason("invalid: %(problem)s"), problem=first["msg"])
            continue
        profiles[service.organization_id].append((service.id, profile, service.status))

    # Providers first, then their services.
    for org_id, org in organizations.items():
        existing = directory.providers.get(org_id)
        entries = profiles.get(org_id, [])
        if existing is None:
            if not entries:
                continue
            domains = [d for _, p, _s in entries for d in p.domains]
            plan.events.append(
                ProviderAdded(
                    provider_id=org_id,
                    name=org.name,
                    category=mapping.category_for(domains),
                    channel=ContactChannel(
                        webhook_url=channel_for(org_id), email=_email(org.email)
                    ),
                )
            )
            plan.providers_added.append(org_id)
        elif not existing.active:
            for service_id, _p, _s in entries:
                index = next(
                    i for i, r in enumerate(package.rows("services")) if r.get("id") == service_id
                )
                refusals.append(
                    Refusal(
                        "services",
                        index,
                        service_id,
                        "organization_id",
                        reason("provider %(provider)s is deactivated"),
                        {"provider": org_id},
                    )
                )
            continue
        elif existing.name != org.name:
            plan.events.append(
                ProviderChanged(
                    provider_id=org_id,
                    name=org.name,
                    category=existing.category,
                    channel=existing.channel,
                    eligibility=existing.eligibility,
                    reason="HSDS import",
                )
            )
            plan.providers_changed.append(org_id)
        current = existing.services if existing is not None else ()
        for service_id, profile, status in entries:
            before = next((s for s in current if s.service_id == service_id), None)
            if before is None:
                if status in INACTIVE:
                    plan.unchanged.append(service_id)
                    continue
                plan.events.append(
                    ProviderServiceAdded(
                        provider_id=org_id,
                        service_id=service_id,
                        name=profile.name,
                        eligibility=profile.eligibility,
                        domains=profile.domains,
                    )
                )
                plan.events.append(
                    ServiceProfileRecorded(
                        provider_id=org_id,
                        service_id=service_id,
                        profile=profile,
                        changed=changed_fields(None, profile),
                        import_id=import_id,
                    )
                )
                plan.added.append(service_id)
            elif not before.active:
                if status in INACTIVE:
                    plan.unchanged.append(service_id)
                    continue
                index = next(
                    i for i, r in enumerate(package.rows("services")) if r.get("id") == service_id
                )
                refusals.append(
                    Refusal(
                        "services",
                        index,
                        service_id,
                        "status",
                        reason("the service was withdrawn; its id cannot be used again"),
                    )
                )
            elif status in INACTIVE:
                plan.events.append(
                    ProviderServiceWithdrawn(
                        provider_id=org_id,
                        service_id=service_id,
                        reason=f"HSDS status {status}",
                    )
                )
                plan.withdrawn.append(service_id)
            elif before.profile == profile:
                plan.unchanged.append(service_id)
            else:
                fields = changed_fields(before.profile, profile)
                plan.events.append(
                    ServiceProfileRecorded(
                        provider_id=org_id,
                        service_id=service_id,
                        profile=profile,
                        changed=fields,
                        import_id=import_id,
                    )
                )
                plan.changed.append(Change(service_id, org_id, tuple(fields)))

    if withdraw_missing:
        for provider in directory.providers.values():
            if not provider.active:
                continue
            for s in provider.active_services:
                if s.profile is not None and s.service_id not in seen:
                    plan.events.append(
                        ProviderServiceWithdrawn(
                            provider_id=provider.provider_id,
                            service_id=s.service_id,
                            reason="not in the HSDS import",
                        )
                    )
                    plan.withdrawn.append(s.service_id)
    return plan
