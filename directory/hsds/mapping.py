"""Which of Casework's needs (`Domain`) an HSDS service addresses, from its taxonomy
terms: a term's code or name that is a domain (`housing`, `mental health` …) or one of
the usual words for it below. An agency maps its own taxonomy's terms with a needs map
(`casework directory import --needs-map FILE`: a JSON object, term → domain)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from events.choices import ProviderCategory
from events.vocabulary import Domain

SYNONYMS: dict[str, Domain] = {
    "shelter": Domain.HOUSING,
    "homelessness": Domain.HOUSING,
    "housing_assistance": Domain.HOUSING,
    "counseling": Domain.MENTAL_HEALTH,
    "counselling": Domain.MENTAL_HEALTH,
    "health": Domain.PHYSICAL_HEALTH,
    "health_care": Domain.PHYSICAL_HEALTH,
    "addiction": Domain.SUBSTANCE_USE,
    "jobs": Domain.EMPLOYMENT,
    "job_training": Domain.EMPLOYMENT,
    "work": Domain.EMPLOYMENT,
    "food": Domain.INCOME,
    "financial_assistance": Domain.INCOME,
    "money": Domain.INCOME,
    "benefits_advice": Domain.BENEFITS,
    "family_support": Domain.FAMILY,
    "parenting": Domain.FAMILY,
    "community": Domain.SOCIAL_SUPPORT,
}

CATEGORY_OF: dict[Domain, ProviderCategory] = {
    Domain.HOUSING: ProviderCategory.HOUSING,
    Domain.MENTAL_HEALTH: ProviderCategory.MENTAL_HEALTH,
    Domain.SUBSTANCE_USE: ProviderCategory.SUBSTANCE_USE_TREATMENT,
    Domain.EMPLOYMENT: ProviderCategory.JOB_TRAINING,
    Domain.BENEFITS: ProviderCategory.BENEFITS_ADVICE,
    Domain.INCOME: ProviderCategory.BENEFITS_ADVICE,
    Domain.FAMILY: ProviderCategory.FAMILY_SUPPORT,
}


def _key(term: str) -> str:
    return "_".join(term.strip().lower().replace("-", " ").split())


def domain_of(term: str, needs_map: Mapping[str, Domain] | None = None) -> Domain | None:
    """The need a taxonomy term (code or name) names, or None."""
    key = _key(term)
    if needs_map:
        for given, domain in needs_map.items():
            if _key(given) == key:
                return domain
    try:
        return Domain(key)
    except ValueError:
        return SYNONYMS.get(key)


def domains_of(terms: Iterable[str], needs_map: Mapping[str, Domain] | None = None) -> list[Domain]:
    """The distinct needs the terms name, in the order of `Domain`."""
    found = {d for t in terms if (d := domain_of(t, needs_map)) is not None}
    return [d for d in Domain if d in found]


def category_for(domains: Iterable[Domain]) -> ProviderCategory:
    """A new provider's category: that of the first of its services' needs that has one."""
    for domain in domains:
        if domain in CATEGORY_OF:
            return CATEGORY_OF[domain]
    return ProviderCategory.OTHER
