"""What a case's workflow is waiting on, as Temporal tells it (for `inspect_case`,
application/inspect.py): its status, pending activities and workflow task (from the
description), its pending timers, updates and the last failed workflow task (from the
history), when it next wakes up, and its state as it answers its query. Failure
messages are decoded with the client's payload codec.

`Inspection` is the record an inspection fills in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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

from cases.state import CaseState
from infrastructure.codec import CodecError
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


QUERY_TIMEOUT = timedelta(seconds=20)
"""How long inspect waits for the workflow to answer the query of its state: a stuck
workflow (no worker, or a task failing) must not hang the inspection. A worker rebuilding
a long run from its history on a loaded machine took 8-15 s (docs/architecture.md)."""


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


async def describe_workflow(client: Client, workflow_id: str, result: Inspection) -> None:
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


async def scan_history(client: Client, workflow_id: str, result: Inspection) -> None:
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


def task_failing(result: Inspection) -> bool:
    """Whether the running workflow's task fails over and over (no query is answered then)."""
    failure, task = result.workflow_task_failure, result.workflow_task
    failing = failure is not None and not failure["resolved"]
    retried = task is not None and task["attempt"] > 1
    return result.workflow_status == "RUNNING" and (failing or retried)


async def query_state(client: Client, workflow_id: str, result: Inspection) -> CaseState | None:
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
