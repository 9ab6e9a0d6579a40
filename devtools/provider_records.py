"""What the provider simulator (devtools/provider_simulator.py) records: each referral
and notification it stored (with its deliveries and planned replies), each request it
answered, faults included, and the hook that delivers a referral's planned replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from devtools.provider_behaviour import Fault, PlannedReply


@dataclass(slots=True)
class ReceivedReferral:
    """A referral as the provider stored it. `headers` have lower-case names."""

    provider_id: str
    provider_reference: str
    idempotency_key: str
    body: dict[str, Any]
    headers: dict[str, str]
    planned_replies: tuple[PlannedReply, ...] = ()
    deliveries: int = 1
    """How many requests carried this key (1 + repeats), faulted requests excluded."""

    @property
    def referral_id(self) -> str | None:
        value = self.body.get("referral_id")
        return value if isinstance(value, str) else None

    @property
    def case_id(self) -> str | None:
        value = self.body.get("case_id")
        return value if isinstance(value, str) else None

    @property
    def notice(self) -> str | None:
        """The `type` of a notice about a referral already received (``referral.withdrawn``),
        None for a referral."""
        value = self.body.get("type")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class ReceivedNotification:
    """An escalation notification as the recipient stored it. `headers` lower-case."""

    recipient: str
    notification_id: str
    idempotency_key: str
    body: dict[str, Any]
    headers: dict[str, str]
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """Every request the simulator answered, faults included, in arrival order."""

    kind: str
    """``referral`` or ``notification``."""
    target: str
    """The provider id or the recipient."""
    request_number: int
    idempotency_key: str | None
    fault: Fault
    status: int


OnReferral = Callable[[ReceivedReferral], Awaitable[None]]


async def deliver_planned_replies(
    received: ReceivedReferral,
    send: Callable[[ReceivedReferral, PlannedReply], Awaitable[None]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Wait out each planned reply's delay and hand it to `send`, in order."""
    for reply in received.planned_replies:
        await sleep(reply.delay)
        await send(received, reply)
