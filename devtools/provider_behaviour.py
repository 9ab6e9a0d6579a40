"""How a simulated provider or notification recipient answers
(devtools/provider_simulator.py): the `Fault`s a fault test scripts per endpoint
(`Behaviour`), and a provider's replies to a referral (`ReplyPolicy`: accepted,
declined with a reason, completed; deterministic per idempotency key).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    OK = "ok"
    SERVER_ERROR = "server_error"
    """Answer 500, store nothing."""
    SLOW = "slow"
    """Wait `Behaviour.delay` seconds, then store and answer normally."""
    GARBAGE = "garbage"
    """Answer 200 with a body that is not JSON, store nothing."""
    REJECT = "reject"
    """Answer 400, store nothing."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How one provider or recipient answers: `script` for its first requests, then `then`."""

    script: tuple[Fault, ...] = ()
    then: Fault = Fault.OK
    delay: float = 30.0
    """Seconds a `SLOW` answer waits: longer than the client's timeout makes it a timeout
    (the default outlasts the webhook client's default of 10 s)."""

    def fault_for(self, request_number: int) -> Fault:
        """The fault for the endpoint's `request_number`-th request (1-based)."""
        if 1 <= request_number <= len(self.script):
            return self.script[request_number - 1]
        return self.then

    @classmethod
    def failing_first(cls, n: int) -> Behaviour:
        """Answer 500 to the first `n` requests, then normally."""
        return cls(script=(Fault.SERVER_ERROR,) * n)

    @classmethod
    def slow_first(cls, n: int, delay: float) -> Behaviour:
        """Wait `delay` seconds before answering the first `n` requests."""
        return cls(script=(Fault.SLOW,) * n, delay=delay)

    @classmethod
    def garbage_first(cls, n: int) -> Behaviour:
        """Answer 200 with a non-JSON body to the first `n` requests, then normally."""
        return cls(script=(Fault.GARBAGE,) * n)

    @classmethod
    def always(cls, fault: Fault, *, delay: float = 30.0) -> Behaviour:
        """Answer every request with `fault` (for example `Fault.REJECT`)."""
        return cls(then=fault, delay=delay)


NORMAL = Behaviour()


class ReplyOutcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class PlannedReply:
    """One step of a provider's answer to a referral."""

    outcome: ReplyOutcome
    delay: float
    """Seconds after the previous step (after receipt, for the first step)."""
    reason: str | None = None
    """Why, for a decline."""


@dataclass(frozen=True, slots=True)
class ReplyPolicy:
    """How a provider answers referrals: pure data, deterministic per idempotency key.

    A referral is accepted with probability `accept_ratio`, declined (with one of
    `decline_reasons`) with probability `decline_ratio`, and otherwise never answered
    (for testing follow-ups). An accepted referral is later completed with
    probability `complete_ratio`. Delays are drawn uniformly from the given
    (low, high) ranges in seconds.
    """

    accept_ratio: float = 1.0
    decline_ratio: float = 0.0
    decline_reasons: tuple[str, ...] = ("no capacity at present",)
    complete_ratio: float = 1.0
    reply_delay: tuple[float, float] = (1.0, 3.0)
    completion_delay: tuple[float, float] = (5.0, 10.0)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("accept_ratio", "decline_ratio", "complete_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.accept_ratio + self.decline_ratio > 1.0 + 1e-9:
            raise ValueError("accept_ratio + decline_ratio must not exceed 1")
        if self.decline_ratio > 0 and not self.decline_reasons:
            raise ValueError("decline_reasons must not be empty when declines are possible")
        for name in ("reply_delay", "completion_delay"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be a (low, high) range with 0 <= low <= high")

    def plan(self, idempotency_key: str) -> tuple[PlannedReply, ...]:
        """The replies to the referral with this key (the same every time)."""
        rng = random.Random(f"{self.seed}:{idempotency_key}")
        draw = rng.random()
        if draw < self.accept_ratio:
            replies = [PlannedReply(ReplyOutcome.ACCEPTED, rng.uniform(*self.reply_delay))]
            if rng.random() < self.complete_ratio:
                replies.append(
                    PlannedReply(ReplyOutcome.COMPLETED, rng.uniform(*self.completion_delay))
                )
            return tuple(replies)
        if draw < self.accept_ratio + self.decline_ratio:
            return (
                PlannedReply(
                    ReplyOutcome.DECLINED,
                    rng.uniform(*self.reply_delay),
                    reason=rng.choice(self.decline_reasons),
                ),
            )
        return ()
