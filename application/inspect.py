"""What a case's workflow is waiting on, and whether workflow, log and read model agree.

`inspect_case` gathers, for one case: the workflow's status, its pending timers
(from the history: started and neither fired nor cancelled), pending activities
(attempts, last failure), pending updates (accepted, not completed), its search
attributes; the last events of the log; the case's read-model row; and the
findings where the three disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_reads import authorise
from cases.actors import Actor
from cases.state import CaseState, workflow_id_for
from events.store import EventStore
from projections.case_summary import CaseSummary, case_summary
from projections.catalog import all_projections
from projections.status import projection_status
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
    workflow_version: int | None = None
    log_version: int = 0
    last_events: list[dict[str, Any]] = field(default_factory=list)
    read_model: dict[str, Any] | None = None
    projection_lag_events: int | None = None
    findings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _ts(value: Any) -> datetime | None:
    return value.ToDatetime().replace(tzinfo=None) if value and value.seconds else None


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
    for name, payload in info.search_attributes.indexed_fields.items():
        result.search_attributes[name] = payload.data.decode(errors="replace").strip('"')
    for act in raw.pending_activities:
        result.activities.append(
            {
                "activity": act.activity_type.name,
                "state": act.state,
                "attempt": act.attempt,
                "last_failure": act.last_failure.message or None,
                "next_attempt": str(_ts(act.next_attempt_schedule_time) or ""),
            }
        )


async def _scan_history(client: Client, workflow_id: str, result: Inspection) -> None:
    handle = client.get_workflow_handle(workflow_id)
    timers: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    async for event in handle.fetch_history_events():
        kind = event.event_type
        when = event.event_time.ToDatetime()
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            started = event.timer_started_event_attributes
            fires = when + started.start_to_fire_timeout.ToTimedelta()
            timers[started.timer_id] = {
                "timer_id": started.timer_id,
                "fires_at": f"{fires:%Y-%m-%d %H:%M:%S} UTC",
            }
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
                "accepted_at": f"{when:%Y-%m-%d %H:%M:%S} UTC",
            }
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            updates.pop(completed.meta.update_id, None)
    result.timers = list(timers.values())
    result.updates = list(updates.values())


async def inspect_case(
    client: Client, store: EventStore, pool: asyncpg.Pool, actor: Actor, case_id: str
) -> Inspection:
    result = Inspection(case_id=case_id)
    workflow_id = workflow_id_for(case_id)
    log = await store.read_stream(f"case-{case_id}")
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
    state: CaseState | None = None
    try:
        await _describe(client, workflow_id, result)
        await _scan_history(client, workflow_id, result)
        state = await client.get_workflow_handle(workflow_id).query(CaseWorkflow.case)
    except RPCError as exc:
        result.findings.append(f"no workflow {workflow_id}: {exc.message}")
    if state is not None:
        result.workflow_version = state.stream_version
    try:
        summary: CaseSummary | None = await case_summary(pool, actor, case_id)
    except LookupError:
        summary = None
    result.read_model = summary.model_dump(mode="json") if summary else None
    statuses = await projection_status(pool, all_projections())
    lag = {s.name: s for s in statuses}.get("case_summary")
    result.projection_lag_events = lag.lag_events if lag else None

    # --- findings -------------------------------------------------------------------------
    if not log:
        result.findings.append("the event log has no stream for this case")
    if state is not None and state.stream_version != result.log_version:
        result.findings.append(
            f"workflow state is at v{state.stream_version} but the log is at v{result.log_version}"
        )
    if result.workflow_status == "RUNNING" and state is not None and not state.is_open:
        result.findings.append("the case is closed but its workflow is still running")
    stopped = result.workflow_status not in (None, "RUNNING")
    if log and state is not None and state.is_open and stopped:
        result.findings.append(f"the case is open but its workflow is {result.workflow_status}")
    if summary is None and log:
        result.findings.append("the case has no read-model row")
    elif summary is not None:
        behind = result.log_version - summary.stream_version
        allowed = result.projection_lag_events or 0
        if behind > allowed:
            result.findings.append(
                f"the read model is at v{summary.stream_version}, {behind} event(s) behind the "
                f"log, more than the projection's lag ({allowed})"
            )
        if state is not None and summary.status != state.status.value:
            result.findings.append(
                f"read model says {summary.status}, workflow says {state.status.value}"
            )
    status_attr = result.search_attributes.get("CaseStatus")
    if state is not None and status_attr and status_attr != state.status.value:
        result.findings.append(f"search attribute CaseStatus={status_attr}, state {state.status}")
    return result


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
