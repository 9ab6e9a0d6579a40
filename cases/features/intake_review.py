"""The duplicate check's record at intake: when a new client looked like existing ones
(application/clients/use_cases.py `duplicates`), the caseworker saw the matches and
confirmed a new client. `decide_open` (cases/decide.py) records it with the opening as
`ClientMatchesReviewed` when `OpenCase.intake_review` is set; it changes nothing in the
case's state and gets its line in the audit trail (client references only)."""

from __future__ import annotations

from datetime import datetime

from cases.feature import Feature
from cases.said import N_, Said, Value, say
from cases.state import CaseState
from events.vocabulary import ClientMatchesReviewed


def reviewed(state: CaseState, event: ClientMatchesReviewed, actor_id: str, at: datetime) -> None:
    """Nothing to fold: the record is the event (the audit trail shows it)."""


def _line(event: ClientMatchesReviewed) -> Said:
    shown: Value = tuple(event.candidates) if event.candidates else say(N_("none"))
    if event.hidden:
        return say(
            N_(
                "Possible duplicates reviewed at intake (shown: %(shown)s; %(hidden)s more "
                "outside the worker's scope); a new client confirmed"
            ),
            shown=shown,
            hidden=event.hidden,
        )
    return say(
        N_("Possible duplicates reviewed at intake (shown: %(shown)s); a new client confirmed"),
        shown=shown,
    )


FEATURE = Feature(
    name="intake review",
    folds={ClientMatchesReviewed: reviewed},
    timeline={ClientMatchesReviewed: _line},
)
