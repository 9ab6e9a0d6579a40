"""The circle of support and case conferences through the case workflow (time-skipping
server, real event store): intake to closure, consent refused, old plans still read."""

from __future__ import annotations

import pytest

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases.actors import Actor, Role
from cases.evolve import fold
from cases.state import CaseStatus
from events.catalog import default_registry
from events.personal import ERASED_TEXT
from events.store import EventStore
from events.vocabulary import (
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientContact,
    Participants,
    PlanDrafted,
)
from tests.cases import inputs
from tests.cases.people import ALICE, ERIN
from tests.workflows import scenarios

Harness = tuple[CaseClient, EventStore]


async def test_intake_to_closure_with_a_circle_and_a_conference(case_worker: Harness) -> None:
    cases, store = case_worker
    case_id = await scenarios.circle_case(cases)
    final = await cases.handle(case_id).result()
    assert final.status is CaseStatus.CLOSED

    log = await store.read_stream(f"case-{case_id}")
    types = [e.event_type for e in log]
    circle_types = [t for t in types if t.startswith(("Circle", "Shared", "CaseConference"))]
    assert circle_types == [
        "CircleMemberAdded",
        "CircleMemberAdded",
        "CircleConsentRecorded",
        "CaseConferenceRecorded",
        "SharedWithCircleMember",
        "CircleMemberUpdated",
        "CircleMemberRemoved",
    ]
    # The agreed action is an action of the case, appended with the conference.
    at = types.index("CaseConferenceRecorded")
    assert types[at + 1] == "ActionAdded"
    assert log[at].stream_version + 1 == log[at + 1].stream_version
    # The workflow's state is the fold of the log.
    folded = fold(log)
    assert folded == final
    sister = final.circle["member-1"]
    assert sister.details.name == "Mona Quennell" and sister.shared == 1
    assert not final.circle["member-2"].active
    conference = final.conferences["conference-1"]
    assert conference.participants == Participants(staff=["alice", "carol"], circle=["member-1"])
    assert conference.action_ids == ["action-1"]
    assert final.actions["action-1"].conference_id == "conference-1"


async def test_sharing_beyond_consent_is_refused_and_nothing_is_written(
    case_worker: Harness,
) -> None:
    cases, store = case_worker
    case_id = await scenarios.approved_plan(cases)
    member = c.AddCircleMember(
        actor=ALICE, role=CircleRole.GP, details=CircleMemberDetails(name="Dr Okafor")
    )
    await cases.execute(case_id, member)
    before = await store.stream_version(f"case-{case_id}")
    share = c.ShareWithCircle(actor=ALICE, member_id="member-1", items=[CircleShare.PLAN])
    with pytest.raises(CaseCommandRejected, match="not consented to share anything"):
        await cases.execute(case_id, share)
    with pytest.raises(CaseCommandRejected, match="erin"):
        await cases.execute(case_id, share.model_copy(update={"actor": ERIN}))
    assert await store.stream_version(f"case-{case_id}") == before


async def test_a_plan_records_who_took_part_and_old_plans_still_read(
    case_worker: Harness,
) -> None:
    cases, store = case_worker
    case_id = await scenarios.approved_plan(cases)
    draft = inputs.plan()
    with_people = draft.plan.model_copy(update={"participants": Participants(staff=["carol"])})
    await cases.execute(case_id, c.DraftPlan(actor=ALICE, plan=with_people))
    state = await cases.state(case_id)
    assert state.draft_plan is not None
    assert state.draft_plan.participants == Participants(staff=["carol"])
    log = await store.read_stream(f"case-{case_id}")
    plans = [e for e in log if e.event_type == "PlanDrafted"]
    assert [e.schema_version for e in plans] == [2, 2, 2]
    # A v1 plan event (before participants were recorded) still reads, upcast.
    v1 = {k: v for k, v in plans[0].data.items() if k != "participants"}
    old = default_registry().decode("PlanDrafted", 1, v1)
    assert isinstance(old, PlanDrafted) and old.participants == Participants()


async def test_forgetting_the_client_erases_their_circle_in_the_running_case(
    case_worker: Harness,
) -> None:
    cases, _ = case_worker
    case_id = await scenarios.approved_plan(cases)
    sister = CircleMemberDetails(
        name="Mona Quennell", relationship="sister", contact=ClientContact(phone="555-0199")
    )
    await cases.execute(
        case_id, c.AddCircleMember(actor=ALICE, role=CircleRole.FAMILY_MEMBER, details=sister)
    )
    admin = Actor(staff_id="root", role=Role.ADMIN)
    await cases.execute(case_id, c.ForgetClient(actor=admin, reason="erasure request"))
    state = await cases.state(case_id)
    member = state.circle["member-1"]
    assert member.details.name == ERASED_TEXT and member.details.contact == ClientContact()
    assert member.details.relationship is None and member.role is CircleRole.FAMILY_MEMBER
    # No new personal details about the circle once the client is forgotten.
    with pytest.raises(CaseCommandRejected, match="forgotten"):
        await cases.execute(
            case_id,
            c.AddCircleMember(actor=ALICE, role=CircleRole.GP, details=sister),
        )
