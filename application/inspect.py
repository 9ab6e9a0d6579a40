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
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import (
    EventType,
    PendingActivityState,
    PendingWorkflowTaskState,
    TimeoutType,
    WorkflowTaskFailedCause,
)
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError

from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_reads import authorise
from cases.access import QUERIES, Query
from cases.actors import Actor, Role
from cases.state import CaseState, workflow_id_for
from events.store import EventStore
from infrastructure.codec import CodecError
from projections import case_summary as case_summary_model
from projections import timeline
from projections.base import Projection
from projections.case_summary import CaseSummary, case_summary
from projections.status import ProjectionStatus, projection_status
from workflows.case import CaseWorkflow


@dataclass
class Inspection:
    case_id: str
    workflow_status: str | None = None
    run_id: str | None = None
    history_length: int | None = None
    timers: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    search_attributes: dict[str, Any] = field(default_factory=dict)
    task_queue: str | None = None
    workflow_task: dict[str, Any] | None = None
    """The workflow task scheduled or running now (state, attempt, since when), if any: an
    attempt above 1 is a task failing over and over (Temporal records only the first)."""
    workflow_task_failure: dict[str, Any] | None = None
    """The last workflow task that failed or timed out (cause, message, when), and whether
    one has completed since (`resolved`)."""
    next_wakeup: str | None = None
    """The earliest pending timer or activity retry: when the workflow next wakes up
    by itself."""
    workflow_version: int | None = None
    log_version: int = 0
    last_events: list[dict[str, Any]] = field(default_factory=list)
    read_model: dict[str, Any] | None = None
    projection_lag_events: int | None = None
    """Events after case_summary's checkpoint, in the whole log."""
    read_models: list[dict[str, Any]] = field(default_factory=list)
    """Where each per-case read model stands for this case (`ReadModelView.as_dict`)."""
    findings: list[str] = field(default_factory=list)
    case_data: bool = True
    """False: the reader sees no case data (an operator): the workflow's operational state
    only, without `last_events`, the read-model row (its status and version only) or
    the types of events."""

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def sees_case_data(actor: Actor) -> bool:
    """Whether the actor's role reads any case's details and history (the operator, who
    sees only what a workflow waits on, does not)."""
    return all(actor.role in QUERIES[query] for query in (Query.CASE_DETAILS, Query.CASE_HISTORY))


QUERY_TIMEOUT = timedelta(seconds=20)
"""How long inspect waits for the workflow to answer the query of its state: a stuck
workflow (no worker, or a task failing) must not hang the inspection. A worker rebuilding
a long run from its history on a loaded machine took 8-15 s (docs/architecture.md)."""


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


async def failure_message(client: Client, failure: Failure) -> str | None:
    """A Temporal failure's real message: the data converter's failure converter moves
    messages into encrypted attributes (the stored message reads "Encoded failure"), so
    decode it with the client's codec; the exception type leads, when there is one."""
    if not failure.message and not failure.HasField("encoded_attributes"):
        return None
    copy = Failure()
    copy.CopyFrom(failure)
    try:
        error = await client.data_converter.decode_failure(copy)
    except CodecError as exc:
        return f"{failure.message} (not decoded: {exc})"
    message = error.message if isinstance(error, FailureError) else str(error)
    kind = error.type if isinstance(error, ApplicationError) else None
    return f"{kind}: {message}" if kind else message


def _ts(value: Any) -> datetime | None:
    return value.ToDatetime().replace(tzinfo=None) if value and value.seconds else None


def _utc(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S} UTC"


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    """A Temporal enum value's name without its prefix (`PENDING_ACTIVITY_STATE_STARTED`
    → `STARTED`), or the number for a value this SDK does not know."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix)


def _wakes_up(result: Inspection, when: datetime | None) -> None:
    """Keep the earliest time the workflow wakes up by itself."""
    if when is None:
        return
    current = result.next_wakeup
    if current is None or _utc(when) < current:
        result.next_wakeup = _utc(when)


async def _describe(client: Client, workflow_id: str, result: Inspection) -> None:
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    info = raw.workflow_execution_info
    result.workflow_status = WorkflowExecutionStatus(info.status).name
    result.run_id = info.execution.run_id
    result.history_length = info.history_length
    result.task_queue = info.task_queue or None
    for name, payload in info.search_attributes.indexed_fields.items():
        result.search_attributes[name] = payload.data.decode(errors="replace").strip('"')
    for act in raw.pending_activities:
        last_failure = (
            await failure_message(client, act.last_failure)
            if act.HasField("last_failure")
            else None
        )
        next_attempt = _ts(act.next_attempt_schedule_time)
        _wakes_up(result, next_attempt)
        result.activities.append(
            {
                "activity": act.activity_type.name,
                "state": _enum_name(PendingActivityState, act.state, "PENDING_ACTIVITY_STATE_"),
                "attempt": act.attempt,
                "last_failure": last_failure,
                "next_attempt": str(next_attempt or ""),
            }
        )
    if raw.HasField("pending_workflow_task"):
        task = raw.pending_workflow_task
        since = _ts(task.original_scheduled_time) or _ts(task.scheduled_time)
        started = _ts(task.started_time)
        result.workflow_task = {
            "state": _enum_name(
                PendingWorkflowTaskState, task.state, "PENDING_WORKFLOW_TASK_STATE_"
            ),
            "attempt": task.attempt,
            "scheduled_at": _utc(since) if since else None,
            "started_at": _utc(started) if started else None,
        }


_RUN_CLOSED = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


async def _scan_history(client: Client, workflow_id: str, result: Inspection) -> None:
    handle = client.get_workflow_handle(workflow_id)
    timers: dict[str, dict[str, Any]] = {}
    fire_times: dict[str, datetime] = {}
    updates: dict[str, dict[str, Any]] = {}
    task_failure: dict[str, Any] | None = None
    async for event in handle.fetch_history_events():
        kind = event.event_type
        when = event.event_time.ToDatetime()
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            started = event.timer_started_event_attributes
            fires = when + started.start_to_fire_timeout.ToTimedelta()
            fire_times[started.timer_id] = fires
            timers[started.timer_id] = {"timer_id": started.timer_id, "fires_at": _utc(fires)}
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            timers.pop(event.timer_fired_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.pop(event.timer_canceled_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted = event.workflow_execution_update_accepted_event_attributes
            request = accepted.accepted_request
            updates[request.meta.update_id] = {
                "update": request.input.name,
                "id": request.meta.update_id,
                "accepted_at": _utc(when),
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            updates.pop(completed.meta.update_id, None)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failed = event.workflow_task_failed_event_attributes
            task_failure = {
                "cause": _enum_name(
                    WorkflowTaskFailedCause, failed.cause, "WORKFLOW_TASK_FAILED_CAUSE_"
                ),
                "message": (
                    await failure_message(client, failed.failure)
                    if failed.HasField("failure")
                    else None
                ),
                "at": _utc(when),
                "event_id": event.event_id,
                "resolved": False,
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            timed_out = event.workflow_task_timed_out_event_attributes
            timeout = _enum_name(TimeoutType, timed_out.timeout_type, "TIMEOUT_TYPE_")
            task_failure = {
                "cause": f"TIMED_OUT ({timeout})",
                "message": None,
                "at": _utc(when),
                "event_id": event.event_id,
                "resolved": False,
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and task_failure is not None:
            task_failure["resolved"] = True
        elif kind in _RUN_CLOSED:  # a closed run waits on nothing
            timers.clear()
            updates.clear()
    result.timers = list(timers.values())
    result.updates = list(updates.values())
    result.workflow_task_failure = task_failure
    for timer_id in timers:
        _wakes_up(result, fire_times[timer_id])


def _task_failing(result: Inspection) -> bool:
    """Whether the running workflow's task fails over and over (no query is answered then)."""
    failure, task = result.workflow_task_failure, result.workflow_task
    failing = failure is not None and not failure["resolved"]
    retried = task is not None and task["attempt"] > 1
    return result.workflow_status == "RUNNING" and (failing or retried)


async def _query_state(client: Client, workflow_id: str, result: Inspection) -> CaseState | None:
    """The workflow's state as it answers its query (None, with a finding, if it does not:
    a workflow whose tasks fail, or that no worker polls for, answers nothing)."""
    try:
        return await client.get_workflow_handle(workflow_id).query(
            CaseWorkflow.case, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError) as exc:
        message = exc.message if isinstance(exc, RPCError) else str(exc)
        result.findings.append(f"the workflow did not answer the query of its state: {message}")
        return None


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
        await _describe(client, workflow_id, result)
    except RPCError as exc:
        result.findings.append(f"no workflow {workflow_id}: {exc.message}")
    else:
        try:
            await _scan_history(client, workflow_id, result)
        except RPCError as exc:
            result.findings.append(f"the workflow's history could not be read: {exc.message}")
        if _task_failing(result):  # no worker can answer a query: do not wait for one
            result.findings.append(
                "the workflow's state was not queried: its workflow task is failing"
            )
        else:
            state = await _query_state(client, workflow_id, result)
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
