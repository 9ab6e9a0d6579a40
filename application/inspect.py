"""What a case's workflow is waiting on, and whether workflow, log and read model agree.

`inspect_case` gathers, for one case: the workflow's status, its pending timers
(from the history: started and neither fired nor cancelled), pending activities
(attempts, last failure decoded with the payload codec), pending updates (accepted,
not completed), its pending workflow task and the last one that failed or timed out,
when it next wakes up, its search attributes; the last events of the log; the case's
read-model row; where each per-case read model stands; and the findings where they
disagree.

Who reads what: the access table (cases/access.py, `Query.WORKFLOWS`) lets operators
see what a case's workflow waits on, and no case details or history. For a reader
whose role reads no case data at all (`sees_case_data`), the inspection is the
workflow's operational state only: no events of the log (their versions only, never
their types), no read-model row beyond its status and version, nothing decrypted from
the log (docs/security.md, "Roles and permissions").

Read models do not see every event: each projection handles some event types and
ignores the others by design (`Projection.handled`, `Projection.ignores`), and a
read model records the version of the last event it *applied*. So a read model is
compared with the log through what it handles: the last event of the case that it
handles and that its projection has passed (its checkpoint) is the version it must
claim. Events it handles beyond the checkpoint are the projection's lag, not a
finding (unless the projection stopped on an error); events it ignores never count.

The workflow's side is read in application/inspect_workflow.py, the read models' in
application/inspect_read_models.py; their public names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError

from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_reads import authorise
from application.inspect_read_models import (
    CASE_VERSION_CLAIMS,
    CaseVersionClaim,
    ReadModelView,
    read_model_views,
)
from application.inspect_workflow import (
    QUERY_TIMEOUT,
    Inspection,
    describe_workflow,
    failure_message,
    query_state,
    scan_history,
    task_failing,
)
from cases.access import QUERIES, Query
from cases.actors import Actor, Role
from cases.state import CaseState, workflow_id_for
from events.store import EventStore
from projections import case_summary as case_summary_model
from projections.case_summary import CaseSummary, case_summary


def sees_case_data(actor: Actor) -> bool:
    """Whether the actor's role reads any case's details and history (the operator, who
    sees only what a workflow waits on, does not)."""
    return all(actor.role in QUERIES[query] for query in (Query.CASE_DETAILS, Query.CASE_HISTORY))


async def _summary_status(pool: asyncpg.Pool, case_id: str) -> dict[str, Any] | None:
    """The case's read-model row as far as a reader of no case data may see it: its status
    (also the CaseStatus search attribute) and the version it has applied."""
    row = await pool.fetchrow(
        "SELECT status, stream_version FROM case_summary WHERE case_id = $1", case_id
    )
    return (
        None if row is None else {"status": row["status"], "stream_version": row["stream_version"]}
    )


async def inspect_case(
    client: Client, store: EventStore, pool: asyncpg.Pool, actor: Actor, case_id: str
) -> Inspection:
    """What the case's workflow waits on and whether workflow, log and read models agree,
    as far as `actor` may see (see the module's docstring): call it once the read is
    allowed and recorded (`inspect_allowed`)."""
    result = Inspection(case_id=case_id, case_data=sees_case_data(actor))
    workflow_id = workflow_id_for(case_id)
    stream = f"case-{case_id}"
    if result.case_data:
        log = await store.read_stream(stream)
        result.log_version = log[-1].stream_version if log else 0
        result.last_events = [
            {
                "version": e.stream_version,
                "type": e.event_type,
                "actor": e.metadata.actor_id,
                "occurred_at": f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
            }
            for e in log[-8:]
        ]
    else:  # the versions only: nothing of the case's history is read, nor decrypted
        result.log_version = await store.stream_version(stream)
    state: CaseState | None = None
    try:
        await describe_workflow(client, workflow_id, result)
    except RPCError as exc:
        result.findings.append(f"no workflow {workflow_id}: {exc.message}")
    else:
        try:
            await scan_history(client, workflow_id, result)
        except RPCError as exc:
            result.findings.append(f"the workflow's history could not be read: {exc.message}")
        if task_failing(result):  # no worker can answer a query: do not wait for one
            result.findings.append(
                "the workflow's state was not queried: its workflow task is failing"
            )
        else:
            state = await query_state(client, workflow_id, result)
    if state is not None:
        result.workflow_version = state.stream_version
    summary_status: str | None = None
    if result.case_data:
        try:
            summary: CaseSummary | None = await case_summary(pool, actor, case_id)
        except LookupError:
            summary = None
        result.read_model = summary.model_dump(mode="json") if summary else None
        summary_status = summary.status if summary else None
    else:
        result.read_model = await _summary_status(pool, case_id)
        summary_status = result.read_model["status"] if result.read_model else None
    views, statuses = await read_model_views(pool, case_id)
    if not result.case_data:  # which events a case had is its history
        views = [dataclasses.replace(view, expected_type=None) for view in views]
    result.read_models = [view.as_dict() for view in views]
    lag = statuses.get(case_summary_model.NAME)
    result.projection_lag_events = lag.lag_events if lag else None

    # --- findings -------------------------------------------------------------------------
    if not result.log_version:
        result.findings.append("the event log has no stream for this case")
    if state is not None and state.stream_version != result.log_version:
        result.findings.append(
            f"workflow state is at v{state.stream_version} but the log is at v{result.log_version}"
        )
    if result.workflow_status == "RUNNING" and state is not None and not state.is_open:
        result.findings.append("the case is closed but its workflow is still running")
    stopped = result.workflow_status not in (None, "RUNNING")
    if result.log_version and state is not None and state.is_open and stopped:
        result.findings.append(f"the case is open but its workflow is {result.workflow_status}")
    failure = result.workflow_task_failure
    if failure is not None and not failure["resolved"] and result.workflow_status == "RUNNING":
        result.findings.append(
            f"the workflow's task has failed since {failure['at']} ({failure['cause']}"
            + (f": {failure['message']}" if failure["message"] else "")
            + "): the workflow makes no progress until it succeeds"
        )
    for view in views:
        result.findings.extend(view.findings)
    summary_view = next(v for v in views if v.name == case_summary_model.NAME)
    caught_up = not summary_view.findings and not summary_view.pending_events
    # The status is compared only once the summary has applied every event it handles:
    # before that, a different status is the projection's lag.
    if (
        summary_status is not None
        and state is not None
        and caught_up
        and summary_status != state.status.value
    ):
        result.findings.append(
            f"read model says {summary_status}, workflow says {state.status.value}"
        )
    status_attr = result.search_attributes.get("CaseStatus")
    if state is not None and status_attr and status_attr != state.status.value:
        result.findings.append(f"search attribute CaseStatus={status_attr}, state {state.status}")
    return result


def operator_actor(os_user: str) -> Actor:
    """The operating-system user of an operator command, as an actor with the operator
    role (characters a staff id may not hold become `-`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._@-]", "-", os_user)[:100].lstrip("._@-") or "unknown"
    return Actor(staff_id=cleaned, role=Role.OPERATOR)


async def inspect_allowed(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> dict[str, Any]:
    """`inspect_case` once the access table allows it; the read is recorded."""
    cases = await app.cases()
    try:
        state: CaseState | None = await cases.state_from_log(case_id)
    except CaseNotFound:
        state = None
    grant = await authorise(
        app, actor, case_id, View.INSPECT, state, reason=reason, break_glass=break_glass
    )
    result = await inspect_case(cases.client, app.store, app.store.pool, grant.reader, case_id)
    return result.as_dict()


__all__ = [
    "CASE_VERSION_CLAIMS",
    "QUERY_TIMEOUT",
    "CaseVersionClaim",
    "Inspection",
    "ReadModelView",
    "failure_message",
    "inspect_allowed",
    "inspect_case",
    "operator_actor",
    "read_model_views",
    "sees_case_data",
]
