"""What a referral may tell a provider: only what the client consented to share.

Always sent: the referral id, the service asked for and the domain of the goal it
serves (the provider cannot act without them). Everything else only by consent:

| consent field        | what is sent                                       |
|----------------------|----------------------------------------------------|
| name                 | client's name                                      |
| contact              | phone, email, address                              |
| date_of_birth        | date of birth                                      |
| presenting_needs     | the needs the case was opened for                  |
| assessment_summary   | risk level and need level per domain               |
| health               | need levels of mental/physical health, substance use|
| financial            | need levels of income, benefits, housing, employment|
"""

from __future__ import annotations

from typing import Any

from cases.state import CaseState, Referral
from events.vocabulary import Domain, SharedField

HEALTH_DOMAINS = frozenset({Domain.MENTAL_HEALTH, Domain.PHYSICAL_HEALTH, Domain.SUBSTANCE_USE})
FINANCIAL_DOMAINS = frozenset({Domain.INCOME, Domain.BENEFITS, Domain.HOUSING, Domain.EMPLOYMENT})


def referral_payload(state: CaseState, referral: Referral) -> dict[str, Any]:
    goal = state.active_goal(referral.goal_id)
    payload: dict[str, Any] = {
        "referral_id": referral.referral_id,
        "service_id": referral.service_id,
        "goal_domain": goal.domain.value if goal else None,
    }
    shared = set(referral.shared_fields) & set(state.consent.shared_fields)
    client = state.client
    needs = state.needs_by_domain()
    if SharedField.NAME in shared:
        payload["name"] = client.name
    if SharedField.CONTACT in shared:
        payload["contact"] = client.contact.model_dump(mode="json", exclude_none=True)
    if SharedField.DATE_OF_BIRTH in shared and client.date_of_birth:
        payload["date_of_birth"] = client.date_of_birth.isoformat()
    if SharedField.PRESENTING_NEEDS in shared:
        payload["presenting_needs"] = list(state.presenting_needs)
    if SharedField.ASSESSMENT_SUMMARY in shared:
        payload["risk_level"] = state.risk_level.value if state.risk_level else None
        payload["needs"] = {d.value: n for d, n in needs.items()}
    if SharedField.HEALTH in shared:
        payload["health_needs"] = {d.value: n for d, n in needs.items() if d in HEALTH_DOMAINS}
    if SharedField.FINANCIAL in shared:
        payload["financial_needs"] = {
            d.value: n for d, n in needs.items() if d in FINANCIAL_DOMAINS
        }
    return payload
