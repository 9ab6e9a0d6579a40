"""The client's language: the language they prefer to be served in (a BCP 47 tag) and
whether they need an interpreter. Recorded at intake with the client's details
(`ClientDetails.preferred_language`, `.interpreter_needed` of `CaseOpened`), changed
later by `RecordClientLanguage` → `ClientLanguageRecorded`, which replaces both. Both
are personal data (sealed with the client's key, erased when the client is forgotten).

Who may: those who work the case (`Action.WORK`), on an open case. The case page and
the caseload show it (casework/console/), and a referral carries it to the provider
when the client consented to share it (`SharedField.LANGUAGE`, cases/consent.py).

The slice: its event `ClientLanguageRecorded` (events/vocabulary/intake.py), its command
and rule, its fold and its timeline line here; `casework case language` and
`POST /api/v1/cases/{id}/commands/record_client_language` send it.
"""

from __future__ import annotations

from datetime import datetime

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.feature import CaseCommand, Feature, stateful
from cases.said import N_, say
from cases.state import CaseState
from events.registry import DomainEvent
from events.vocabulary import ClientLanguageRecorded, LanguageTag


class RecordClientLanguage(c.Command):
    """Record the client's preferred language (None: not known) and interpreter need;
    both replace what the case held."""

    preferred_language: LanguageTag | None = None
    interpreter_needed: bool = False


def decide_record_client_language(state: CaseState, cmd: RecordClientLanguage) -> list[DomainEvent]:
    permit_open(state, cmd, Action.WORK, "recording the client's language")
    client = state.client
    if (client.preferred_language, bool(client.interpreter_needed)) == (
        cmd.preferred_language,
        cmd.interpreter_needed,
    ):
        raise CommandRejected(
            "preferred_language: the case already records this language and interpreter need"
        )
    return [
        ClientLanguageRecorded(
            preferred_language=cmd.preferred_language,
            interpreter_needed=cmd.interpreter_needed,
        )
    ]


def recorded(state: CaseState, event: ClientLanguageRecorded, actor_id: str, at: datetime) -> None:
    state.client = state.client.model_copy(
        update={
            "preferred_language": event.preferred_language,
            "interpreter_needed": event.interpreter_needed,
        }
    )


FEATURE = Feature(
    name="client language",
    commands=(
        CaseCommand(
            command=RecordClientLanguage,
            update="record_client_language",
            action=Action.WORK,
            decide=stateful(decide_record_client_language),
        ),
    ),
    folds={ClientLanguageRecorded: recorded},
    timeline={
        ClientLanguageRecorded: lambda e: say(N_("Client's language and interpreter need recorded"))
    },
)
