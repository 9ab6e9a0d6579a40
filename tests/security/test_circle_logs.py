"""Circle members' details and conference decisions never reach a log line."""

from __future__ import annotations

import json
from datetime import date

from cases import commands as c
from events.personal import EACH, personal_paths
from events.vocabulary import (
    CaseConferenceRecorded,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleMemberUpdated,
    CircleRole,
    ClientContact,
    Participants,
    SharedWithCircleMember,
)
from infrastructure.logs import PERSONAL_KEYS, REDACTED, redact_personal_data
from tests.cases.people import ALICE

SECRETS = ("Mona Quennell", "older sister", "555-0199", "Elm Row Surgery", "viewings")


def test_every_personal_field_of_the_circle_events_is_a_redacted_key() -> None:
    for model in (
        CircleMemberAdded,
        CircleMemberUpdated,
        CircleConsentRecorded,
        SharedWithCircleMember,
        CaseConferenceRecorded,
    ):
        for path in personal_paths(model):
            key = next(step for step in reversed(path.steps) if step != EACH)
            assert key in PERSONAL_KEYS, f"{model.__name__}.{path.dotted}"


def test_circle_commands_are_redacted_in_logs() -> None:
    add = c.AddCircleMember(
        actor=ALICE,
        role=CircleRole.FAMILY_MEMBER,
        details=CircleMemberDetails(
            name="Mona Quennell",
            relationship="older sister",
            organisation="Elm Row Surgery",
            contact=ClientContact(phone="555-0199"),
        ),
    )
    update = c.UpdateCircleMember(
        actor=ALICE, member_id="member-1", name="Mona Quennell", relationship="older sister"
    )
    conference = c.RecordConference(
        actor=ALICE,
        conference=c.ConferenceInput(
            held_on=date(2026, 11, 20),
            participants=Participants(staff=["alice"]),
            decisions=["Mona drives Rosalind to the viewings"],
        ),
    )
    for cmd in (add, update, conference):
        event = redact_personal_data(None, "info", {"event": "x", "command": cmd})
        text = json.dumps(event, default=str)
        assert not [s for s in SECRETS if s in text], text
        assert REDACTED in text
