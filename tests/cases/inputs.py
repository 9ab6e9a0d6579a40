"""Plausible command inputs for tests."""

from __future__ import annotations

import uuid
from datetime import date

from cases import commands as c
from cases.actors import Actor
from events.vocabulary import (
    ApprovalKind,
    ClientContact,
    ClientDetails,
    ClientParticipation,
    Domain,
    DomainRating,
    Goal,
    GoalKind,
    GoalTerm,
    ReferralSource,
    SharedField,
)
from tests.cases.people import ALICE, CAROL


def open_case(actor: Actor = ALICE, assignee: Actor = ALICE) -> c.OpenCase:
    return c.OpenCase(
        actor=actor,
        case_id=uuid.uuid4(),
        client_ref="CL-1042",
        client=ClientDetails(
            name="Rosalind Quennell-Ashby",
            date_of_birth=date(1984, 3, 9),
            contact=ClientContact(phone="555-0142", address="12 Elm Row"),
        ),
        referral_source=ReferralSource.AGENCY_REFERRAL,
        referring_agency="County hospital discharge team",
        assignee=assignee,
        presenting_needs=["housing", "benefits"],
    )


def consent(actor: Actor = ALICE, providers: tuple[str, ...] = ("shelter-1",)) -> c.RecordConsent:
    return c.RecordConsent(
        actor=actor,
        shared_fields=[SharedField.NAME, SharedField.CONTACT, SharedField.PRESENTING_NEEDS],
        providers=list(providers),
        preferences="No contact at work",
    )


def assessment(actor: Actor = ALICE, housing: int = 3) -> c.RecordAssessment:
    return c.RecordAssessment(
        actor=actor,
        assessment=c.AssessmentInput(
            domains={
                Domain.HOUSING: DomainRating(rating=housing, notes="sofa surfing"),
                Domain.INCOME: DomainRating(rating=2),
                Domain.MENTAL_HEALTH: DomainRating(rating=1),
            },
            strengths=["motivated", "supportive sister"],
            barriers=["no ID documents"],
            client_priorities=["a place of my own"],
        ),
    )


GOAL = Goal(
    goal_id="housing",
    client_words="I want a stable place to live",
    domain=Domain.HOUSING,
    term=GoalTerm.SHORT,
    kind=GoalKind.LOGISTICAL,
    objective="Signed tenancy within 90 days",
    target_date=date(2027, 3, 1),
    interventions=["housing application"],
    strategies=["weekly check-in"],
)


def plan(actor: Actor = ALICE, agreed: bool = True) -> c.DraftPlan:
    return c.DraftPlan(
        actor=actor,
        plan=c.PlanInput(
            goals=[GOAL],
            crisis_plan="Call the crisis line; sister's flat as fallback",
            participation=ClientParticipation(participated=True, agreed=agreed),
        ),
    )


def to_approved_plan() -> list[c.Command]:
    """From an open case to an approved plan: consent, assessment, plan, its submission
    by Alice and Carol's approval."""
    return [
        consent(),
        assessment(),
        plan(),
        c.SubmitPlan(actor=ALICE),
        c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True),
    ]


def refer(
    actor: Actor = ALICE, url: str = "http://127.0.0.1:9/x", provider: str = "shelter-1"
) -> c.Refer:
    return c.Refer(
        actor=actor,
        provider_id=provider,
        service_id="emergency-bed",
        goal_id="housing",
        channel_url=url,  # type: ignore[arg-type,unused-ignore]
        shared_fields=[SharedField.NAME, SharedField.CONTACT],
    )
