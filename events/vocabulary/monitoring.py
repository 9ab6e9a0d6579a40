"""Monitoring the plan: contacts with the client, progress on each goal, and the
evaluation of the goals with the next step it leads to.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from events.choices import ContactKind, GoalStatus
from events.fields import Identifier, PersonalText, ShortText
from events.registry import DomainEvent
from events.vocabulary.common import _Part


class GoalOutcome(StrEnum):
    MET = "met"
    PARTLY_MET = "partly_met"
    NOT_MET = "not_met"


class NextStep(StrEnum):
    REVISE_PLAN = "revise_plan"
    CONTINUE = "continue"
    CLOSE = "close"


class GoalEvaluation(_Part):
    goal_id: Identifier
    outcome: GoalOutcome
    reason: ShortText


class ContactLogged(DomainEvent):
    type: Literal["ContactLogged"] = "ContactLogged"
    contact_id: Identifier
    kind: ContactKind
    contact_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    duration_minutes: int = Field(default=0, ge=0, le=24 * 60)
    notes: PersonalText = ""


class GoalProgressRecorded(DomainEvent):
    type: Literal["GoalProgressRecorded"] = "GoalProgressRecorded"
    goal_id: Identifier
    status: GoalStatus
    note: PersonalText = ""


class GoalsEvaluated(DomainEvent):
    type: Literal["GoalsEvaluated"] = "GoalsEvaluated"
    evaluation_id: Identifier
    evaluations: list[GoalEvaluation] = Field(min_length=1)
    next_step: NextStep
