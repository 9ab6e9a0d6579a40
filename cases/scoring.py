"""Assessment scoring: domain ratings into needs and a risk level, by documented rules.

Rules version `ratings-v1`:

* Each domain is rated 0–4 by the assessing worker. Need per domain:
  0 none, 1 low, 2 moderate, 3 high, 4 urgent.
* Safety-critical domains are mental health, substance use, physical health and
  housing (risk to life or of homelessness).
* Risk level:
  - **crisis**: any safety-critical domain rated 4;
  - **high**: any other domain rated 4, or a safety-critical domain rated 3, or
    three or more domains rated 3 or above;
  - **medium**: any domain rated 3, or a total rating of 10 or more;
  - **low**: otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.vocabulary import Domain, DomainNeed, DomainRating, RiskLevel

RULES_VERSION = "ratings-v1"

SAFETY_CRITICAL = frozenset(
    {Domain.MENTAL_HEALTH, Domain.SUBSTANCE_USE, Domain.PHYSICAL_HEALTH, Domain.HOUSING}
)

NeedLevel = Literal["none", "low", "moderate", "high", "urgent"]
_NEED_BY_RATING: dict[int, NeedLevel] = {
    0: "none",
    1: "low",
    2: "moderate",
    3: "high",
    4: "urgent",
}


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    needs: list[DomainNeed]
    risk_level: RiskLevel
    rules: str = RULES_VERSION


def score(domains: dict[Domain, DomainRating]) -> Score:
    ratings = {domain: r.rating for domain, r in domains.items()}
    needs = [
        DomainNeed(domain=domain, need=_NEED_BY_RATING[rating])
        for domain, rating in sorted(ratings.items())
    ]
    critical = [r for d, r in ratings.items() if d in SAFETY_CRITICAL]
    others = [r for d, r in ratings.items() if d not in SAFETY_CRITICAL]
    if any(r == 4 for r in critical):
        risk = RiskLevel.CRISIS
    elif (
        any(r == 4 for r in others)
        or any(r == 3 for r in critical)
        or sum(1 for r in ratings.values() if r >= 3) >= 3
    ):
        risk = RiskLevel.HIGH
    elif any(r == 3 for r in ratings.values()) or sum(ratings.values()) >= 10:
        risk = RiskLevel.MEDIUM
    else:
        risk = RiskLevel.LOW
    return Score(needs=needs, risk_level=risk)
