"""Notes and forgetting: the caseworker's free-text notes on a case, and the event that
marks a client forgotten (their data key destroyed).
"""

from __future__ import annotations

from typing import Literal

from events.fields import Identifier, PersonalText, ShortText
from events.registry import DomainEvent


class CaseNoteRecorded(DomainEvent):
    """A free-text note on the case (a phone call with the client's GP, a concern to
    follow up): the caseworker's own words, personal data."""

    type: Literal["CaseNoteRecorded"] = "CaseNoteRecorded"
    note_id: Identifier
    text: PersonalText


class ClientForgotten(DomainEvent):
    """The client's data key was destroyed: their personal fields read as erased from now on.

    Appended to every stream of the client by `casework client forget`; it carries no
    personal data, and the events before it stay in the log, chained and countable.
    """

    type: Literal["ClientForgotten"] = "ClientForgotten"
    client_ref: Identifier
    reason: ShortText
