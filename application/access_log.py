"""The access log: who read which case, when, through which view, and why.

Every read of a case's details or history on the command line (`case show`,
`case history`, `timeline`, `summary`, `inspect`) goes through `authorise_read`: it
decides with the authorisation policy (cases/access.py, `decide_read`), records the
read in the append-only `access_log` table (events/migrations/0005_access_log.sql) —
a refused attempt too, with `allowed = false` — and only then lets the command show
anything.

Emergency access ("break the glass"): a staff member outside the case's scope who
gives `--break-glass REASON` is let in; the entry is marked `break_glass` with the
reason, and the supervisors of the case's team (the managers, if the team has none)
are notified at once: one `notification_outbox` row per recipient, key
`<case>:break-glass:<access id>:<recipient>`, POSTed to the recipient's webhook with
that key as `Idempotency-Key` and marked delivered. The outbox row's
`escalation_id` is `break-glass-<access id>` and its `level` 0, so escalation
notices and emergency-access notices share one inbox. The document names the case,
the reader and their stated reason; it carries no client personal data. A delivery
that fails is left undelivered in the outbox with its error (the read is not undone:
the entry is already on record).

`entries` lists a case's entries, newest first, for the roles the policy lets read the
access log (auditors and managers).

Every entry also records who proved their identity, how and from where — the request
id, the client address, the authentication method (password session, personal access
token, single sign-on, operator command), the session or token id, and an operator
command's operating-system user — read from `application.request_context`, which the
entry points bind for each request (events/migrations/0006_access_log_principal.sql).

The codec server's decodes and encodes go through `authorise_payloads`: decided by the
access table (`Query.PAYLOADS`: operators and admins), recorded — refused ones too —
with the namespace, the workflow (and its case, for a case's workflow) and the number
of payloads, before any payload is decoded.

Exports of a list as a file (application/exports.py) are recorded too, when they start:
`view` `export <list> <format>`, the list's filters and the export's options in
`filters`, the case for the export of one case's list; how each ended (its rows, and
complete, cut, aborted or failed) in `access_log_export_ends`
(events/migrations/0010_access_log_exports.sql). `export_entries` lists them for the
roles that read the access log.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

import asyncpg
from pydantic import BaseModel, Field

from activities.outbox import Notice, record_and_deliver
from application import request_context
from application.request_context import AuthMethod
from cases.access import (
    AccessDenied,
    BreakGlassRefused,
    CaseNotVisible,
    Query,
    ReadDecision,
    clean_reason,
    decide_read,
    query_relation,
    reader_for,
)
from cases.actors import Actor
from directory import load_staff_directory
from directory.staff import StaffMember
from events.store import EventStore
from infrastructure.logs import get_logger

T = TypeVar("T")


class View(StrEnum):
    """The command that read the case."""

    CASE_SHOW = "case show"
    CASE_HISTORY = "case history"
    TIMELINE = "timeline"
    SUMMARY = "summary"
    INSPECT = "inspect"
    CASE_EXPORT = "case export"
    DOCUMENTS = "document list"
    DOCUMENT = "document get"
    """A document's bytes downloaded: recorded as `document get <document id>`."""
    PORTAL_LIST = "portal list"
    """A referral listed to its provider: recorded as `portal list <referral id>`."""
    PORTAL_REFERRAL = "portal referral"
    """One referral as its provider sees it: recorded as `portal referral <referral id>`."""


VIEW_QUERY: dict[View, Query] = {
    View.CASE_SHOW: Query.CASE_DETAILS,
    View.SUMMARY: Query.CASE_DETAILS,
    View.CASE_HISTORY: Query.CASE_HISTORY,
    View.TIMELINE: Query.CASE_HISTORY,
    View.INSPECT: Query.WORKFLOWS,
    View.CASE_EXPORT: Query.CASE_EXPORT,
    View.DOCUMENTS: Query.DOCUMENTS,
    View.DOCUMENT: Query.DOCUMENTS,
    View.PORTAL_LIST: Query.PROVIDER_REFERRALS,
    View.PORTAL_REFERRAL: Query.PROVIDER_REFERRALS,
}


class PayloadOperation(StrEnum):
    """What the codec server was asked to do (the entry's `view`)."""

    DECODE = "codec decode"
    ENCODE = "codec encode"


class AccessEntry(BaseModel):
    access_id: int
    accessed_at: datetime
    staff_id: str
    role: str
    team: str | None
    case_id: str | None = Field(
        description="The case read; null only for a codec server entry naming no case's workflow."
    )
    view: str
    reason: str | None
    break_glass: bool
    allowed: bool
    request_id: str | None = Field(
        None, description="The request's id (its X-Request-ID, answered in the response)."
    )
    client_address: str | None = Field(None, description="The caller's address.")
    auth_method: AuthMethod | None = Field(
        None,
        description="How the caller proved who they are: password (a password session), "
        "token (a personal access token), oidc (single sign-on), operator (a command run "
        "on the servers by the operating-system user `os_user`).",
    )
    credential_id: str | None = Field(
        None, description="The session or personal access token id (never the secret)."
    )
    os_user: str | None = Field(None, description="An operator command's operating-system user.")
    workflow_id: str | None = Field(None, description="Codec server: the workflow named.")
    namespace: str | None = Field(None, description="Codec server: the Temporal namespace.")
    payload_count: int | None = Field(
        None, description="Codec server: how many payloads were asked for."
    )


_COLUMNS = (
    "access_id, accessed_at, staff_id, role, team, case_id, view, reason, break_glass, allowed, "
    "request_id, client_address, auth_method, credential_id, os_user, workflow_id, namespace, "
    "payload_count"
)


async def record(
    pool: asyncpg.Pool,
    actor: Actor,
    case_id: str | None,
    view: View | PayloadOperation | str,
    reason: str | None = None,
    break_glass: bool = False,
    *,
    allowed: bool = True,
    workflow_id: str | None = None,
    namespace: str | None = None,
    payload_count: int | None = None,
    filters: Mapping[str, Any] | None = None,
) -> AccessEntry:
    """Append one entry (the database stamps the time) and return it.

    The request's id, address, authentication method and credential come from
    `request_context.current()` (nulls outside a request). `filters`: an export's list
    filters and options (JSON)."""
    context = request_context.current()
    row = await pool.fetchrow(
        f"""INSERT INTO access_log (staff_id, role, team, case_id, view, reason, break_glass,
                                    allowed, request_id, client_address, auth_method,
                                    credential_id, os_user, workflow_id, namespace,
                                    payload_count, filters)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17::jsonb)
            RETURNING {_COLUMNS}""",
        actor.staff_id,
        actor.role.value,
        actor.team,
        None if case_id is None else str(case_id),
        str(view),
        clean_reason(reason),
        break_glass,
        allowed,
        context.request_id,
        context.client_address,
        context.auth_method,
        context.credential_id,
        context.os_user,
        workflow_id,
        namespace,
        payload_count,
        None if filters is None else json.dumps(dict(filters), sort_keys=True, default=str),
    )
    assert row is not None
    return AccessEntry.model_validate(dict(row))


async def entries(
    pool: asyncpg.Pool, actor: Actor, case_id: str, *, limit: int = 1000, before: int | None = None
) -> list[AccessEntry]:
    """The case's entries, newest first (AccessDenied unless the policy allows the log);
    with `before`, those older than the entry with that access_id."""
    query_relation(actor, Query.ACCESS_LOG)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM access_log
             WHERE case_id = $1 AND ($3::bigint IS NULL OR access_id < $3)
            ORDER BY access_id DESC LIMIT $2""",
        str(case_id),
        limit,
        before,
    )
    return [AccessEntry.model_validate(dict(r)) for r in rows]


async def break_glass_entries(
    pool: asyncpg.Pool, actor: Actor, *, limit: int = 1000, before: int | None = None
) -> list[AccessEntry]:
    """Every emergency access, newest first (for the same roles as `entries`); with
    `before`, those older than the entry with that access_id."""
    query_relation(actor, Query.ACCESS_LOG)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM access_log
             WHERE break_glass AND ($2::bigint IS NULL OR access_id < $2)
            ORDER BY access_id DESC LIMIT $1""",
        limit,
        before,
    )
    return [AccessEntry.model_validate(dict(r)) for r in rows]


# --- exports of a list -----------------------------------------------------------------------

ExportOutcome = Literal["complete", "cut", "aborted", "failed"]
"""How an export ended: every row sent; cut at CASEWORK_EXPORT_MAX_ROWS; the client went
away before the end; an error stopped it."""

EXPORT_VIEW_PREFIX = "export "
"""An export's entry: `view` is `export <list> <format>`."""


class ExportEntry(AccessEntry):
    """An export of a list as a file: who, when, which list, format and filters, and how
    it ended (null while it runs, or if the process ended before it could say)."""

    list_name: str = Field(description="The list exported (`caseload`, `approvals`, …).")
    format: str = Field(description="csv or xlsx.")
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="The list's filters, and the export's `columns` and `section` if given.",
    )
    row_count: int | None = Field(None, description="Rows the file held (not its header).")
    outcome: ExportOutcome | None = Field(
        None,
        description="complete; cut (at CASEWORK_EXPORT_MAX_ROWS); aborted (the client went "
        "away); failed (an error); null while it runs or when the process ended first.",
    )
    ended_at: datetime | None = None


async def record_export_end(
    pool: asyncpg.Pool, access_id: int, row_count: int, outcome: ExportOutcome
) -> None:
    """How the export of entry `access_id` ended (once: a second end is ignored)."""
    await pool.execute(
        """INSERT INTO access_log_export_ends (access_id, row_count, outcome)
           VALUES ($1, $2, $3) ON CONFLICT (access_id) DO NOTHING""",
        access_id,
        row_count,
        outcome,
    )


async def export_entries(
    pool: asyncpg.Pool, actor: Actor, *, limit: int = 1000, before: int | None = None
) -> list[ExportEntry]:
    """Every export, newest first, with how it ended (for the same roles as `entries`);
    with `before`, those older than the entry with that access_id."""
    query_relation(actor, Query.ACCESS_LOG)
    columns = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
    rows = await pool.fetch(
        f"""SELECT {columns}, a.filters::text AS filters_json,
                   e.row_count, e.outcome, e.ended_at
              FROM access_log a LEFT JOIN access_log_export_ends e USING (access_id)
             WHERE a.view LIKE 'export %' AND ($2::bigint IS NULL OR a.access_id < $2)
             ORDER BY a.access_id DESC LIMIT $1""",
        limit,
        before,
    )
    found = []
    for r in rows:
        data = dict(r)
        filters = data.pop("filters_json")
        words = str(data["view"]).split(" ")
        list_name = words[1] if len(words) > 1 else ""
        export_format = words[2] if len(words) > 2 else ""
        found.append(
            ExportEntry.model_validate(
                {
                    **data,
                    "list_name": list_name,
                    "format": export_format,
                    "filters": json.loads(filters) if filters else {},
                }
            )
        )
    return found


# --- deciding and recording a read ---------------------------------------------------------


@dataclass(frozen=True)
class CaseLocation:
    """Where a case stands for visibility: its team and assigned worker."""

    team: str
    worker: str


async def locate_in_read_model(pool: asyncpg.Pool, case_id: str) -> CaseLocation | None:
    """The case's team and worker from `case_summary` (None: no such case there)."""
    row = await pool.fetchrow(
        "SELECT team, worker FROM case_summary WHERE case_id = $1", str(case_id)
    )
    return CaseLocation(team=row["team"], worker=row["worker"]) if row is not None else None


@dataclass(frozen=True)
class ReadGrant:
    decision: ReadDecision
    entry: AccessEntry
    notified: list[str]
    """Staff ids the break-glass notice was delivered to (webhook or inbox)."""

    reader: Actor
    """Who the read's queries run as (see `cases.access.reader_for`)."""

    @property
    def break_glass(self) -> bool:
        return self.decision.break_glass


async def authorise_read(
    pool: asyncpg.Pool,
    actor: Actor,
    case_id: str,
    view: View,
    location: CaseLocation | None,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
    store: EventStore | None = None,
    subject: str | None = None,
) -> ReadGrant:
    """Decide the read, record it, notify on break-glass access; raise if refused.

    `location` is where the case stands (None: no such case). `subject`: what of the
    case was read, recorded after the view (`document get <id>`). Raises what
    `decide_read` raises — CaseNotVisible, AccessDenied, BreakGlassRefused — after
    recording the refused attempt.
    """
    what = str(view) if subject is None else f"{view} {subject}"
    try:
        decision = decide_read(
            actor,
            VIEW_QUERY[view],
            case_id,
            team=location.team if location else None,
            worker=location.worker if location else None,
            reason=reason,
            break_glass=break_glass,
        )
    except (AccessDenied, CaseNotVisible, BreakGlassRefused):
        asked = clean_reason(break_glass)
        await record(
            pool,
            actor,
            case_id,
            what,
            asked or reason,
            break_glass=asked is not None,
            allowed=False,
        )
        raise
    entry = await record(pool, actor, case_id, what, decision.reason, decision.break_glass)
    notified: list[str] = []
    if decision.break_glass:
        assert location is not None
        notified = await notify_break_glass(store or EventStore(pool), entry, location)
    return ReadGrant(
        decision=decision, entry=entry, notified=notified, reader=reader_for(actor, decision)
    )


async def read_case_view(
    pool: asyncpg.Pool,
    actor: Actor,
    case_id: str,
    view: View,
    read: Callable[[Actor], Awaitable[T]],
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> T:
    """A read-model view of one case (`summary`, `timeline`): authorised, recorded, read.

    The case is located in `case_summary`; `read(reader)` runs the query as the grant's
    reader once the read is on record.
    """
    location = await locate_in_read_model(pool, case_id)
    grant = await authorise_read(
        pool, actor, case_id, view, location, reason=reason, break_glass=break_glass
    )
    return await read(grant.reader)


# --- the codec server: decoding workflow payloads --------------------------------------------

CASE_WORKFLOW_PREFIX = "case-"


def case_of_workflow(workflow_id: str | None) -> str | None:
    """The case whose workflow `workflow_id` is (`case-<case id>`); None for another id."""
    if workflow_id is None or not workflow_id.startswith(CASE_WORKFLOW_PREFIX):
        return None
    return workflow_id.removeprefix(CASE_WORKFLOW_PREFIX) or None


async def authorise_payloads(
    pool: asyncpg.Pool,
    actor: Actor,
    operation: PayloadOperation,
    *,
    count: int,
    namespace: str,
    workflow_id: str | None = None,
) -> AccessEntry:
    """Let `actor` have `count` payloads decoded (or encoded), recording it; raise if refused.

    The access table decides (`Query.PAYLOADS`: operators and admins). The attempt is
    recorded either way — with the namespace, the workflow and its case when named, and
    the count — before any payload is touched; a refused one with `allowed = false`,
    then AccessDenied.
    """
    case_id = case_of_workflow(workflow_id)
    try:
        query_relation(actor, Query.PAYLOADS)
    except AccessDenied:
        await record(
            pool, actor, case_id, operation, allowed=False,
            workflow_id=workflow_id, namespace=namespace, payload_count=count,
        )  # fmt: skip
        raise
    return await record(
        pool, actor, case_id, operation,
        workflow_id=workflow_id, namespace=namespace, payload_count=count,
    )  # fmt: skip


# --- notifying the case's supervisors --------------------------------------------------------


async def _recipients(store: EventStore, team: str) -> list[StaffMember]:
    directory = await load_staff_directory(store)
    found = list(directory.supervisors_of(team))
    return found or list(directory.managers())


def notice_key(entry: AccessEntry, recipient: str) -> str:
    return f"{entry.case_id}:break-glass:{entry.access_id}:{recipient}"


async def notify_break_glass(
    store: EventStore, entry: AccessEntry, location: CaseLocation
) -> list[str]:
    """Tell the supervisors of the case's team; return who got it (webhook or inbox)."""
    log = get_logger(case_id=entry.case_id, access_id=entry.access_id)
    assert entry.case_id is not None, "break-glass opens a case: its entry names it"
    case_id = entry.case_id
    document: dict[str, Any] = {
        "kind": "break_glass",
        "case_id": entry.case_id,
        "case_team": location.team,
        "access_id": entry.access_id,
        "accessed_at": entry.accessed_at.isoformat(),
        "staff_id": entry.staff_id,
        "role": entry.role,
        "staff_team": entry.team,
        "view": entry.view,
        "reason": entry.reason,
    }
    delivery = await record_and_deliver(
        store.pool,
        [
            Notice(
                key=notice_key(entry, member.staff_id),
                case_id=case_id,
                subject_id=f"break-glass-{entry.access_id}",
                level=0,
                recipient=member.staff_id,
                notify_role=member.role.value,
                channel_url=member.webhook_url,
                document={**document, "recipient": member.staff_id},
            )
            for member in await _recipients(store, location.team)
        ],
    )
    for failed in delivery.failed:  # the read stands; the notice waits in the outbox
        log.warning("break-glass notice undelivered", recipient=failed.split(":", 1)[0])
    notified = delivery.inbox_only + delivery.delivered + delivery.already_delivered
    log.info("break-glass access", staff_id=entry.staff_id, notified=len(notified))
    return notified
