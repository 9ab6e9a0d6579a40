"""Who may see which cases: the one place the read side's visibility rule lives.

Every query over case data joins `case_summary` (alias `cs`) and adds the predicate
`case_scope(actor).sql(...)`; a case is visible by its CURRENT worker and team:

* caseworker — the cases assigned to them (`cs.worker = staff_id`);
* supervisor — the cases of their team (`cs.team = team`); a supervisor without a
  team sees nothing;
* manager, auditor — every case (auditors read; the read side has no writes);
* system — every case (the engine itself: escalation timers, operations jobs);
* admin — no case data at all: administrators manage the staff and resource
  directories. Case queries raise `AccessDenied` for them.

A single case asked for by id that is outside the actor's scope is reported as "not
found or not visible" (`CaseNotVisible`), so the answer does not reveal that it
exists. Aggregates (caseload, outcomes) are computed over the visible cases only.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.actors import Actor, Role


class AccessDenied(PermissionError):
    """The actor's role may not read case data at all."""


class CaseNotVisible(LookupError):
    """No such case, or the actor may not see it (deliberately indistinguishable)."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"case {case_id} not found or not visible to you")


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


def case_scope(actor: Actor) -> CaseScope:
    """The cases `actor` may see (raises AccessDenied for roles that see none)."""
    match actor.role:
        case Role.CASEWORKER:
            return CaseScope(worker=actor.staff_id)
        case Role.SUPERVISOR:
            if actor.team is None:
                return CaseScope(nothing=True)
            return CaseScope(team=actor.team)
        case Role.MANAGER | Role.AUDITOR | Role.SYSTEM:
            return CaseScope(everything=True)
        case Role.ADMIN:
            raise AccessDenied(
                f"{actor.staff_id} is an administrator: administrators manage the staff and "
                "resource directories and see no case data"
            )
    raise AccessDenied(f"role {actor.role} may not read case data")  # pragma: no cover


def may_decide_approval(actor: Actor, team: str, requested_by: str) -> bool:
    """A supervisor of the case's team may decide an approval they did not request."""
    return actor.role is Role.SUPERVISOR and actor.team == team and actor.staff_id != requested_by
