"""The circle of support and case conferences: the pure rules (cases/circle.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from cases import commands as c
from cases import decide as rules
from cases.actors import Actor
from cases.circle import (
    decide_add_member,
    decide_circle_consent,
    decide_conference,
    decide_remove_member,
    decide_share,
    decide_update_member,
)
from cases.command_table import entry_for
from cases.consent import circle_payload
from cases.evolve import evolve
from cases.state import CaseState, CaseStatus
from events.personal import ERASED_TEXT, erase_personal
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    ActionOwner,
    ActionOwnerKind,
    CaseConferenceRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClientContact,
    ClientForgotten,
    Participants,
    SharedWithCircleMember,
)
from tests.cases import inputs
from tests.cases.people import ALICE, BOB, CAROL, ERIN, MAX
from tests.cases.test_rules import NOW, apply, opened, with_active_plan
from tests.conftest import ROOT

SISTER = CircleMemberDetails(
    name="Mona Quennell",
    relationship="older sister",
    contact=ClientContact(phone="555-0199", address="4 Birch Lane"),
)
GP = CircleMemberDetails(name="Dr Okafor", organisation="Elm Row Surgery")


def add(
    state: CaseState,
    role: CircleRole = CircleRole.FAMILY_MEMBER,
    d: CircleMemberDetails = SISTER,
) -> str:
    [event] = decide_add_member(state, c.AddCircleMember(actor=ALICE, role=role, details=d))
    assert isinstance(event, CircleMemberAdded)
    apply(state, ALICE, [event])
    return event.member_id


def consent(state: CaseState, member_id: str, *shared: CircleShare) -> None:
    cmd = c.RecordCircleConsent(actor=ALICE, member_id=member_id, shared=list(shared))
    apply(state, ALICE, decide_circle_consent(state, cmd))


def conference(
    held_on: date = NOW.date(),
    *,
    circle: tuple[str, ...] = (),
    decisions: tuple[str, ...] = ("Mona drives Rosalind to viewings",),
    actions: tuple[c.ActionInput, ...] = (),
    actor: Actor = ALICE,
) -> c.RecordConference:
    return c.RecordConference(
        actor=actor,
        conference=c.ConferenceInput(
            held_on=held_on,
            client_attended=True,
            participants=Participants(staff=["alice", "carol", "alice"], circle=list(circle)),
            decisions=list(decisions),
            actions=list(actions),
        ),
    )


def viewing(goal_id: str = "housing", days: int = 7) -> c.ActionInput:
    return c.ActionInput(
        goal_id=goal_id,
        description="Drive Rosalind to the flat viewing",
        owner=ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona (sister)"),
        due_at=NOW + timedelta(days=days),
    )


# --- the circle -----------------------------------------------------------------------------


def test_members_are_added_with_their_relationship_and_contact_details() -> None:
    state = opened()
    sister = add(state)
    gp = add(state, CircleRole.GP, GP)
    assert (sister, gp) == ("member-1", "member-2")
    member = state.circle[sister]
    assert member.role is CircleRole.FAMILY_MEMBER
    assert member.details.relationship == "older sister"
    assert member.details.contact.phone == "555-0199"
    assert member.consent == [] and member.active


def test_the_same_person_twice_is_refused_by_member_id() -> None:
    state = opened()
    add(state)
    twin = CircleMemberDetails(name="mona quennell")
    with pytest.raises(rules.CommandRejected, match=r"^details.name: already .* member-1"):
        decide_add_member(
            state, c.AddCircleMember(actor=ALICE, role=CircleRole.FAMILY_MEMBER, details=twin)
        )


def test_update_replaces_only_the_fields_given() -> None:
    state = opened()
    sister = add(state)
    cmd = c.UpdateCircleMember(
        actor=ALICE, member_id=sister, role=CircleRole.CARER, contact=ClientContact(phone="1")
    )
    apply(state, ALICE, decide_update_member(state, cmd))
    member = state.circle[sister]
    assert member.role is CircleRole.CARER
    assert (member.details.name, member.details.contact.phone) == ("Mona Quennell", "1")
    with pytest.raises(rules.CommandRejected, match="nothing to change"):
        decide_update_member(state, c.UpdateCircleMember(actor=ALICE, member_id=sister))


def test_removed_members_stay_on_record_but_take_no_part() -> None:
    state = opened()
    sister = add(state)
    apply(
        state,
        ALICE,
        decide_remove_member(
            state, c.RemoveCircleMember(actor=ALICE, member_id=sister, reason="moved abroad")
        ),
    )
    assert not state.circle[sister].active
    assert state.circle[sister].removed_reason == "moved abroad"
    with pytest.raises(rules.CommandRejected, match=r"^member_id: member-1 was removed"):
        decide_circle_consent(
            state, c.RecordCircleConsent(actor=ALICE, member_id=sister, shared=[])
        )
    with pytest.raises(rules.CommandRejected, match=r"^member_id: member-7 is not in"):
        decide_remove_member(
            state, c.RemoveCircleMember(actor=ALICE, member_id="member-7", reason="x")
        )
    # A new member gets a new id, never a removed one's.
    assert add(state) == "member-2"


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [(ALICE, True), (CAROL, True), (MAX, True), (BOB, False), (ERIN, False)],
)
def test_who_may_keep_the_circle(actor: Actor, allowed: bool) -> None:
    state = opened()
    cmd = c.AddCircleMember(actor=actor, role=CircleRole.GP, details=GP)
    if allowed:
        assert decide_add_member(state, cmd)
    else:
        with pytest.raises(rules.CommandRejected, match=rf"^{actor.staff_id} "):
            decide_add_member(state, cmd)


# --- consent and sharing ----------------------------------------------------------------------


def test_nothing_is_shared_without_consent_for_that_member_and_item() -> None:
    state = with_active_plan()
    sister = add(state)
    gp = add(state, CircleRole.GP, GP)
    share = c.ShareWithCircle(actor=ALICE, member_id=sister, items=[CircleShare.PLAN])
    with pytest.raises(
        rules.CommandRejected, match="not consented to share anything with member-1"
    ):
        decide_share(state, share)
    consent(state, gp, CircleShare.PLAN)  # consent for another member does not count
    with pytest.raises(rules.CommandRejected, match="with member-1"):
        decide_share(state, share)
    consent(state, sister, CircleShare.PROGRESS)
    with pytest.raises(rules.CommandRejected, match=r"^items: .*not consented to share plan"):
        decide_share(state, share)
    consent(state, sister, CircleShare.PLAN, CircleShare.PROGRESS, CircleShare.PLAN)
    assert state.circle[sister].consent == [CircleShare.PLAN, CircleShare.PROGRESS]
    [event] = decide_share(state, share)
    assert isinstance(event, SharedWithCircleMember) and event.plan_id == "plan-1"
    apply(state, ALICE, [event])
    assert state.circle[sister].shared == 1
    # Consent withdrawn: refused again.
    consent(state, sister)
    with pytest.raises(rules.CommandRejected, match="anything"):
        decide_share(state, share)


def test_sharing_needs_something_to_share() -> None:
    state = opened()
    sister = add(state)
    consent(state, sister, *CircleShare)
    for item, why in [
        (CircleShare.PLAN, "no approved plan"),
        (CircleShare.ASSESSMENT_SUMMARY, "no assessment"),
        (CircleShare.CONFERENCE_DECISIONS, "no case conference"),
    ]:
        with pytest.raises(rules.CommandRejected, match=why):
            decide_share(state, c.ShareWithCircle(actor=ALICE, member_id=sister, items=[item]))
    ok = c.ShareWithCircle(actor=ALICE, member_id=sister, items=[CircleShare.CONTACT_DETAILS])
    assert decide_share(state, ok)


def test_the_payload_holds_only_consented_items() -> None:
    state = with_active_plan()
    sister = add(state)
    consent(state, sister, CircleShare.PLAN)
    payload = circle_payload(
        state, state.circle[sister], [CircleShare.PLAN, CircleShare.CONTACT_DETAILS], None
    )
    assert payload["plan"]["goals"][0]["client_words"] == "I want a stable place to live"
    assert "contact" not in payload


# --- conferences --------------------------------------------------------------------------


def test_a_conference_records_participants_decisions_and_its_agreed_actions() -> None:
    state = with_active_plan()
    sister = add(state)
    events = decide_conference(
        state, conference(circle=(sister,), actions=(viewing(), viewing(days=14))), NOW
    )
    recorded, *added = events
    assert isinstance(recorded, CaseConferenceRecorded)
    assert recorded.conference_id == "conference-1"
    assert recorded.participants == Participants(staff=["alice", "carol"], circle=[sister])
    assert recorded.action_ids == ["action-1", "action-2"]
    assert all(isinstance(a, ActionAdded) and a.conference_id == "conference-1" for a in added)
    apply(state, ALICE, events)
    assert state.conferences["conference-1"].decisions == ["Mona drives Rosalind to viewings"]
    assert set(state.actions) == {"action-1", "action-2"}
    # Its decisions may now be shared, with consent.
    consent(state, sister, CircleShare.CONFERENCE_DECISIONS)
    [shared] = decide_share(
        state,
        c.ShareWithCircle(actor=ALICE, member_id=sister, items=[CircleShare.CONFERENCE_DECISIONS]),
    )
    assert isinstance(shared, SharedWithCircleMember)
    assert shared.conference_id == "conference-1"


@pytest.mark.parametrize(
    ("cmd", "why"),
    [
        (conference(NOW.date() + timedelta(days=1)), r"^conference.held_on: .* in the future"),
        (conference(date(2020, 1, 1)), r"^conference.held_on: .* before the case was opened"),
        (conference(circle=("member-9",)), r"^conference.participants.circle: member-9"),
        (conference(decisions=()), r"^conference.decisions: record at least one"),
        (conference(actions=(viewing("nope"),)), r"^conference.actions\[0\].goal_id"),
        (conference(actions=(viewing(days=-1),)), r"^conference.actions\[0\].due_at"),
        (conference(actor=ERIN), r"^erin "),
    ],
)
def test_conference_refusals_name_the_field(cmd: c.RecordConference, why: str) -> None:
    state = with_active_plan()
    with pytest.raises(rules.CommandRejected, match=why):
        decide_conference(state, cmd, NOW)


def test_a_colleague_of_the_team_may_record_a_conference() -> None:
    state = opened()
    assert decide_conference(state, conference(actor=BOB), NOW)


def test_nobody_taking_part_is_refused() -> None:
    state = opened()
    cmd = c.RecordConference(
        actor=ALICE,
        conference=c.ConferenceInput(held_on=NOW.date(), decisions=["x"]),
    )
    with pytest.raises(rules.CommandRejected, match=r"^conference.participants: nobody"):
        decide_conference(state, cmd, NOW)


# --- plans record who took part --------------------------------------------------------------


def test_a_plan_records_who_took_part_in_making_it() -> None:
    state = with_active_plan()
    sister = add(state)
    draft = inputs.plan()
    cmd = c.DraftPlan(
        actor=ALICE,
        plan=draft.plan.model_copy(
            update={"participants": Participants(staff=["alice", "carol"], circle=[sister])}
        ),
    )
    apply(state, ALICE, rules.decide_draft_plan(state, cmd))
    assert state.draft_plan is not None
    assert state.draft_plan.participants.circle == [sister]
    bad = cmd.plan.model_copy(update={"participants": Participants(circle=["member-5"])})
    with pytest.raises(rules.CommandRejected, match=r"^plan.participants.circle: member-5"):
        rules.decide_draft_plan(state, c.DraftPlan(actor=ALICE, plan=bad))


# --- erasure ---------------------------------------------------------------------------------


def test_forgetting_the_client_erases_the_circle_and_conference_decisions() -> None:
    state = with_active_plan()
    sister = add(state)
    events: list[DomainEvent] = decide_conference(state, conference(circle=(sister,)), NOW)
    apply(state, ALICE, events)
    evolve(state, ClientForgotten(client_ref=state.client_ref, reason="asked"), "root", NOW)
    member = state.circle[sister]
    assert member.details.name == ERASED_TEXT
    assert member.details.relationship is None
    assert member.details.contact == ClientContact()
    assert member.role is CircleRole.FAMILY_MEMBER  # not personal: kept
    assert state.conferences["conference-1"].decisions == [ERASED_TEXT]
    erased = erase_personal(CircleMemberAdded(member_id="m", role=CircleRole.GP, details=GP))
    assert erased.details.organisation is None


def test_after_forgetting_no_new_member_details_are_recorded() -> None:
    state = opened()
    evolve(state, ClientForgotten(client_ref=state.client_ref, reason="asked"), "root", NOW)
    entry = entry_for(c.AddCircleMember)
    with pytest.raises(rules.CommandRejected, match="forgotten"):
        entry.decide(state, c.AddCircleMember(actor=ALICE, role=CircleRole.GP, details=GP), NOW)


def test_closed_cases_refuse_circle_work() -> None:
    state = opened()
    state.status = CaseStatus.CLOSED
    with pytest.raises(rules.CommandRejected, match="the case is closed"):
        decide_add_member(state, c.AddCircleMember(actor=ALICE, role=CircleRole.GP, details=GP))


def with_circle() -> CaseState:
    """An active plan and member-1 (the client's sister), consented to see the plan."""
    state = with_active_plan()
    consent(state, add(state), CircleShare.PLAN)
    return state


def test_the_documented_conference_example_is_a_valid_conference() -> None:
    text = (ROOT / "docs" / "examples" / "conference.yaml").read_text(encoding="utf-8")
    conference = c.ConferenceInput.model_validate(yaml.safe_load(text))
    assert conference.participants.circle == ["member-1"]
    assert [a.owner.kind for a in conference.actions] == [
        ActionOwnerKind.FAMILY,
        ActionOwnerKind.CASEWORKER,
    ]
