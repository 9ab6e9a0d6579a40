"""What the case simulation (devtools/simulation.py) works with: the agency it
simulates (teams and their workers, supervisors, providers, the one client name no read
model may contain), the chooser that drives it (hypothesis or random), the state of the
case being generated, and the `emit` callback each step appends its events with.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from events.registry import DomainEvent
from events.vocabulary import ClosureReason

T = TypeVar("T")


TEAMS: dict[str, tuple[str, ...]] = {
    "team-a": ("worker-a1", "worker-a2"),
    "team-b": ("worker-b1", "worker-b2"),
}


def supervisor_of(team: str) -> str:
    return f"super-{team}"


PROVIDERS = ("provider-food", "provider-housing", "provider-clinic")


CLIENT_NAME = "Zelda Quixote-Secret"
"""Every generated client has this name: read models must never contain it."""


class Chooser(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...


class RandomChooser:
    def __init__(self, seed: int | random.Random) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


@dataclass
class CaseState:
    case_id: uuid.UUID
    teams: dict[str, tuple[str, ...]]
    worker: str
    team: str
    clock: datetime
    status: str = "open"
    assessed: bool = False
    plan_id: str = "plan-1"
    plan_version: int = 0
    plan_goals: list[str] = field(default_factory=list)
    plan_approved_version: int = 0
    active_version: int = 0
    pending: tuple[str, str] | None = None  # (approval_id, kind)
    approvals: int = 0
    referrals: dict[str, str] = field(default_factory=dict)  # id -> status
    transfer: tuple[str, str] | None = None  # (transfer_id, to_team)
    transfers: int = 0
    contacts: int = 0
    evaluations: int = 0
    closure_reason: ClosureReason | None = None
    review_due_at: datetime | None = None
    escalation: tuple[str, int] | None = None  # (id, level)
    escalations: int = 0
    on_hold: bool = False
    circle: list[str] = field(default_factory=list)  # active circle members
    circle_added: int = 0
    conferences: int = 0
    actions: dict[str, str] = field(default_factory=dict)  # id -> open/overdue/done/dropped
    advocacies: dict[str, int] = field(default_factory=dict)  # open advocacy id -> its step
    advocacies_opened: int = 0
    feedback: int = 0


class EmitFn(Protocol):
    def __call__(
        self, event: DomainEvent, actor: str | None = None, role: str = "caseworker"
    ) -> None: ...
