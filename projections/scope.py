"""Who may see which cases: the read side's visibility rule, from cases/access.py.

Every query over case data joins `case_summary` (alias `cs`) and adds the predicate
`case_scope(actor).sql(...)`. The relation comes from the role × query table of the
authorisation policy (`cases.access.QUERIES`); a case is visible by its CURRENT
worker and team:

* caseworker — the cases assigned to them (`cs.worker = staff_id`);
* supervisor — the cases of their team (`cs.team = team`); a supervisor without a
  team sees nothing;
* manager, auditor — every case (auditors read; the read side has no writes);
* system — every case (the engine itself: escalation timers, operations jobs);
* admin — no case data at all: administrators manage the staff and resource
  directories. Case queries raise `AccessDenied` for them;
* provider — no case at all (case queries raise `AccessDenied`); the referrals sent to
  its organisation are read by provider id (`projections.referrals.referrals_for_provider`),
  never through this scope, which is nothing for them.

A single case asked for by id that is outside the actor's scope is reported as "not
found or not visible" (`CaseNotVisible`), so the answer does not reveal that it
exists. Aggregates (caseload, outcomes) are computed over the visible cases only.

Joining case_summary
--------------------
Each projection has its own checkpoint, so when a query runs `case_summary` may stand
before or after the read model it is joined to. A query of another read model may
join it all the same, for the scope and for the case's own attributes shown beside a
row (client_ref, current worker and team, risk level), and for nothing else. That is
safe:

* Visibility has one source. Every query decides it from case_summary's worker and
  team, so all read models agree on who sees a case, at every moment: a transfer
  takes effect in every query when case_summary applies it, and no query shows a
  case that case_summary's own answer hides from the same actor. (A copy of worker
  and team in each read model would let each one's visibility lag differently.)
* The case's attributes are shown as case_summary holds them now, the values the
  case's summary shows; they are never compared with, or computed together with, the
  other read model's columns. A query that does compare them says how it keeps the
  two consistent (`projections.reviews.reviews` does).
* The join hides, never invents or repeats: case_summary has one row per case (its
  key), and a case stream begins with CaseOpened, so another read model's row lacks
  its case_summary row only while case_summary is behind — for the projector's lag.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.access import (
    AccessDenied,
    CaseNotVisible,
    Query,
    may_decide_approval,
    query_relation,
)
from cases.actors import Actor

__all__ = [
    "AccessDenied",
    "CaseNotVisible",
    "CaseScope",
    "case_scope",
    "may_decide_approval",
]


@dataclass(frozen=True)
class CaseScope:
    """A predicate over `case_summary` columns: every case, a worker's, or a team's."""

    everything: bool = False
    worker: str | None = None
    team: str | None = None
    nothing: bool = False

    def sql(self, alias: str, args: list[object]) -> str:
        """The SQL predicate, appending its parameters to `args` ($n numbering)."""
        if self.nothing:
            return "FALSE"
        if self.everything:
            return "TRUE"
        if self.worker is not None:
            args.append(self.worker)
            return f"{alias}.worker = ${len(args)}"
        args.append(self.team)
        return f"{alias}.team = ${len(args)}"

    def admits(self, team: str, worker: str) -> bool:
        """The same predicate in Python, for one case's team and worker."""
        if self.nothing:
            return False
        if self.everything:
            return True
        if self.worker is not None:
            return worker == self.worker
        return team == self.team


def case_scope(actor: Actor, query: Query = Query.CASE_DETAILS) -> CaseScope:
    """The cases `actor` may see with `query` (AccessDenied for roles that see none)."""
    relation = query_relation(actor, query)
    if relation == "any":
        return CaseScope(everything=True)
    if relation == "referred":  # a provider: its referrals, never a case (no case scope)
        return CaseScope(nothing=True)
    if relation == "assigned":
        return CaseScope(worker=actor.staff_id)
    if actor.team is None:
        return CaseScope(nothing=True)
    return CaseScope(team=actor.team)
