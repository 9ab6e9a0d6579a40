"""The overdue and escalations board's query: each team's most urgent rows, and how many.

No table of its own: it reads the `reviews` and `escalations` read models
(projections/reviews.py), joined to `case_summary` exactly as their own queries
`reviews(overdue_only=True)` and `escalations` are (the same rows, the same order, the
same scope; see those queries for why each join is safe), but ranks the rows within
each team in SQL and answers only the first `per_team` of each team, with each team's
count. The board therefore reads a bounded number of rows however many cases are
overdue, and counts every overdue review and open escalation (not only those of the
first page of one list over every team).

The team is the case's current team (`case_summary.team`), as on the board before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from cases.actors import Actor
from projections.base import moment
from projections.reviews import OpenEscalation, ReviewDue
from projections.scope import case_scope

__all__ = ["TeamBoard", "board"]


@dataclass
class TeamBoard:
    """One team's rows of the board, the most urgent first."""

    team: str
    overdue: list[ReviewDue] = field(default_factory=list)
    """The most overdue lapsed reviews, at most `per_team`."""
    escalations: list[OpenEscalation] = field(default_factory=list)
    """The open escalations, the highest level then the oldest first, at most `per_team`."""
    overdue_total: int = 0
    escalations_total: int = 0


async def _overdue(
    pool: asyncpg.Pool, actor: Actor, now: datetime, per_team: int
) -> list[tuple[ReviewDue, int]]:
    args: list[object] = [now, per_team]
    rows = await pool.fetch(
        f"""SELECT * FROM (
                SELECT rv.case_id, cs.client_ref, cs.worker, cs.team, cs.risk_level,
                       rv.review_id, rv.due_on, rv.due_at, rv.grace_until, rv.status,
                       ($1::timestamptz::date - rv.due_on) AS days_overdue,
                       rv.due_at < $1 AS overdue,
                       row_number() OVER (PARTITION BY cs.team
                                          ORDER BY cs.next_review_due, cs.case_id) AS rank,
                       count(*) OVER (PARTITION BY cs.team) AS in_team
                  FROM case_summary cs JOIN case_reviews rv
                    ON rv.case_id = cs.case_id AND rv.due_at = cs.next_review_due
                 WHERE cs.next_review_due < $1
                   AND cs.status = 'open' AND {case_scope(actor).sql("cs", args)}
             ) ranked
             WHERE rank <= $2
             ORDER BY team, rank""",
        *args,
    )
    return [
        (ReviewDue.model_validate({k: v for k, v in r.items() if k not in ("rank", "in_team")}),
         int(r["in_team"]))
        for r in rows
    ]  # fmt: skip


async def _escalations(
    pool: asyncpg.Pool, actor: Actor, now: datetime, per_team: int
) -> list[tuple[OpenEscalation, int]]:
    args: list[object] = [now, per_team]
    rows = await pool.fetch(
        f"""SELECT * FROM (
                SELECT e.case_id, e.escalation_id, e.subject, e.subject_id, e.level,
                       e.escalated_to, e.reason, e.raised_at,
                       extract(epoch FROM $1 - e.raised_at)::float8 / 3600 AS open_hours,
                       cs.worker, cs.team,
                       row_number() OVER (PARTITION BY cs.team
                                          ORDER BY e.level DESC, e.raised_at, e.case_id,
                                                   e.escalation_id) AS rank,
                       count(*) OVER (PARTITION BY cs.team) AS in_team
                  FROM case_escalations e JOIN case_summary cs ON cs.case_id = e.case_id
                 WHERE e.status = 'open' AND {case_scope(actor).sql("cs", args)}
             ) ranked
             WHERE rank <= $2
             ORDER BY team, rank""",
        *args,
    )
    return [
        (OpenEscalation.model_validate(
            {k: v for k, v in r.items() if k not in ("rank", "in_team")}
        ), int(r["in_team"]))
        for r in rows
    ]  # fmt: skip


async def board(
    pool: asyncpg.Pool, actor: Actor, *, per_team: int, now: datetime | None = None
) -> list[TeamBoard]:
    """Each team with a lapsed review or an open escalation among the cases `actor` sees:
    its `per_team` most overdue reviews and highest, oldest escalations, and how many of
    each it has in all; teams by name."""
    now_ = moment(now)
    overdue, escalations = await asyncio.gather(
        _overdue(pool, actor, now_, per_team), _escalations(pool, actor, now_, per_team)
    )
    teams: dict[str, TeamBoard] = {}
    for review, total in overdue:
        team = teams.setdefault(review.team, TeamBoard(review.team))
        team.overdue.append(review)
        team.overdue_total = total
    for escalation, total in escalations:
        team = teams.setdefault(escalation.team, TeamBoard(escalation.team))
        team.escalations.append(escalation)
        team.escalations_total = total
    return [teams[t] for t in sorted(teams)]
