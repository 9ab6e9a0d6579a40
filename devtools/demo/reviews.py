"""What became of the demo cases' reviews, read back from the event log.

A review is done by a reassessment (`AssessmentRecorded` after the first): on time
when the review had not lapsed, late when it had. A `ReviewLapsed` is a review left
past its grace period; the demo's workers let only the neglected cases' lapse.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from cases.state import stream_id_for

REVIEW_EVENTS = ("AssessmentRecorded", "ReviewLapsed")


@dataclass
class ReviewTally:
    on_time: int = 0
    """Reviews done (reassessments) before they lapsed."""
    late: int = 0
    """Reviews done after they had lapsed."""
    lapsed_by_path: dict[str, int] = field(default_factory=dict)
    """Reviews that lapsed, by the path of their case."""

    @property
    def lapsed(self) -> int:
        return sum(self.lapsed_by_path.values())


async def tally_reviews(pool: asyncpg.Pool, paths: dict[str, str]) -> ReviewTally:
    """`paths`: case id → its path. Reads event types only (no personal data)."""
    case_of = {stream_id_for(case_id): case_id for case_id in paths}
    rows = await pool.fetch(
        """SELECT stream_id, event_type FROM events
            WHERE stream_id = ANY($1::text[]) AND event_type = ANY($2::text[])
            ORDER BY stream_id, stream_version""",
        list(case_of),
        list(REVIEW_EVENTS),
    )
    tally = ReviewTally()
    lapsed: Counter[str] = Counter()
    assessed: set[str] = set()
    overdue: set[str] = set()
    for row in rows:
        stream = row["stream_id"]
        if row["event_type"] == "ReviewLapsed":
            lapsed[paths[case_of[stream]]] += 1
            overdue.add(stream)
        elif stream not in assessed:
            assessed.add(stream)  # the first assessment starts the review clock
        elif stream in overdue:
            tally.late += 1
            overdue.discard(stream)
        else:
            tally.on_time += 1
    tally.lapsed_by_path = dict(sorted(lapsed.items()))
    return tally
