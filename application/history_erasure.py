"""Erasing a forgotten client's personal data from Temporal: their cases' workflow histories.

Temporal keeps every payload a case ever handed it — the start input (the client's name
and details), every Update's arguments (a contact note), activity inputs and results,
continue-as-new inputs — encrypted with the codec keys, which all clients share and which
survive an erasure. Destroying the client's data key therefore does not reach them; deleting
the histories does:

* a running case whose run saw the client's personal data is asked to shed it (the
  `shed_history` Update): it continues as new from its erased state, so the new run's
  history starts from erased data, and every earlier run can go;
* every other run of the case's workflow id — closed runs, runs that continued as new,
  the runs of earlier openings before a reopen — is deleted (DeleteWorkflowExecution, per
  run id). The running run, started from the erased state, is kept.

Runs are found through visibility (`WorkflowId = ...`, closed ones included) and, because
visibility lags, also by walking back the continue-as-new chain from the current run.
A server that cannot delete (the time-skipping test server) leaves the histories; the
caller is told which, and it is logged.

The server deletes asynchronously: a deleted run may stay readable for a while (on a
loaded dev server, up to a minute or two — tests/security/test_erasure_everywhere.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import structlog
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
)
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from application.case_client import CaseClient
from cases.state import workflow_id_for
from workflows.case import CaseWorkflow

log = structlog.get_logger("casework.forget")

SHED_WAIT_SECONDS = 60.0
"""How long a case may take to continue as new after `shed_history` (it waits for its
running handlers and referral dispatches to finish first)."""


class HistoryErasureUnsupported(RuntimeError):
    """The Temporal server cannot list or delete workflow executions."""


@dataclass(frozen=True)
class CaseHistoryErasure:
    workflow_id: str
    deleted: tuple[str, ...]
    """Run ids deleted now."""
    kept: str | None
    """The running run kept (started from the erased state), if any."""
    erased: bool
    """False when Temporal may still hold personal data of this case (see `why`)."""
    why: str = ""


async def erase_case_history(
    cases: CaseClient, case_id: UUID | str, *, wait_seconds: float = SHED_WAIT_SECONDS
) -> CaseHistoryErasure:
    """Delete every run of the case's workflow that may hold the forgotten client's
    personal data; a running case first continues as new from its erased state."""
    client = cases.client
    workflow_id = workflow_id_for(case_id)
    current = await _current_run(client, workflow_id)
    tainted: str | None = None
    if current is not None and current[1]:
        try:
            shed = await cases.handle(case_id).execute_update(CaseWorkflow.shed_history)
        except (WorkflowUpdateFailedError, RPCError) as exc:
            current = await _current_run(client, workflow_id)
            if current is not None and current[1]:  # (else it ended meanwhile: delete it)
                log.warning("forget.shed_history_failed", workflow_id=workflow_id, error=str(exc))
                why = f"the running case did not answer shed_history: {exc}"
                return CaseHistoryErasure(workflow_id, (), current[0], False, why)
        else:
            tainted = shed.run_id if shed.holds_personal_data else None
    if tainted is not None:
        # That run continues as new from the erased state (or, closed, ends): wait for it.
        deadline = time.monotonic() + wait_seconds
        while True:
            current = await _current_run(client, workflow_id)
            if current is None or current[0] != tainted or not current[1]:
                break
            if time.monotonic() > deadline:
                why = (
                    f"run {tainted} did not move on within {wait_seconds:.0f}s (a referral "
                    "dispatch or a handler still running?): run forget again"
                )
                return CaseHistoryErasure(workflow_id, (), tainted, False, why)
            await asyncio.sleep(0.1)
    keep = current[0] if current is not None and current[1] else None
    try:
        runs = await _runs(client, workflow_id, current[0] if current else None)
        deleted: list[str] = []
        for run_id in sorted(runs - {keep}):
            if await _delete(client, workflow_id, run_id):
                deleted.append(run_id)
    except HistoryErasureUnsupported as exc:
        return CaseHistoryErasure(workflow_id, (), keep, False, str(exc))
    log.info("forget.case_history_erased", workflow_id=workflow_id, deleted=len(deleted), kept=keep)
    return CaseHistoryErasure(workflow_id, tuple(deleted), keep, True)


async def _current_run(client: Client, workflow_id: str) -> tuple[str, bool] | None:
    """(run id, running?) of the workflow id's latest run; None if there is none."""
    try:
        raw = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = raw.workflow_execution_info
    running = info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    return info.execution.run_id, running


async def _runs(client: Client, workflow_id: str, current: str | None) -> set[str]:
    """Every run id of the workflow id: from visibility, and the continue-as-new chain
    back from `current` (visibility may not list a run closed a moment ago)."""
    runs: set[str] = set()
    try:
        async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            runs.add(execution.run_id)
    except RPCError as exc:
        if exc.status is RPCStatusCode.UNIMPLEMENTED:
            raise HistoryErasureUnsupported(
                f"the Temporal server cannot list executions: {exc.message}"
            ) from None
        raise
    run_id, walked = current, set[str]()
    while run_id is not None and run_id not in walked:
        walked.add(run_id)
        runs.add(run_id)
        run_id = await _continued_from(client, workflow_id, run_id)
    return runs


async def _continued_from(client: Client, workflow_id: str, run_id: str) -> str | None:
    """The run this run continued as new from, if any."""
    try:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                maximum_page_size=1,
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    if not page.history.events:
        return None
    started = page.history.events[0].workflow_execution_started_event_attributes
    return started.continued_execution_run_id or None


async def _delete(client: Client, workflow_id: str, run_id: str) -> bool:
    """Delete one run (terminated first if running); False if it was gone already."""
    try:
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        if exc.status is RPCStatusCode.UNIMPLEMENTED:
            raise HistoryErasureUnsupported(
                f"the Temporal server cannot delete executions: {exc.message}"
            ) from None
        raise
    return True
