"""The client's circle of support and case conferences: members added, updated and
removed (their details sealed with the client's key), what the client consents to share
with each and what was shared, and the conferences with their decisions.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from events.choices import CircleRole, CircleShare
from events.fields import Identifier, PersonalField, PersonalShortText, PersonalText, ShortText
from events.registry import DomainEvent
from events.vocabulary.common import ClientContact, Participants, _Part


class CircleMemberDetails(_Part):
    """Who a member of the circle is: personal data, sealed with the client's data key and
    erased when the client is forgotten, like the client's own details."""

    name: PersonalShortText
    relationship: Annotated[ShortText | None, PersonalField()] = None
    """In the client's words ("older sister", "key worker at the day centre")."""
    organisation: Annotated[ShortText | None, PersonalField()] = None
    contact: Annotated[ClientContact, PersonalField()] = ClientContact()
    notes: PersonalText = ""


class CircleMemberAdded(DomainEvent):
    """A person or professional around the client joined the circle of support."""

    type: Literal["CircleMemberAdded"] = "CircleMemberAdded"
    member_id: Identifier
    role: CircleRole
    details: CircleMemberDetails


class CircleMemberUpdated(DomainEvent):
    """A member's role or details changed (the event carries them whole)."""

    type: Literal["CircleMemberUpdated"] = "CircleMemberUpdated"
    member_id: Identifier
    role: CircleRole
    details: CircleMemberDetails


class CircleMemberRemoved(DomainEvent):
    type: Literal["CircleMemberRemoved"] = "CircleMemberRemoved"
    member_id: Identifier
    reason: PersonalShortText


class CircleConsentRecorded(DomainEvent):
    """What the client consents to share with one member (replaces what it was; empty:
    nothing, consent withdrawn)."""

    type: Literal["CircleConsentRecorded"] = "CircleConsentRecorded"
    member_id: Identifier
    shared: list[CircleShare] = Field(default_factory=list)
    note: PersonalText = ""


class SharedWithCircleMember(DomainEvent):
    """Information was shared with a member of the circle, within the client's consent."""

    type: Literal["SharedWithCircleMember"] = "SharedWithCircleMember"
    member_id: Identifier
    items: list[CircleShare] = Field(min_length=1)
    plan_id: Identifier | None = None
    """The plan shared (when `items` has `plan`)."""
    conference_id: Identifier | None = None
    """The conference whose decisions were shared (when `items` has
    `conference_decisions`)."""
    note: PersonalText = ""


class CaseConferenceRecorded(DomainEvent):
    """A case conference: who took part, what was decided, which actions were agreed."""

    type: Literal["CaseConferenceRecorded"] = "CaseConferenceRecorded"
    conference_id: Identifier
    held_on: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    client_attended: bool
    participants: Participants
    decisions: list[PersonalShortText] = Field(default_factory=list, max_length=30)
    action_ids: list[Identifier] = Field(default_factory=list, max_length=30)
    """The actions agreed, recorded as the case's actions in the same append."""
    notes: PersonalText = ""
