"""The kit a feature (a slice of the case's sub-domain) is built with.

A feature declares, in one module of `cases/features/`, what it adds to a case: its
commands with their rules (`CaseCommand`, assembled into cases/command_table.py `TABLE`,
so the workflow's Updates, the client's map and the HTTP route follow), how its events
change the case's state (`folds`, applied by cases/evolve.py), the line each of its
events gets in the audit trail (`timeline`, read by projections/timeline.py), and which
of its events a referral's provider is told of (`provider_notices`, sent by the
workflow's side effects, workflows/case/effects.py). Its event
models live in the log's vocabulary (events/vocabulary/), since the log imports
nothing of ours. docs/architecture.md's checklist "Adding a feature" lists the rest.

Pure: no Temporal, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import wraps
from typing import Any, Generic, TypeVar

from cases import commands as c
from cases import decide as rules
from cases.access import Action
from cases.policy import Policy
from cases.said import Said
from cases.scoring import Score
from cases.state import CaseState
from events.registry import DomainEvent

C = TypeVar("C", bound=c.Command)

Decide = Callable[[CaseState, C, datetime], list[DomainEvent]]
"""A rule: (the case's state, the command, the workflow's time) → events, or CommandRejected."""


@dataclass(frozen=True)
class Scoring(Generic[C]):
    """The command's events need a score from the scoring activity (activities/assessment.py).

    The scoring rules run outside the workflow so that a new rules version never
    changes how a running case replays. `decide` of the entry then only checks the
    command (it yields no events); the events come from `decide` here, with the score.
    """

    assessment: Callable[[C], c.AssessmentInput]
    """What is scored."""
    decide: Callable[[CaseState, C, Score], list[DomainEvent]]


@dataclass(frozen=True, kw_only=True)
class CaseCommand(Generic[C]):
    """One command of the table (see the module docstring)."""

    command: type[C]
    update: str
    action: Action
    """What the access table (cases/access.py `COMMANDS`) calls the command: who may
    send it to which case. The rule in `decide` checks it; the HTTP API checks it first
    to answer 403 (or 404 when the caller may not see the case) without a round trip."""
    decide: Decide[C]
    scoring: Scoring[C] | None = None
    dispatch_to: Callable[[C], str] | None = None
    """The command makes a referral: where the workflow dispatches it (in the background)."""
    adopts_policy: Callable[[C], Policy] | None = None
    """The command replaces the case's policy; its reactions run under the new one."""

    def __post_init__(self) -> None:
        # Every rule of the table refuses personal details on a forgotten client's case
        # (rules.refuse_personal_details_once_forgotten), entries added later included.
        object.__setattr__(self, "decide", _refusing_personal_once_forgotten(self.decide))
        if self.scoring is not None:
            scoring = self.scoring
            object.__setattr__(
                self,
                "scoring",
                replace(scoring, decide=_scored_refusing_personal_once_forgotten(scoring.decide)),
            )


def _refusing_personal_once_forgotten(rule: Decide[C]) -> Decide[C]:
    if getattr(rule, "refuses_personal_once_forgotten", False):
        return rule

    @wraps(rule)
    def decide(state: CaseState, cmd: C, now: datetime) -> list[DomainEvent]:
        events = rule(state, cmd, now)
        rules.refuse_personal_details_once_forgotten(state, cmd, events)
        return events

    decide.refuses_personal_once_forgotten = True  # type: ignore[attr-defined]
    return decide


def _scored_refusing_personal_once_forgotten(
    rule: Callable[[CaseState, C, Score], list[DomainEvent]],
) -> Callable[[CaseState, C, Score], list[DomainEvent]]:
    if getattr(rule, "refuses_personal_once_forgotten", False):
        return rule

    @wraps(rule)
    def decide(state: CaseState, cmd: C, score: Score) -> list[DomainEvent]:
        events = rule(state, cmd, score)
        rules.refuse_personal_details_once_forgotten(state, cmd, events)
        return events

    decide.refuses_personal_once_forgotten = True  # type: ignore[attr-defined]
    return decide


def stateful(rule: Callable[[CaseState, C], list[DomainEvent]]) -> Decide[C]:
    """A rule that does not need the time."""

    def decide(state: CaseState, cmd: C, now: datetime) -> list[DomainEvent]:
        return rule(state, cmd)

    decide.__name__ = decide.__qualname__ = rule.__name__
    decide.__doc__ = rule.__doc__
    return decide


Fold = Callable[[CaseState, Any, str, datetime], None]
"""How an event changes the state: (state, event, actor id, when) → None, in place."""

Describe = Callable[[Any], Said]
"""An event's line in the audit trail, as a message (cases/said.py): never personal text."""


@dataclass(frozen=True)
class Feature:
    """One slice of the case: what it adds to the command table, the fold and the timeline."""

    name: str
    commands: tuple[CaseCommand[Any], ...] = ()
    folds: Mapping[type[DomainEvent], Fold] = field(default_factory=dict)
    timeline: Mapping[type[DomainEvent], Describe] = field(default_factory=dict)
    provider_notices: Mapping[type[DomainEvent], str] = field(default_factory=dict)
    """Events the referral's provider is told of, with the notice's `type`: the workflow
    POSTs it to the provider's referral channel (the event has `referral_id` and
    `provider_id`)."""

    @property
    def event_types(self) -> frozenset[str]:
        """The `type` of every event the feature folds."""
        return frozenset(model.model_fields["type"].default for model in self.folds)
