"""A rate limit per client address on the routes that take a secret (signing in,
accepting an invitation): a sliding window of attempts, answered 429 with Retry-After.

Per process: each API instance counts its own attempts. What holds across instances is
the account lockout (application/identity), which counts failures in the log; this
limit is what slows down guessing across many staff ids from one address.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request

from casework.api.auth import now_of
from casework.api.problems import ApiProblem
from casework.i18n import N_, _


@dataclass
class RateLimit:
    attempts: int = 10
    per: timedelta = timedelta(minutes=1)
    _seen: dict[str, deque[datetime]] = field(default_factory=dict)

    def check(self, key: str, now: datetime) -> None:
        """Count an attempt from `key`; raise 429 when the window is full."""
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.per:
            seen.popleft()
        if len(seen) >= self.attempts:
            retry = max(1, int((seen[0] + self.per - now).total_seconds()) + 1)
            raise ApiProblem(
                429,
                N_("Too many attempts"),
                _(
                    "at most %(attempts)s attempts a minute from one address; "
                    "try again in %(retry)s s",
                    attempts=self.attempts,
                    retry=retry,
                ),
                kind="rate-limited",
                headers={"Retry-After": str(retry)},
            )
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle addresses, bounded memory
            for stale in [k for k, v in self._seen.items() if not v][:5_000]:
                del self._seen[stale]


def limit_by_address(request: Request) -> None:
    """The app's sign-in limit for this request's client address."""
    limit: RateLimit = request.app.state.sign_in_limit
    address = request.client.host if request.client else "unknown"
    limit.check(address, now_of(request))
