"""The agency's review and escalation policy: validated, with defaults, in seconds or days.

Durations accept an integer number of seconds or a string with a unit: `90d`, `12h`,
`15m`, `30s` (so a demonstration can run a whole review cycle in a minute).

How changes reach running cases: `casework policy apply FILE` records the policy in
the `policy` stream and sends it to every open case as the `apply_policy` update;
each case re-computes its next review date (a `ReviewScheduled` event when it
moves). New cases start with the current policy.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from events.vocabulary import RiskLevel

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def parse_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is seconds (an integer) or a string like 90d, 12h, 30s")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    raise ValueError(f"{value!r} is not a duration: use seconds or a string like 90d, 12h, 30s")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    Field(ge=timedelta(seconds=1), le=timedelta(days=3660)),
]

Delay = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    Field(ge=timedelta(0), le=timedelta(days=3660)),
]

Notify = Literal["worker", "supervisor", "manager"]

CriticalAction = Literal["crisis_plan", "crisis_risk", "high_risk"]


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notify: Notify
    after: Delay
    """Delay after the previous level (for level 1: after the lapse or missed deadline)."""


def _default_intervals() -> dict[RiskLevel, timedelta]:
    return {
        RiskLevel.CRISIS: timedelta(days=7),
        RiskLevel.HIGH: timedelta(days=30),
        RiskLevel.MEDIUM: timedelta(days=60),
        RiskLevel.LOW: timedelta(days=90),
    }


def _default_critical_actions() -> list[CriticalAction]:
    return ["crisis_plan", "crisis_risk"]


def _default_ladder() -> list[EscalationStep]:
    return [
        EscalationStep(notify="supervisor", after=timedelta(0)),
        EscalationStep(notify="manager", after=timedelta(days=7)),
    ]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1)
    review_interval: dict[RiskLevel, Duration] = Field(default_factory=_default_intervals)
    initial_risk: RiskLevel = RiskLevel.MEDIUM
    """The interval used before the first assessment sets a risk level."""
    review_grace: Duration = timedelta(days=7)
    review_spread: Delay = timedelta(0)
    """Each case's review falls this much later at most: a fixed offset between 0 and
    the spread, taken from the case id, so cases opened together (a caseload imported
    in one go) do not all fall due in the same minute, and each case keeps its rhythm.
    0: reviews fall due exactly when their interval ends."""
    escalation_ladder: list[EscalationStep] = Field(
        default_factory=_default_ladder, min_length=1, max_length=10
    )
    approval_deadline: Duration = timedelta(days=5)
    """A plan or closure submitted and not decided by then escalates up the ladder."""
    referral_reply_deadline: Duration = timedelta(days=10)
    """A referral with no reply from the provider by then is followed up and escalates."""
    action_reminder_lead: Delay = timedelta(days=2)
    """How long before a plan's action is due its owner's worker is reminded (0: never)."""
    critical_actions: list[CriticalAction] = Field(
        default_factory=_default_critical_actions, max_length=3
    )
    """Which overdue actions escalate up the ladder: `crisis_plan` (actions of the crisis
    plan), `crisis_risk` (every action of a case at crisis risk), `high_risk` (every
    action of a case at high or crisis risk)."""

    def action_is_critical(self, crisis_plan: bool, risk: RiskLevel | None) -> bool:
        """Whether an action (of the crisis plan or not, on a case at `risk`) escalates."""
        rules = set(self.critical_actions)
        return (
            (crisis_plan and "crisis_plan" in rules)
            or (risk is RiskLevel.CRISIS and bool(rules & {"crisis_risk", "high_risk"}))
            or (risk is RiskLevel.HIGH and "high_risk" in rules)
        )

    def review_offset(self, case_id: UUID) -> timedelta:
        """How much later than its interval's end the case's review falls (< the spread)."""
        seconds = int(self.review_spread.total_seconds())
        return timedelta(seconds=case_id.int % seconds) if seconds else timedelta(0)

    def interval(self, risk: RiskLevel | None) -> timedelta:
        risk = risk or self.initial_risk
        return self.review_interval.get(risk, self.review_interval[self.initial_risk])

    def model_post_init(self, __context: Any) -> None:
        missing = set(RiskLevel) - set(self.review_interval)
        if missing:
            raise ValueError(
                "review_interval: needs every risk level; missing "
                + ", ".join(sorted(m.value for m in missing))
            )


DEFAULT_POLICY = Policy()
