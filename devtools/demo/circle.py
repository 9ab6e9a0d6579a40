"""The demo's circles of support and case conferences (issue 16, part 3).

Every demo client has a family member in their circle (chosen from the case's index, so
a seed gives the same story); every third client also has a professional around them
(their GP, a teacher, a probation officer, another agency's worker). The client consents
to share their plan and conference decisions with the family member, never with the
professional. Plans are made with the family member taking part; once the plan is
approved, a case conference with the worker, the supervisor, the family member and the
client agrees an action for the family member, and the plan is shared with them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

from application.case_client import CaseClient
from cases import commands as c
from cases.actors import Actor
from devtools.demo.caseload import CaseScript
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientContact,
    Participants,
)


class CaseRun(Protocol):
    """What of a demo case's run (demo/lifecycle.py) these steps use."""

    cases: CaseClient
    case_id: uuid.UUID
    script: CaseScript
    worker: Actor
    supervisor: Actor


FAMILY = (
    ("older sister", "Nadia"),
    ("mother", "Grace"),
    ("brother", "Tomasz"),
    ("aunt", "Maureen"),
    ("grandfather", "Emeka"),
    ("partner", "Sam"),
)
PROFESSIONALS = (
    (CircleRole.GP, "Dr Okafor", "Riverside Medical Practice"),
    (CircleRole.TEACHER, "Ms Lindqvist", "St Anne's Primary School"),
    (CircleRole.PROBATION_OFFICER, "Mr Haddad", "County Probation Service"),
    (CircleRole.AGENCY_WORKER, "Priya Raman", "Harbourside Mental Health Team"),
)
FAMILY_MEMBER = "member-1"
"""The family member's id: the first member added to each demo case's circle."""


def _surname(run: CaseRun) -> str:
    return run.script.client.name.split()[-1]


async def gather_circle(run: CaseRun) -> None:
    """The client's circle at intake: a family member (consented to see the plan and the
    conferences' decisions) and, for every third client, a professional (no consent)."""
    relationship, first = FAMILY[run.script.index % len(FAMILY)]
    index = run.script.index
    family = CircleMemberDetails(
        name=f"{first} {_surname(run)}",
        relationship=relationship,
        contact=ClientContact(phone=f"555-{2000 + index % 8000:04d}"),
        notes="Happy to be contacted in the evenings",
    )
    await run.cases.execute(
        run.case_id,
        c.AddCircleMember(actor=run.worker, role=CircleRole.FAMILY_MEMBER, details=family),
    )
    if index % 3 == 0:
        role, name, organisation = PROFESSIONALS[(index // 3) % len(PROFESSIONALS)]
        await run.cases.execute(
            run.case_id,
            c.AddCircleMember(
                actor=run.worker,
                role=role,
                details=CircleMemberDetails(name=name, organisation=organisation),
            ),
        )
    await run.cases.execute(
        run.case_id,
        c.RecordCircleConsent(
            actor=run.worker,
            member_id=FAMILY_MEMBER,
            shared=[CircleShare.PLAN, CircleShare.CONFERENCE_DECISIONS],
            note="The client asked for them to be kept in the loop",
        ),
    )


def plan_participants(run: CaseRun) -> Participants:
    """Who took part in making the plan besides the client and its author."""
    return Participants(circle=[FAMILY_MEMBER])


async def hold_conference(run: CaseRun) -> None:
    """A case conference on the approved plan: an action agreed for the family member on
    the first goal, then the plan and the decisions shared with them (with consent)."""
    goal = run.script.goals[0]
    _, first = FAMILY[run.script.index % len(FAMILY)]
    await run.cases.execute(
        run.case_id,
        c.RecordConference(
            actor=run.worker,
            conference=c.ConferenceInput(
                held_on=datetime.now(UTC).date(),
                client_attended=True,
                participants=Participants(
                    staff=[run.worker.staff_id, run.supervisor.staff_id],
                    circle=[FAMILY_MEMBER],
                ),
                decisions=[
                    f"{first} supports the client to the first appointment",
                    "The plan is reviewed together at the next conference",
                ],
                actions=[
                    c.ActionInput(
                        goal_id=goal.goal_id,
                        description="Go with the client to the first appointment",
                        owner=ActionOwner(kind=ActionOwnerKind.FAMILY, name=first),
                        due_at=datetime.now(UTC) + timedelta(days=14),
                    )
                ],
            ),
        ),
    )
    await run.cases.execute(
        run.case_id,
        c.ShareWithCircle(
            actor=run.worker,
            member_id=FAMILY_MEMBER,
            items=[CircleShare.PLAN, CircleShare.CONFERENCE_DECISIONS],
        ),
    )
