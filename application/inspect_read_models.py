"""Each per-case read model against the log, for one case (for `inspect_case`,
application/inspect.py).

Read models do not see every event: each projection handles some event types and
ignores the others by design, and a read model records the version of the last event
it *applied*. So a read model is compared with the log through what it handles: the
last event of the case that it handles and that its projection has passed (its
checkpoint) is the version it must claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from projections import case_summary as case_summary_model
from projections import timeline
from projections.base import Projection
from projections.status import ProjectionStatus, projection_status


@dataclass(frozen=True)
class CaseVersionClaim:
    """A read model that records, per case, the stream version of the last case event
    it applied: `sql` reads that claim ($1 the case id; NULL when it holds nothing)."""

    projection: Projection
    sql: str


CASE_VERSION_CLAIMS: tuple[CaseVersionClaim, ...] = (
    CaseVersionClaim(
        case_summary_model.PROJECTION,
        "SELECT stream_version FROM case_summary WHERE case_id = $1",
    ),
    CaseVersionClaim(
        timeline.PROJECTION,
        "SELECT max(stream_version) FROM case_timeline WHERE case_id = $1",
    ),
)
"""The read models that say which version of a case they have seen."""


@dataclass(frozen=True)
class ReadModelView:
    """One read model against the log, for one case."""

    name: str
    claimed_version: int | None
    """The version the read model says it applied last (None: nothing for the case)."""
    expected_version: int
    """The last event of the case that the read model handles and its projection has
    passed (0: none): what it must claim."""
    expected_type: str | None
    pending_events: int
    """Events of the case it handles beyond its projection's checkpoint: its lag."""
    projection_error: str | None

    @property
    def findings(self) -> list[str]:
        found: list[str] = []
        what = f"v{self.expected_version}" + (
            f" ({self.expected_type})" if self.expected_type else ""
        )
        if self.claimed_version is None and self.expected_version:
            found.append(
                f"read model {self.name} holds nothing for this case, but its projection has "
                f"passed {what}, an event it handles"
            )
        elif self.claimed_version is not None and self.claimed_version < self.expected_version:
            found.append(
                f"read model {self.name} is at v{self.claimed_version}, but its projection has "
                f"passed {what}, an event it handles"
            )
        elif self.claimed_version is not None and self.claimed_version > self.expected_version:
            found.append(
                f"read model {self.name} claims v{self.claimed_version}, beyond the last event "
                f"it handles that its projection has passed (v{self.expected_version})"
            )
        if self.pending_events and self.projection_error:
            found.append(
                f"read model {self.name} is {self.pending_events} event(s) behind: its "
                f"projection stopped ({self.projection_error})"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "claimed_version": self.claimed_version,
            "expected_version": self.expected_version,
            "expected_type": self.expected_type,
            "pending_events": self.pending_events,
            "projection_error": self.projection_error,
        }


async def read_model_views(
    pool: asyncpg.Pool, case_id: str
) -> tuple[list[ReadModelView], dict[str, ProjectionStatus]]:
    """Each read model of `CASE_VERSION_CLAIMS` against the log, for one case.

    One read-only REPEATABLE READ transaction: a projector commits a batch and its
    checkpoint together, so the checkpoint, the read model and the log are read at one
    moment and agree whenever nothing is broken."""
    views: list[ReadModelView] = []
    statuses: dict[str, ProjectionStatus] = {}
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        for claim in CASE_VERSION_CLAIMS:
            projection = claim.projection
            [status] = await projection_status(conn, [projection])
            statuses[projection.name] = status
            row = await conn.fetchrow(
                """SELECT
                     (array_agg(stream_version ORDER BY stream_version DESC)
                        FILTER (WHERE passed))[1] AS version,
                     (array_agg(event_type ORDER BY stream_version DESC)
                        FILTER (WHERE passed))[1] AS event_type,
                     count(*) FILTER (WHERE NOT passed) AS pending
                   FROM (SELECT stream_version, event_type,
                                (transaction_id, global_position)
                                  <= ($3::text::xid8, $4::bigint) AS passed
                           FROM events
                          WHERE stream_id = $1 AND event_type = ANY($2::text[])) e""",
                f"case-{case_id}",
                sorted(projection.handled),
                str(status.transaction_id),
                status.global_position,
            )
            assert row is not None
            claimed = await conn.fetchval(claim.sql, case_id)
            views.append(
                ReadModelView(
                    name=projection.name,
                    claimed_version=claimed,
                    expected_version=row["version"] or 0,
                    expected_type=row["event_type"],
                    pending_events=row["pending"],
                    projection_error=status.last_error,
                )
            )
    return views, statuses
