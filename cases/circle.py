"""The rules of the circle of support and of case conferences (issue 16, part 3).

"Client and family members (where appropriate) are engaged in all aspects"; the worker
"works in collaboration with other workers, disciplines and organisations". So a case
records the people and professionals around the client (a family member, a carer, an
advocate, the GP, a teacher, a probation officer, another agency's worker), what the
client consents to share with each, what was shared with them (never beyond that
consent: cases/consent.py), and case conferences: who took part, what was decided, and
the actions agreed, which become actions of the case (cases/actions.py).

Every function is pure, like cases/decide.py: the events, or `CommandRejected` with a
reason naming the field. Permission is checked before the state (a refusal for who the
actor is reads the same whatever the case's state). Members' details are personal data
(events/vocabulary/ `CircleMemberDetails`): no reason here quotes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cases import commands as c
from cases.actions import actions_added
from cases.consent import circle_consent_refusal
from cases.decide import CommandRejected, permit_open
from cases.permissions import Action
from cases.state import CaseState, CircleMember
from events.registry import DomainEvent
from events.vocabulary import (
    ActionAdded,
    CaseConferenceRecorded,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberRemoved,
    CircleMemberUpdated,
    CircleShare,
    Participants,
    SharedWithCircleMember,
)


def member(state: CaseState, member_id: str, field: str = "member_id") -> CircleMember:
    """The active member `member_id`, or CommandRejected naming `field`."""
    found = state.circle.get(member_id)
    if found is None:
        raise CommandRejected(f"{field}: {member_id} is not in the client's circle of support")
    if not found.active:
        raise CommandRejected(f"{field}: {member_id} was removed from the circle of support")
    return found


def check_participants(state: CaseState, participants: Participants, field: str) -> Participants:
    """Circle members named as participants are active members; duplicates are dropped."""
    for member_id in participants.circle:
        member(state, member_id, f"{field}.circle")
    return Participants(
        staff=list(dict.fromkeys(participants.staff)),
        circle=list(dict.fromkeys(participants.circle)),
    )


def _unique(items: Sequence[CircleShare]) -> list[CircleShare]:
    return [share for share in CircleShare if share in items]


# --- the circle ------------------------------------------------------------------------------


def decide_add_member(state: CaseState, cmd: c.AddCircleMember) -> list[DomainEvent]:
    permit_open(state, cmd, Action.CIRCLE, "adding to the circle of support")
    name = cmd.details.name.casefold()
    for existing in state.circle.values():
        if (
            existing.active
            and existing.role is cmd.role
            and existing.details.name.casefold() == name
        ):
            raise CommandRejected(
                f"details.name: already in the circle as {existing.member_id} ({cmd.role}); "
                "update that member instead"
            )
    return [
        CircleMemberAdded(
            member_id=f"member-{len(state.circle) + 1}", role=cmd.role, details=cmd.details
        )
    ]


def decide_update_member(state: CaseState, cmd: c.UpdateCircleMember) -> list[DomainEvent]:
    permit_open(state, cmd, Action.CIRCLE, "updating the circle of support")
    current = member(state, cmd.member_id)
    changes = {
        name: value
        for name in ("name", "relationship", "organisation", "contact", "notes")
        if (value := getattr(cmd, name)) is not None
    }
    details = current.details.model_copy(update=changes)
    role = cmd.role or current.role
    if details == current.details and role is current.role:
        raise CommandRejected(f"{cmd.member_id}: nothing to change (give the fields that change)")
    return [CircleMemberUpdated(member_id=cmd.member_id, role=role, details=details)]


def decide_remove_member(state: CaseState, cmd: c.RemoveCircleMember) -> list[DomainEvent]:
    permit_open(state, cmd, Action.CIRCLE, "removing from the circle of support")
    member(state, cmd.member_id)
    return [CircleMemberRemoved(member_id=cmd.member_id, reason=cmd.reason)]


def decide_circle_consent(state: CaseState, cmd: c.RecordCircleConsent) -> list[DomainEvent]:
    permit_open(state, cmd, Action.CIRCLE_CONSENT, "recording consent")
    member(state, cmd.member_id)
    return [
        CircleConsentRecorded(member_id=cmd.member_id, shared=_unique(cmd.shared), note=cmd.note)
    ]


def decide_share(state: CaseState, cmd: c.ShareWithCircle) -> list[DomainEvent]:
    """Sharing with a member: each item within the client's consent for that member, and
    something to share (an approved plan, a conference, an assessment)."""
    permit_open(state, cmd, Action.SHARE_WITH_CIRCLE, "sharing with the circle")
    target = member(state, cmd.member_id)
    items = _unique(cmd.items)
    refusal = circle_consent_refusal(target, items)
    if refusal:
        raise CommandRejected(f"items: {refusal}")
    plan_id = None
    if CircleShare.PLAN in items or CircleShare.PROGRESS in items:
        if state.active_plan is None:
            raise CommandRejected("items: there is no approved plan to share")
        plan_id = state.active_plan.plan_id
    if CircleShare.ASSESSMENT_SUMMARY in items and not state.assessments:
        raise CommandRejected("items: there is no assessment to share")
    conference_id = None
    if cmd.conference_id is not None and CircleShare.CONFERENCE_DECISIONS not in items:
        raise CommandRejected("conference_id: name a conference only to share its decisions")
    if CircleShare.CONFERENCE_DECISIONS in items:
        if not state.conferences:
            raise CommandRejected("items: no case conference has been recorded")
        conference_id = cmd.conference_id or list(state.conferences)[-1]
        if conference_id not in state.conferences:
            raise CommandRejected(f"conference_id: the case has no {conference_id}")
    return [
        SharedWithCircleMember(
            member_id=cmd.member_id,
            items=items,
            plan_id=plan_id,
            conference_id=conference_id,
            note=cmd.note,
        )
    ]


# --- case conferences ------------------------------------------------------------------------


def decide_conference(
    state: CaseState, cmd: c.RecordConference, now: datetime
) -> list[DomainEvent]:
    """A conference held on or after the case opened and not after today, with someone
    taking part, deciding or agreeing something. Its agreed actions become the case's
    actions (ids action-<n>, each naming the conference) in the same append."""
    permit_open(state, cmd, Action.CONFERENCE, "a case conference")
    conf = cmd.conference
    opened_on = state.opened_at.date()
    if conf.held_on < opened_on:
        raise CommandRejected(
            f"conference.held_on: {conf.held_on} is before the case was opened ({opened_on})"
        )
    if conf.held_on > now.date():
        raise CommandRejected(f"conference.held_on: {conf.held_on} is in the future")
    participants = check_participants(state, conf.participants, "conference.participants")
    if not (participants.staff or participants.circle or conf.client_attended):
        raise CommandRejected(
            "conference.participants: nobody took part (name staff, circle members, "
            "or that the client attended)"
        )
    if not conf.decisions and not conf.actions:
        raise CommandRejected("conference.decisions: record at least one decision or agreed action")
    conference_id = f"conference-{len(state.conferences) + 1}"
    agreed = actions_added(
        state, conf.actions, now, conference_id=conference_id, field="conference.actions"
    )
    return [
        CaseConferenceRecorded(
            conference_id=conference_id,
            held_on=conf.held_on,
            client_attended=conf.client_attended,
            participants=participants,
            decisions=list(conf.decisions),
            action_ids=[e.action_id for e in agreed if isinstance(e, ActionAdded)],
            notes=conf.notes,
        ),
        *agreed,
    ]
