"""The demo agency: teams and staff, providers and their services (fictional)."""

from __future__ import annotations

from dataclasses import dataclass

from events.vocabulary import Domain


@dataclass(frozen=True)
class StaffSeed:
    staff_id: str
    name: str
    role: str
    team: str | None


@dataclass(frozen=True)
class ServiceSeed:
    service_id: str
    name: str
    domains: tuple[Domain, ...]
    eligibility: str


@dataclass(frozen=True)
class ProviderSeed:
    provider_id: str
    name: str
    category: str
    eligibility: str
    services: tuple[ServiceSeed, ...]


TEAMS: dict[str, str] = {
    "north": "North Community Team",
    "south": "South Family Services",
    "east": "East Recovery & Housing",
}

STAFF: tuple[StaffSeed, ...] = (
    StaffSeed("admin", "Agency administrator", "admin", None),
    StaffSeed("m.okafor", "Miriam Okafor", "manager", None),
    StaffSeed("a.lindqvist", "Anders Lindqvist", "auditor", None),
    StaffSeed("s.patel", "Sunita Patel", "supervisor", "north"),
    StaffSeed("j.morales", "Javier Morales", "caseworker", "north"),
    StaffSeed("e.chen", "Emily Chen", "caseworker", "north"),
    StaffSeed("k.adeyemi", "Kemi Adeyemi", "caseworker", "north"),
    StaffSeed("t.walsh", "Tom Walsh", "caseworker", "north"),
    StaffSeed("r.haddad", "Rana Haddad", "supervisor", "south"),
    StaffSeed("l.novak", "Lena Novak", "caseworker", "south"),
    StaffSeed("d.owusu", "Daniel Owusu", "caseworker", "south"),
    StaffSeed("p.sharma", "Priya Sharma", "caseworker", "south"),
    StaffSeed("c.bright", "Carla Bright", "caseworker", "south"),
    StaffSeed("b.kowalski", "Bartek Kowalski", "supervisor", "east"),
    StaffSeed("n.fraser", "Niamh Fraser", "caseworker", "east"),
    StaffSeed("o.ibrahim", "Omar Ibrahim", "caseworker", "east"),
    StaffSeed("h.tanaka", "Hana Tanaka", "caseworker", "east"),
    StaffSeed("g.silva", "Gabriel Silva", "caseworker", "east"),
)

PROVIDERS: tuple[ProviderSeed, ...] = (
    ProviderSeed(
        "harbour-housing",
        "Harbour Housing Trust",
        "housing",
        "Adults at risk of homelessness in the county",
        (
            ServiceSeed("emergency-bed", "Emergency bed", (Domain.HOUSING,), "Same-day need"),
            ServiceSeed("tenancy-support", "Tenancy sustainment", (Domain.HOUSING,), ""),
        ),
    ),
    ProviderSeed(
        "eastside-food",
        "Eastside Food Bank",
        "food_assistance",
        "Referral from a case worker",
        (ServiceSeed("food-parcels", "Weekly food parcels", (Domain.INCOME,), ""),),
    ),
    ProviderSeed(
        "riverside-counselling",
        "Riverside Counselling",
        "mental_health",
        "Adults 18+; not for acute crisis",
        (ServiceSeed("counselling", "Talking therapy (12 sessions)", (Domain.MENTAL_HEALTH,), ""),),
    ),
    ProviderSeed(
        "new-dawn",
        "New Dawn Recovery",
        "substance_use_treatment",
        "Alcohol and drug users ready to engage",
        (ServiceSeed("outpatient", "Outpatient programme", (Domain.SUBSTANCE_USE,), ""),),
    ),
    ProviderSeed(
        "skills-works",
        "Skills Works",
        "job_training",
        "Unemployed adults",
        (ServiceSeed("job-readiness", "Job readiness course", (Domain.EMPLOYMENT,), ""),),
    ),
    ProviderSeed(
        "benefits-advice",
        "Citizens Benefits Advice",
        "benefits_advice",
        "Anyone living in the county",
        (ServiceSeed("benefits-check", "Benefits check", (Domain.BENEFITS, Domain.INCOME), ""),),
    ),
    ProviderSeed(
        "family-links",
        "Family Links",
        "family_support",
        "Parents and carers of children under 16",
        (
            ServiceSeed(
                "parenting", "Parenting support", (Domain.FAMILY, Domain.SOCIAL_SUPPORT), ""
            ),
        ),
    ),
)


def provider_for(domain: Domain) -> tuple[ProviderSeed, ServiceSeed] | None:
    for provider in PROVIDERS:
        for service in provider.services:
            if domain in service.domains:
                return provider, service
    return None


def caseworkers() -> list[StaffSeed]:
    return [s for s in STAFF if s.role == "caseworker"]


def supervisor_of(team: str) -> StaffSeed:
    return next(s for s in STAFF if s.role == "supervisor" and s.team == team)
