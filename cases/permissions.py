"""Who may do what to a case: one table of role × action, and the relation each needs.

Relations:
* `assigned`: the case's assigned worker;
* `team`: a member of the case's team (supervisors act for their team);
* `any`: any case of the agency.

Separation of duties (nobody approves what they authored or requested) is checked by
the rules in cases/decide.py on top of this table.
"""

from __future__ import annotations

from enum import StrEnum

from cases.actors import Actor, Role
from cases.state import CaseState


class Action(StrEnum):
    OPEN = "open"
    WORK = "work"
    """Day-to-day case work: consent, assessment, plan, referral, contact, progress,
    evaluation, closure request, transfer request."""
    APPROVE = "approve"
    ASSIGN = "assign"
    REOPEN = "reopen"
    PROVIDER_REPLY = "provider_reply"
    ERASE = "erase"
    """Record a client's erasure (their personal data made unreadable)."""


Relation = str  # "assigned" | "team" | "any"

PERMISSIONS: dict[Action, dict[Role, Relation]] = {
    Action.OPEN: {Role.CASEWORKER: "team", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.WORK: {Role.CASEWORKER: "assigned", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.APPROVE: {Role.SUPERVISOR: "team"},
    Action.ASSIGN: {Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.REOPEN: {Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.ERASE: {Role.ADMIN: "any"},
    Action.PROVIDER_REPLY: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
        Role.SYSTEM: "any",
    },
}


class NotPermitted(PermissionError):
    pass


def check(actor: Actor, action: Action, *, team: str, assigned_worker: str | None) -> None:
    """Raise NotPermitted (naming the actor, role and action) unless the table allows it."""
    relation = PERMISSIONS[action].get(actor.role)
    if relation is None:
        raise NotPermitted(f"{actor.staff_id} ({actor.role}) may not {action} cases")
    if relation == "any":
        return
    if actor.team != team:
        raise NotPermitted(
            f"{actor.staff_id} ({actor.role}, team {actor.team}) is not in the case's team {team}"
        )
    if relation == "assigned" and actor.staff_id != assigned_worker:
        raise NotPermitted(
            f"{actor.staff_id} is not the case's assigned worker ({assigned_worker})"
        )


def check_case(actor: Actor, action: Action, state: CaseState) -> None:
    check(actor, action, team=state.team, assigned_worker=state.assigned_worker)
