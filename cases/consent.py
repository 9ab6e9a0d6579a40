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
| language             | preferred language and whether an interpreter is needed|

The same holds for the client's circle of support (cases/circle.py): nothing is shared
with a member beyond what the client consented to share with that very member
(`circle_consent_refusal` is checked before a `SharedWithCircleMember` is recorded;
`circle_payload` is what such a share tells them, consented items only).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cases.state import CaseState, CircleMember, Referral
from events.vocabulary import CircleShare, Domain, SharedField

HEALTH_DOMAINS = frozenset({Domain.MENTAL_HEALTH, Domain.PHYSICAL_HEALTH, Domain.SUBSTANCE_USE})
FINANCIAL_DOMAINS = frozenset({Domain.INCOME, Domain.BENEFITS, Domain.HOUSING, Domain.EMPLOYMENT})


def late_dispatch_refusal(state: CaseState, referral: Referral) -> str | None:
    """Why a referral folded from the log (its command's task lost, sent only at the next
    command or timer) may no longer go out, or None: the case closed meanwhile, or the
    client withdrew consent to share with that provider. The fields sent are filtered
    by the consent in force, as for every dispatch (`referral_payload`)."""
    if not state.is_open:
        return f"not sent: the case is {state.status}"
    if referral.provider_id not in state.consent.providers:
        return f"not sent: the client no longer consents to share with {referral.provider_id}"
    return None


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
    if SharedField.LANGUAGE in shared:
        payload["preferred_language"] = client.preferred_language
        payload["interpreter_needed"] = bool(client.interpreter_needed)
    return payload


# --- the circle of support -----------------------------------------------------------------


def circle_consent_refusal(member: CircleMember, items: Iterable[CircleShare]) -> str | None:
    """Why `items` may not be shared with `member` (None: the client consented to each).

    Checked before anything is shared with a member of the circle of support, as consent
    is for providers: only what the client consented to share with that very member.
    """
    outside = [item.value for item in items if item not in member.consent]
    if not outside:
        return None
    if not member.consent:
        return f"the client has not consented to share anything with {member.member_id}"
    return f"the client has not consented to share {', '.join(outside)} with {member.member_id}"


def circle_payload(
    state: CaseState, member: CircleMember, items: Iterable[CircleShare], conference_id: str | None
) -> dict[str, Any]:
    """What sharing `items` with `member` tells them: only consented items (others are left
    out, never sent). The plan in the client's words, conference decisions and agreed
    actions are the client's personal data, as the consent says."""
    allowed = [item for item in items if item in member.consent]
    payload: dict[str, Any] = {"member_id": member.member_id}
    plan = state.active_plan
    if CircleShare.PLAN in allowed and plan is not None:
        payload["plan"] = {
            "plan_id": plan.plan_id,
            "goals": [
                {
                    "goal_id": g.goal_id,
                    "client_words": g.client_words,
                    "objective": g.objective,
                    "target_date": g.target_date.isoformat(),
                }
                for g in plan.goals
            ],
        }
    if CircleShare.PROGRESS in allowed and plan is not None:
        payload["progress"] = {
            g.goal_id: state.goal_progress.get(g.goal_id, "not_started") for g in plan.goals
        }
    if CircleShare.ASSESSMENT_SUMMARY in allowed and state.assessments:
        payload["risk_level"] = state.risk_level.value if state.risk_level else None
        payload["needs"] = {d.value: n for d, n in state.needs_by_domain().items()}
    if CircleShare.CONTACT_DETAILS in allowed:
        payload["contact"] = state.client.contact.model_dump(mode="json", exclude_none=True)
    conference = state.conferences.get(conference_id or "")
    if CircleShare.CONFERENCE_DECISIONS in allowed and conference is not None:
        payload["conference"] = {
            "conference_id": conference.conference_id,
            "held_on": conference.held_on.isoformat(),
            "decisions": list(conference.decisions),
            "action_ids": list(conference.action_ids),
        }
    return payload
