"""The authorisation policy: who may do what to a case, and who may read what.

One module, two tables, read by the rules of both sides:

* `COMMANDS` — role × command (the write side). `check` / `check_case` raise
  `NotPermitted` unless the table allows the actor's role the command *and* the actor
  stands in the required relation to the case. cases/decide.py applies it to every
  command (through the names cases/permissions.py re-exports).
* `QUERIES` — role × query (the read side). projections/scope.py turns the actor's
  relation into the SQL predicate every read-model query adds (`case_scope`), and
  the command line's case reads (`case show`, `case history`, `timeline`, `summary`,
  `inspect`) decide with `decide_read`, which also grants emergency access
  ("break the glass").

Relations (the same words in both tables):

* `assigned` — the case's assigned worker (a caseworker's own caseload). For
  `transfer_reply` it is the worker the case is being transferred *to*;
* `team` — a member of the case's team (supervisors act for, and see, their team).
  For `transfer_reply` it is the receiving team;
* `any` — every case of the agency (or, for queries that are not about one case, the
  whole of what the query shows);
* `referred` — the referral is to the actor's own provider organisation
  (`Actor.provider_id`): a provider answers and sees only the referrals sent to them,
  never a case (`check(..., referral_provider=)`; no case scope at all).

A role missing from a row may not do it at all. In short: caseworkers work and see
their own caseload; supervisors their team's cases and its approvals; managers every
team; auditors read everything, history included, and change nothing; administrators
keep the directories and the policy and erase clients, and see no case data; operators
run the servers and may decode workflow payloads with the codec server, and read no
case through Casework; providers (members of a provider organisation) see and answer
only the referrals sent to their organisation, through the provider portal.

Separation of duties is checked by the rules on top of this table (cases/decide.py):
nobody approves or returns a plan they wrote or an approval they requested.

`docs/security.md` ("Roles and permissions") holds `render_markdown()`'s output;
tests/security/test_access_table.py walks every cell against the real rules and
checks the document is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cases.actors import Actor, Role
from cases.state import CaseState, PendingApproval

Relation = Literal["assigned", "team", "any", "referred"]

ROLES: tuple[Role, ...] = tuple(Role)
"""The table's columns, in order."""


# --- the write side ----------------------------------------------------------------------


class Action(StrEnum):
    """Commands, grouped the way their permissions are."""

    OPEN = "open"
    WORK = "work"
    """Day-to-day case work: consent, assessment, plan, submission, referral, contact,
    progress, evaluation, hold and resume, closure request, transfer request."""
    APPROVE = "approve"
    """Approve or return a plan or a closure request."""
    ASSIGN = "assign"
    TRANSFER_REPLY = "transfer_reply"
    """Accept or reject a transfer (relations count from the receiving side)."""
    REOPEN = "reopen"
    PROVIDER_REPLY = "provider_reply"
    """Record a provider's reply to a referral, or a provider's report."""
    NOTE = "note"
    """Write a case note (a colleague covering the case may, not only its worker)."""
    PLAN_ACTIONS = "plan_actions"
    """Add, drop or reassign the actions of a plan's goals."""
    COMPLETE_ACTION = "complete_action"
    """Mark a plan's action done (a colleague of the team who carried it out may)."""
    ADVOCACY = "advocacy"
    """Advocate for the client with an organisation: open, record a step, conclude."""
    FEEDBACK = "feedback"
    """Record the client's feedback on a service, a referral or their plan."""
    CIRCLE = "circle"
    """Keep the client's circle of support: add, update or remove a member."""
    CIRCLE_CONSENT = "circle_consent"
    """Record what the client consents to share with a member of their circle."""
    SHARE_WITH_CIRCLE = "share_with_circle"
    """Share the plan, conference decisions, … with a circle member (within consent)."""
    CONFERENCE = "conference"
    """Record a case conference (whoever of the team chaired it, not only the worker)."""
    ERASE = "erase"
    """Record a client's erasure (their personal data made unreadable)."""
    POLICY = "policy"
    """Change the agency's policy (review intervals, escalation ladder)."""
    DIRECTORY = "directory"
    """Change the staff or resource directory."""


COMMANDS: dict[Action, dict[Role, Relation]] = {
    Action.OPEN: {Role.CASEWORKER: "team", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.WORK: {Role.CASEWORKER: "assigned", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.APPROVE: {Role.SUPERVISOR: "team"},
    Action.ASSIGN: {Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.TRANSFER_REPLY: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
    },
    Action.REOPEN: {Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.PROVIDER_REPLY: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
        Role.SYSTEM: "any",
        Role.PROVIDER: "referred",
    },
    Action.NOTE: {Role.CASEWORKER: "team", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.PLAN_ACTIONS: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
    },
    Action.COMPLETE_ACTION: {
        Role.CASEWORKER: "team",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
    },
    Action.ADVOCACY: {Role.CASEWORKER: "assigned", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.FEEDBACK: {Role.CASEWORKER: "assigned", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.CIRCLE: {Role.CASEWORKER: "assigned", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.CIRCLE_CONSENT: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
    },
    Action.SHARE_WITH_CIRCLE: {
        Role.CASEWORKER: "assigned",
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
    },
    Action.CONFERENCE: {Role.CASEWORKER: "team", Role.SUPERVISOR: "team", Role.MANAGER: "any"},
    Action.ERASE: {Role.ADMIN: "any"},
    Action.POLICY: {Role.MANAGER: "any", Role.ADMIN: "any", Role.SYSTEM: "any"},
    Action.DIRECTORY: {Role.ADMIN: "any"},
}

PERMISSIONS = COMMANDS
"""The name cases/permissions.py has always exported."""

COMMAND_NAMES: dict[Action, str] = {
    Action.OPEN: "open a case",
    Action.WORK: "case work (consent, assessment, plan, submit, refer, contact, progress, "
    "evaluate, hold, resume, ask to close or transfer)",
    Action.APPROVE: "approve or return a plan or closure (never one's own)",
    Action.ASSIGN: "assign to another worker",
    Action.TRANSFER_REPLY: "accept or reject a transfer",
    Action.REOPEN: "reopen a closed case",
    Action.PROVIDER_REPLY: "record a provider's reply or report",
    Action.NOTE: "write a case note",
    Action.PLAN_ACTIONS: "add, drop or reassign a plan's actions",
    Action.COMPLETE_ACTION: "mark a plan's action done",
    Action.ADVOCACY: "advocate for the client (open, step, outcome)",
    Action.FEEDBACK: "record the client's feedback (service, referral, plan)",
    Action.CIRCLE: "keep the circle of support (add, update, remove a member)",
    Action.CIRCLE_CONSENT: "record what the client consents to share with a circle member",
    Action.SHARE_WITH_CIRCLE: "share with a circle member (only what the client consented to)",
    Action.CONFERENCE: "record a case conference (participants, decisions, actions agreed)",
    Action.ERASE: "erase a client (`client forget`)",
    Action.POLICY: "change the agency's policy",
    Action.DIRECTORY: "change the staff and resource directories",
}


class NotPermitted(PermissionError):
    """The table refuses the command to this actor."""


def check(
    actor: Actor,
    action: Action,
    *,
    team: str,
    assigned_worker: str | None,
    referral_provider: str | None = None,
) -> None:
    """Raise NotPermitted (naming the actor, role and action) unless the table allows it.

    `team` and `assigned_worker` are the case's (for TRANSFER_REPLY: the receiving ones);
    `referral_provider` the provider of the referral the command is about (None: no
    such referral, or a command about none), judged for the `referred` relation.
    """
    relation = COMMANDS[action].get(actor.role)
    if relation is None:
        raise NotPermitted(f"{actor.staff_id} ({actor.role}) may not {action} cases")
    if relation == "any":
        return
    if relation == "referred":
        if actor.provider_id is None or actor.provider_id != referral_provider:
            raise NotPermitted(
                f"{actor.staff_id} ({actor.role} {actor.provider_id}) is not the provider "
                "of this referral"
            )
        return
    if actor.team != team:
        raise NotPermitted(
            f"{actor.staff_id} ({actor.role}, team {actor.team}) is not in the case's team {team}"
        )
    if relation == "assigned" and actor.staff_id != assigned_worker:
        raise NotPermitted(
            f"{actor.staff_id} is not the case's assigned worker ({assigned_worker})"
        )


def check_case(
    actor: Actor, action: Action, state: CaseState, *, referral_provider: str | None = None
) -> None:
    check(
        actor,
        action,
        team=state.team,
        assigned_worker=state.assigned_worker,
        referral_provider=referral_provider,
    )


def may(
    actor: Actor,
    action: Action,
    *,
    team: str,
    assigned_worker: str | None,
    referral_provider: str | None = None,
) -> bool:
    """`check` as a predicate."""
    try:
        check(
            actor,
            action,
            team=team,
            assigned_worker=assigned_worker,
            referral_provider=referral_provider,
        )
    except NotPermitted:
        return False
    return True


def approval_refusal(
    actor: Actor,
    *,
    kind: str,
    requested_by: str,
    drafted_by: str | None = None,
    plan_version: int | None = None,
) -> str | None:
    """Separation of duties, the one copy of the rule: nobody decides an approval they
    requested, nor approves or returns a plan they wrote (`drafted_by`, for a plan's
    approval). The reason the actor may not decide it, or None.

    The case's rule (cases/decide.py `decide_approval`, run by the workflow's validator
    and handler), the case page's forms and the approvals inbox all ask this function."""
    if actor.staff_id == requested_by:
        return f"{actor.staff_id} requested this {kind} approval and may not decide it"
    if drafted_by is not None and actor.staff_id == drafted_by:
        return f"{actor.staff_id} wrote plan v{plan_version} and may not approve it"
    return None


def approval_refusal_on(actor: Actor, state: CaseState, pending: PendingApproval) -> str | None:
    """`approval_refusal` for `pending`, an approval waiting on the case `state`: a plan's
    author is the author of the case's draft plan (the plan submitted)."""
    draft = state.draft_plan if pending.kind == "plan" else None
    return approval_refusal(
        actor,
        kind=pending.kind,
        requested_by=pending.requested_by,
        drafted_by=draft.drafted_by if draft is not None else None,
        plan_version=draft.plan_version if draft is not None else None,
    )


def may_decide_approval(
    actor: Actor, team: str, requested_by: str, *, drafted_by: str | None = None
) -> bool:
    """APPROVE on a case of `team`, and not an approval the actor requested nor a plan
    they wrote (`approval_refusal`)."""
    refusal = approval_refusal(
        actor, kind="approval", requested_by=requested_by, drafted_by=drafted_by
    )
    return refusal is None and may(actor, Action.APPROVE, team=team, assigned_worker=None)


def judged_location(actor: Actor, action: Action, state: CaseState) -> tuple[str, str | None]:
    """The team and worker the table judges `action` on this case against: the case's
    own, or for a transfer reply the receiving side's (the actor, when a caseworker, for
    a transfer to a team that names no worker: any caseworker of that team may take it)."""
    pending = state.pending_transfer
    if action is Action.TRANSFER_REPLY and pending is not None:
        worker = pending.to_worker
        if worker is None and actor.role is Role.CASEWORKER:
            worker = actor.staff_id
        return pending.to_team, worker
    return state.team, state.assigned_worker


# --- the read side -----------------------------------------------------------------------


class Query(StrEnum):
    CASE_DETAILS = "case_details"
    """One case as it stands: `case show`, `summary`."""
    CASE_HISTORY = "case_history"
    """One case's events: `case history`, `timeline`."""
    CASELOAD = "caseload"
    APPROVALS = "approvals"
    REFERRALS = "referrals"
    REVIEWS = "reviews"
    """Reviews due and overdue (`reviews`, `overdue`)."""
    ESCALATIONS = "escalations"
    OUTCOMES = "outcomes"
    ACTIONS = "actions"
    """Plan actions due and overdue (`actions mine`, `actions overdue`)."""
    CONFERENCES = "conferences"
    """Case conferences held and circles of support (`case conference list`): who took
    part, how many decisions, which actions; never names or decisions (the case has them)."""
    ACCESS_LOG = "access_log"
    """Who read a case, when and why (`access-log`)."""
    DIRECTORIES = "directories"
    """The staff and resource directories (`staff list|show`, `provider list|show`)."""
    WORKFLOWS = "workflows"
    """What one case's workflow waits on, and whether workflow, log and read model agree
    (`inspect`): workflow state, timers, event types and actors, the read-model row; no
    personal field. Operators run it on the servers, recorded with their OS user."""
    PAYLOADS = "payloads"
    """Workflow payloads in Temporal, decrypted by the codec server (the Temporal UI and
    CLI). Not a case data query: it shows what the workflows carry, to those who run them."""
    CASE_EXPORT = "case_export"
    """A case file the auditor verifies alone (`case export`): the case's events as
    stored, each with its proof against a signed checkpoint, and (unless asked without)
    their personal fields decrypted. For review and audit: supervisors of the team,
    managers and auditors; recorded in the access log."""
    DOCUMENTS = "documents"
    """A case's documents: the list and each download (`case document list|get`)."""
    PROVIDER_REFERRALS = "provider_referrals"
    """The referrals sent to one provider, each with only what the client consented to
    share with it (the provider portal, `casework portal list|show`). Not a case data
    query: a provider sees its referrals, never the case."""


_CASE_DATA: dict[Role, Relation] = {
    Role.CASEWORKER: "assigned",
    Role.SUPERVISOR: "team",
    Role.MANAGER: "any",
    Role.AUDITOR: "any",
    Role.SYSTEM: "any",
}

CASE_DATA_QUERIES: tuple[Query, ...] = (
    Query.CASE_DETAILS,
    Query.CASE_HISTORY,
    Query.CASELOAD,
    Query.APPROVALS,
    Query.REFERRALS,
    Query.REVIEWS,
    Query.ESCALATIONS,
    Query.OUTCOMES,
    Query.ACTIONS,
    Query.CONFERENCES,
    Query.DOCUMENTS,
)
"""Queries over case data: scoped by `case_scope`, never shown to administrators."""

QUERIES: dict[Query, dict[Role, Relation]] = {
    **{q: dict(_CASE_DATA) for q in CASE_DATA_QUERIES},
    Query.ACCESS_LOG: {Role.MANAGER: "any", Role.AUDITOR: "any", Role.SYSTEM: "any"},
    Query.DIRECTORIES: dict.fromkeys(ROLES, "any"),
    Query.WORKFLOWS: {**_CASE_DATA, Role.OPERATOR: "any"},
    Query.PAYLOADS: {Role.OPERATOR: "any", Role.ADMIN: "any"},
    Query.CASE_EXPORT: {
        Role.SUPERVISOR: "team",
        Role.MANAGER: "any",
        Role.AUDITOR: "any",
        Role.SYSTEM: "any",
    },
    Query.PROVIDER_REFERRALS: {
        Role.PROVIDER: "referred",
        Role.MANAGER: "any",
        Role.AUDITOR: "any",
        Role.SYSTEM: "any",
    },
}

QUERY_NAMES: dict[Query, str] = {
    Query.CASE_DETAILS: "a case's details (`case show`, `summary`)",
    Query.CASE_HISTORY: "a case's history (`case history`, `timeline`)",
    Query.CASELOAD: "caseload",
    Query.APPROVALS: "pending approvals",
    Query.REFERRALS: "referrals",
    Query.REVIEWS: "reviews due and overdue (`reviews`, `overdue`)",
    Query.ESCALATIONS: "escalations",
    Query.OUTCOMES: "outcomes",
    Query.ACTIONS: "plan actions due and overdue (`actions mine`, `actions overdue`)",
    Query.CONFERENCES: "case conferences held (`case conference list`)",
    Query.ACCESS_LOG: "the access log (`access-log`)",
    Query.DIRECTORIES: "staff and resource directories",
    Query.WORKFLOWS: "what a case's workflow waits on (`inspect`)",
    Query.PAYLOADS: "workflow payloads, decrypted (the codec server)",
    Query.CASE_EXPORT: "a verifiable case file (`case export`)",
    Query.DOCUMENTS: "a case's documents (`case document list|get`)",
    Query.PROVIDER_REFERRALS: "a provider's referrals, as shared with it (`portal list|show`)",
}

BREAK_GLASS_ROLES: frozenset[Role] = frozenset(
    {Role.CASEWORKER, Role.SUPERVISOR, Role.MANAGER, Role.AUDITOR}
)
"""Who may open a case outside their scope with a stated reason (managers and auditors
see every case anyway). Administrators never read case data, not even in an emergency."""


class AccessDenied(PermissionError):
    """The actor's role may not make this query at all."""


class CaseNotVisible(LookupError):
    """No such case, or the actor may not see it (deliberately indistinguishable)."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"case {case_id} not found or not visible to you")


class BreakGlassRefused(PermissionError):
    """Emergency access asked for without a reason, or by a role that may not have it."""


def query_relation(actor: Actor, query: Query) -> Relation:
    """The relation the actor's role reads `query` with; AccessDenied if it may not."""
    relation = QUERIES[query].get(actor.role)
    if relation is not None:
        return relation
    if actor.role is Role.ADMIN and query in CASE_DATA_QUERIES:
        raise AccessDenied(
            f"{actor.staff_id} is an administrator: administrators manage the staff and "
            "resource directories and see no case data"
        )
    if actor.role is Role.OPERATOR and query in CASE_DATA_QUERIES:
        raise AccessDenied(
            f"{actor.staff_id} is an operator: operators run the servers and see no case data"
        )
    if actor.role is Role.PROVIDER and query in CASE_DATA_QUERIES:
        raise AccessDenied(
            f"{actor.staff_id} is a provider: providers see only the referrals sent to them"
        )
    raise AccessDenied(f"{actor.staff_id} ({actor.role}) may not read {QUERY_NAMES[query]}")


def sees(actor: Actor, relation: Relation, *, team: str, worker: str) -> bool:
    """Whether a case of `team` assigned to `worker` is within `relation` of the actor.

    For reads a caseworker's caseload is the cases assigned to them, and a supervisor
    without a team sees nothing.
    """
    if relation == "any":
        return True
    if relation == "referred":  # a referral's provider sees no case
        return False
    if relation == "team":
        return actor.team is not None and actor.team == team
    return actor.staff_id == worker


class Grant(StrEnum):
    IN_SCOPE = "in_scope"
    BREAK_GLASS = "break_glass"


@dataclass(frozen=True)
class ReadDecision:
    grant: Grant
    reason: str | None
    """The reason given (required for break-glass access)."""

    @property
    def break_glass(self) -> bool:
        return self.grant is Grant.BREAK_GLASS


def clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    stripped = reason.strip()
    return stripped or None


def decide_read(
    actor: Actor,
    query: Query,
    case_id: str,
    *,
    team: str | None,
    worker: str | None,
    reason: str | None = None,
    break_glass: str | None = None,
) -> ReadDecision:
    """May `actor` read `query` of the case (team, worker; None: no such case)?

    In scope: granted. Outside it: granted as emergency access when the actor asked to
    break the glass with a non-empty reason and their role may; otherwise CaseNotVisible
    (a missing case reads the same). Roles that never read case data get AccessDenied,
    with or without a reason. Pure: recording and notifying are the caller's.
    """
    relation = query_relation(actor, query)
    if break_glass is not None and clean_reason(break_glass) is None:
        raise BreakGlassRefused("--break-glass needs a reason: say why you must open this case")
    if team is not None and worker is not None and sees(actor, relation, team=team, worker=worker):
        return ReadDecision(Grant.IN_SCOPE, clean_reason(break_glass) or clean_reason(reason))
    if break_glass is None:
        raise CaseNotVisible(case_id)
    if actor.role not in BREAK_GLASS_ROLES:
        raise BreakGlassRefused(f"{actor.staff_id} ({actor.role}) may not break the glass")
    if team is None or worker is None:
        raise CaseNotVisible(case_id)
    return ReadDecision(Grant.BREAK_GLASS, clean_reason(break_glass))


def reader_for(actor: Actor, decision: ReadDecision) -> Actor:
    """Who a granted read of one case runs its queries as.

    In scope: the actor. Break-glass: the actor with an auditor's read scope (read
    everything, change nothing), used only for the one case the grant is for.
    """
    if decision.break_glass:
        return Actor(staff_id=actor.staff_id, role=Role.AUDITOR, team=None)
    return actor


# --- the table in the docs ---------------------------------------------------------------

_LABELS: dict[Relation, str] = {
    "assigned": "own cases",
    "team": "own team",
    "any": "all",
    "referred": "own referrals",
}
_TRANSFER_LABELS: dict[Relation, str] = {
    "assigned": "if receiving",
    "team": "receiving team",
    "any": "all",
    "referred": "own referrals",
}
_QUERY_LABELS: dict[Relation, str] = {
    "assigned": "own caseload",
    "team": "own team",
    "any": "all",
    "referred": "own referrals",
}


def _row(name: str, cells: dict[Role, Relation], labels: dict[Relation, str]) -> str:
    return (
        f"| {name} | " + " | ".join(labels[cells[r]] if r in cells else "—" for r in ROLES) + " |"
    )


def render_markdown() -> str:
    """The two tables as Markdown (docs/security.md, "Roles and permissions")."""
    header = "| | " + " | ".join(r.value for r in ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    lines = ["**Commands** (what each role may change)", "", header, rule]
    for action in Action:
        labels = _TRANSFER_LABELS if action is Action.TRANSFER_REPLY else _LABELS
        lines.append(_row(COMMAND_NAMES[action], COMMANDS[action], labels))
    lines += ["", "**Queries** (what each role may read)", "", header, rule]
    for query in Query:
        lines.append(_row(QUERY_NAMES[query], QUERIES[query], _QUERY_LABELS))
    lines.append(
        _row(
            "break the glass: a case's details or history outside one's scope, with a reason",
            dict.fromkeys(BREAK_GLASS_ROLES, "any"),
            _QUERY_LABELS,
        )
    )
    return "\n".join(lines) + "\n"
