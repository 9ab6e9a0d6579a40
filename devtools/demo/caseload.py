"""Seeded clients and the path each case takes: the same seed gives the same caseload.

Client names are invented from a fixed list; nothing here is real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from devtools.demo.agency import StaffSeed, caseworkers, provider_for
from events.vocabulary import (
    ClientContact,
    ClientDetails,
    ClosureReason,
    Domain,
    Goal,
    GoalKind,
    GoalOutcome,
    GoalTerm,
    ReferralSource,
)

FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Dmitri",
    "Esme",
    "Farid",
    "Grace",
    "Hamza",
    "Ines",
    "Jonah",
    "Kiri",
    "Leon",
    "Maya",
    "Nikos",
    "Olu",
    "Pia",
    "Quentin",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xenia",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Achebe",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Gallagher",
    "Horvat",
    "Iqbal",
    "Jovanovic",
    "Kaur",
    "Larsen",
    "Mensah",
    "Nakamura",
    "O'Neill",
    "Petrov",
    "Quinn",
    "Rahman",
    "Santos",
    "Thorne",
    "Usman",
    "Varga",
    "Whitfield",
    "Yilmaz",
    "Zielinski",
]


class CasePath(StrEnum):
    COMPLETE = "complete"
    """Assessed, plan approved, referral accepted, contacts, goals met, closed."""
    RETURNED = "returned"
    """The supervisor returns the first plan; revised and approved, then complete."""
    DECLINED = "declined"
    """The first provider declines; a second referral is accepted; then complete."""
    ONGOING = "ongoing"
    """Active work in progress: plan approved, referral out, contacts being logged."""
    NEGLECTED = "neglected"
    """Assessed and planned, then nobody acts: the review goes due, lapses, escalates."""
    WITHDREW = "withdrew"
    """The client withdraws after the assessment; the case closes."""


PATH_WEIGHTS = {
    CasePath.COMPLETE: 30,
    CasePath.RETURNED: 12,
    CasePath.DECLINED: 12,
    CasePath.ONGOING: 24,
    CasePath.NEGLECTED: 15,
    CasePath.WITHDREW: 7,
}


@dataclass(frozen=True)
class Archetype:
    label: str
    needs: tuple[str, ...]
    ratings: dict[Domain, tuple[int, int]]
    goal_domains: tuple[Domain, ...]


ARCHETYPES = (
    Archetype(
        "housing crisis",
        ("housing", "income"),
        {Domain.HOUSING: (3, 4), Domain.INCOME: (2, 3), Domain.MENTAL_HEALTH: (1, 2)},
        (Domain.HOUSING, Domain.INCOME),
    ),
    Archetype(
        "job loss",
        ("employment", "benefits"),
        {Domain.EMPLOYMENT: (3, 3), Domain.INCOME: (2, 3), Domain.BENEFITS: (2, 3)},
        (Domain.EMPLOYMENT, Domain.BENEFITS),
    ),
    Archetype(
        "family strain",
        ("family support", "mental health"),
        {Domain.FAMILY: (2, 3), Domain.SOCIAL_SUPPORT: (1, 2), Domain.MENTAL_HEALTH: (1, 2)},
        (Domain.FAMILY,),
    ),
    Archetype(
        "recovery",
        ("substance use", "housing"),
        {Domain.SUBSTANCE_USE: (2, 3), Domain.MENTAL_HEALTH: (1, 2), Domain.HOUSING: (1, 2)},
        (Domain.SUBSTANCE_USE, Domain.HOUSING),
    ),
    Archetype(
        "isolation",
        ("mental health", "social support"),
        {Domain.MENTAL_HEALTH: (1, 3), Domain.SOCIAL_SUPPORT: (2, 3), Domain.CULTURE: (0, 1)},
        (Domain.MENTAL_HEALTH,),
    ),
)

CLIENT_WORDS = {
    Domain.HOUSING: "I want a safe place of my own",
    Domain.INCOME: "I need to stop running out of money before the month ends",
    Domain.EMPLOYMENT: "I want to get back to work",
    Domain.BENEFITS: "I want to get what I'm entitled to",
    Domain.FAMILY: "I want things calmer at home with the kids",
    Domain.MENTAL_HEALTH: "I want to feel like myself again",
    Domain.SUBSTANCE_USE: "I want to stay off the drink",
    Domain.SOCIAL_SUPPORT: "I want people around me",
}

OBJECTIVES = {
    Domain.HOUSING: "Signed tenancy or settled accommodation",
    Domain.INCOME: "Budget plan in place and no missed rent for 8 weeks",
    Domain.EMPLOYMENT: "Complete the job readiness course and apply for 5 jobs",
    Domain.BENEFITS: "All eligible benefits claimed",
    Domain.FAMILY: "Attend 6 parenting sessions; fewer conflicts reported",
    Domain.MENTAL_HEALTH: "Attend counselling; wellbeing score up by 5 points",
    Domain.SUBSTANCE_USE: "Engage with the outpatient programme for 12 weeks",
    Domain.SOCIAL_SUPPORT: "Join one community group",
}


@dataclass(frozen=True)
class CaseScript:
    index: int
    client_ref: str
    client: ClientDetails
    source: ReferralSource
    archetype: str
    worker: StaffSeed
    needs: tuple[str, ...]
    ratings: dict[Domain, int]
    strengths: tuple[str, ...]
    barriers: tuple[str, ...]
    priorities: tuple[str, ...]
    goals: tuple[Goal, ...]
    path: CasePath
    contacts: int
    outcomes: dict[str, GoalOutcome] = field(default_factory=dict)
    closure_reason: ClosureReason = ClosureReason.GOALS_MET
    decline_reason: str = "No capacity this month"


def _goal(domain: Domain, index: int, today: date, rng: random.Random) -> Goal:
    provider = provider_for(domain)
    interventions = [f"referral to {provider[0].name}"] if provider else ["case worker support"]
    return Goal(
        goal_id=f"goal-{index}-{domain.value.replace('_', '-')}",
        client_words=CLIENT_WORDS.get(domain, "I want things to get better"),
        domain=domain,
        term=GoalTerm.SHORT if rng.random() < 0.6 else GoalTerm.LONG,
        kind=(
            GoalKind.LOGISTICAL
            if domain in (Domain.HOUSING, Domain.INCOME, Domain.EMPLOYMENT, Domain.BENEFITS)
            else GoalKind.WELLBEING
        ),
        objective=OBJECTIVES.get(domain, "Agreed with the client"),
        target_date=today + timedelta(days=rng.choice((30, 60, 90, 120))),
        interventions=interventions,
        strategies=["fortnightly check-in", "client keeps a progress diary"],
    )


def caseload(seed: int, cases: int, today: date) -> list[CaseScript]:
    rng = random.Random(seed)
    workers = caseworkers()
    paths = list(PATH_WEIGHTS)
    weights = list(PATH_WEIGHTS.values())
    scripts = []
    for i in range(cases):
        archetype = rng.choice(ARCHETYPES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        ratings = {d: rng.randint(lo, hi) for d, (lo, hi) in archetype.ratings.items()}
        goals = tuple(_goal(d, n, today, rng) for n, d in enumerate(archetype.goal_domains, 1))
        path = rng.choices(paths, weights)[0]
        outcomes = {
            g.goal_id: rng.choices(
                (GoalOutcome.MET, GoalOutcome.PARTLY_MET, GoalOutcome.NOT_MET), (6, 3, 1)
            )[0]
            for g in goals
        }
        scripts.append(
            CaseScript(
                index=i,
                client_ref=f"CL-{seed % 1000:03d}-{i + 1:05d}",
                client=ClientDetails(
                    name=f"{first} {last}",
                    date_of_birth=date(
                        rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)
                    ),
                    contact=ClientContact(phone=f"555-{rng.randint(1000, 9999)}"),
                ),
                source=rng.choice(list(ReferralSource)),
                archetype=archetype.label,
                worker=workers[i % len(workers)],
                needs=archetype.needs,
                ratings=ratings,
                strengths=tuple(
                    rng.sample(
                        [
                            "motivated",
                            "supportive family",
                            "good health",
                            "stable income",
                            "keeps appointments",
                            "friends nearby",
                        ],
                        2,
                    )
                ),
                barriers=tuple(
                    rng.sample(
                        [
                            "no ID documents",
                            "debt",
                            "no phone credit",
                            "transport",
                            "childcare",
                            "past evictions",
                        ],
                        2,
                    )
                ),
                priorities=(CLIENT_WORDS[goals[0].domain],),
                goals=goals,
                path=path,
                contacts=rng.randint(2, 5),
                outcomes=outcomes,
                closure_reason=(
                    ClosureReason.CLIENT_WITHDREW
                    if path is CasePath.WITHDREW
                    else ClosureReason.GOALS_MET
                ),
                decline_reason=rng.choice(
                    ["No capacity this month", "Outside our catchment", "Waiting list closed"]
                ),
            )
        )
    return scripts
