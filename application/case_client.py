"""The one client-side API to cases, used by the CLI, the demo and the tests.

It starts case workflows, sends commands as Updates and reads state by Query, and
turns a rejected command into `CaseCommandRejected` carrying the rule's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from application.policies import adopt_newer_policy, policy_and_version
from application.update_answers import execute_case_update
from cases import command_table
from cases import commands as c
from cases import decide as rules
from cases.evolve import fold
from cases.policy import DEFAULT_POLICY, Policy
from cases.state import CaseState, workflow_id_for
from events.store import EventStore
from workflows.case import CaseInput, CaseWorkflow, CommandResult


class CaseCommandRejected(Exception):
    """The case refused the command; nothing was written."""


class CaseVersionConflict(CaseCommandRejected):
    """The case moved on since the version the command was sent for."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class CaseAlreadyExists(CaseCommandRejected):
    """A case with the id an open names exists already (running or closed)."""


class CaseNotFound(LookupError):
    pass


COMMANDS: dict[type[c.Command], Any] = {
    entry.command: getattr(CaseWorkflow, entry.update) for entry in command_table.TABLE
}
"""Each command type → the case workflow's Update carrying it (from cases/command_table.py)."""


def _rejection(exc: BaseException) -> CaseCommandRejected:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError):
            if cause.type == "VersionConflict" and cause.details:
                return CaseVersionConflict(cause.message, int(cause.details[0]))
            return CaseCommandRejected(cause.message)
        cause = cause.__cause__
    return CaseCommandRejected(str(exc))


UPDATE_ATTEMPTS = 5
"""Times a command is sent when the server aborts it because its workflow task failed."""

CASE_TASK_TIMEOUT = timedelta(seconds=30)
"""A case workflow's task timeout (Temporal's default is 10 s), inherited by the runs it
continues as new. A worker that lost a case from its cache replays the run's history:
for a run of 4,000 events (the limit before PATCH_SHORTER_RUNS) that took 8-15 s on a
loaded machine. Each attempt then expired, was replayed again and expired again, and the
case stopped answering.
A worker killed in a task holds its case up to this long before another takes it over."""


class CaseClient:
    def __init__(self, client: Client, task_queue: str, store: EventStore | None = None) -> None:
        self.client = client
        self.task_queue = task_queue
        self.store = store

    def handle(self, case_id: UUID | str) -> WorkflowHandle[CaseWorkflow, CaseState]:
        return self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id_for(case_id))

    async def open(self, cmd: c.OpenCase, *, policy: Policy | None = None) -> CommandResult:
        """Open a case: the rules are checked here first, then one round trip starts the
        workflow and waits (the `sync` Update) until the case is open and its first events
        are in the log. A case id already used, by a running or a closed case, is refused.

        `policy`: the review policy the case starts with, instead of the one in force (a
        bench that makes many cases' reviews fall due at one moment)."""
        try:
            rules.decide_open(cmd)
        except rules.CommandRejected as exc:
            raise CaseCommandRejected(str(exc)) from None
        read: int | None = None  # the policy version the case starts with, when in force
        if policy is None:
            policy, read = await self._policy_in_force()
        start = WithStartWorkflowOperation(
            CaseWorkflow.run,
            CaseInput(open=cmd, policy=policy),
            id=workflow_id_for(cmd.case_id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            task_timeout=CASE_TASK_TIMEOUT,
        )
        try:
            result = await self.client.execute_update_with_start_workflow(
                CaseWorkflow.sync, start_workflow_operation=start
            )
        except WorkflowUpdateFailedError as exc:
            raise _rejection(exc) from None
        except (WorkflowAlreadyStartedError, RPCError) as exc:
            if isinstance(exc, RPCError) and exc.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
            with contextlib.suppress(Exception):
                await start.workflow_handle()  # the same failure, retrieved: nothing started
            raise CaseAlreadyExists(
                f"case_id: a case {cmd.case_id} already exists (running or closed)"
            ) from None
        assert isinstance(result, CommandResult)
        if read is not None and self.store is not None:
            await adopt_newer_policy(self.store, self.client, workflow_id_for(cmd.case_id), read)
        if not result.events and self.store is not None:
            # `sync` answers the case as it stands, naming no events: those the open
            # recorded are the stream's first `stream_version` (nothing comes before them).
            recorded = await self.store.read_stream(
                f"case-{cmd.case_id}", limit=result.stream_version
            )
            result = result.model_copy(update={"events": [e.event_type for e in recorded]})
        return result

    async def open_again(self, cmd: c.OpenCase) -> CommandResult:
        """`open`, for a case id derived from an idempotency key (so the same for every
        retry of one request): a case already opened with it by the same actor is this
        very open, sent again after its answer was lost, and is answered as the first time
        (`opened_before`) instead of refused, and nothing is written."""
        try:
            return await self.open(cmd)
        except CaseAlreadyExists:
            earlier = await self.opened_before(cmd)
            if earlier is None:
                raise
            return earlier

    async def opened_before(self, cmd: c.OpenCase) -> CommandResult | None:
        """The answer the open of `cmd.case_id` got, when `cmd.actor` opened it: from the
        log, as `open` answered it (the stream version its one append left, and the types
        of the events of that append), however far the case has moved on since. None when
        the log holds no such open (another actor's case, or nothing written).

        A retry racing its first attempt waits for that attempt's open (the `sync` Update;
        a case whose run has completed is read from the log as it is)."""
        if self.store is None:
            return None
        with contextlib.suppress(RPCError, WorkflowUpdateFailedError):
            await self.handle(cmd.case_id).execute_update(CaseWorkflow.sync)
        log = await self.store.read_stream(f"case-{cmd.case_id}")
        if not log or log[0].event_type != "CaseOpened":
            return None
        if log[0].metadata.actor_id != cmd.actor.staff_id:
            return None
        appended = [e for e in log if e.transaction_id == log[0].transaction_id]
        state = fold(appended, self.store.registry)
        return CommandResult(
            case_id=str(cmd.case_id),
            stream_version=max(e.stream_version for e in appended),
            status=state.status,
            events=[e.event_type for e in appended],
        )

    async def execute(
        self, case_id: UUID | str, cmd: c.Command, *, update_id: str | None = None
    ) -> CommandResult:
        """Send one command to a case and wait for its events to be appended.

        `update_id`: sent again (a retry), the server answers the first execution's result
        instead of running the command twice."""
        if isinstance(cmd, c.Reopen):
            return await self.reopen(case_id, cmd, update_id=update_id)
        method = COMMANDS[type(cmd)]
        return await self._update(self.handle(case_id), method, cmd, update_id, case_id)

    async def reopen(
        self, case_id: UUID | str, cmd: c.Reopen, *, update_id: str | None = None
    ) -> CommandResult:
        handle = self.handle(case_id)
        if not await self._running(handle):
            state = await self.state_from_log(case_id)
            try:
                rules.decide_reopen(state, cmd)
            except rules.CommandRejected as exc:
                raise CaseCommandRejected(str(exc)) from None
            policy, read = await self._policy_in_force()
            handle = await self.client.start_workflow(
                CaseWorkflow.run,
                CaseInput(snapshot=state, reopening=True, policy=policy),
                id=workflow_id_for(case_id),
                task_queue=self.task_queue,
                task_timeout=CASE_TASK_TIMEOUT,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            result = await self._update(handle, CaseWorkflow.reopen, cmd, update_id, case_id)
            if read is not None and self.store is not None:
                await adopt_newer_policy(self.store, self.client, handle.id, read)
            return result
        return await self._update(handle, CaseWorkflow.reopen, cmd, update_id, case_id)

    async def _policy_in_force(self) -> tuple[Policy, int | None]:
        """The policy a case starts with, and the version read (None without a store)."""
        if self.store is None:
            return DEFAULT_POLICY, None
        return await policy_and_version(self.store)

    async def _update(
        self,
        handle: WorkflowHandle[Any, Any],
        method: Any,
        cmd: c.Command,
        update_id: str | None,
        case_id: UUID | str,
    ) -> CommandResult:
        # One id for every attempt: an update the server did accept is answered, not rerun.
        update_id = update_id or str(uuid.uuid4())
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                result = await execute_case_update(
                    handle, method, cmd, update_id, store=self.store, case_id=case_id
                )
            except WorkflowUpdateFailedError as exc:
                raise _rejection(exc) from None
            except RPCError as exc:
                message = str(exc).lower()
                if attempt < UPDATE_ATTEMPTS and "unexpected workflow task failure" in message:
                    # The workflow task carrying it failed (e.g. UnhandledCommand when a timer
                    # fired meanwhile): the server aborted the update before accepting it.
                    await asyncio.sleep(0.2 * attempt)
                    continue
                if "not found" in message or "completed" in message:
                    raise CaseNotFound(f"no running case workflow {handle.id}: {exc}") from None
                raise
            assert isinstance(result, CommandResult)
            return result
        raise AssertionError("unreachable")

    async def is_running(self, case_id: UUID | str) -> bool:
        return await self._running(self.handle(case_id))

    async def _running(self, handle: WorkflowHandle[Any, Any]) -> bool:
        # The raw call: only the status is needed, and decoding every search attribute
        # is neither needed nor safe across server versions.
        try:
            raw = await self.client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=self.client.namespace,
                    execution=WorkflowExecution(workflow_id=handle.id),
                )
            )
        except RPCError:
            return False
        status = WorkflowExecutionStatus(raw.workflow_execution_info.status)
        return status == WorkflowExecutionStatus.RUNNING

    async def state(self, case_id: UUID | str) -> CaseState:
        """The workflow's state (also for a closed case), or the fold of the log."""
        try:
            state = await self.handle(case_id).query(CaseWorkflow.case)
        except RPCError:
            state = None
        if state is None:
            return await self.state_from_log(case_id)
        return state

    async def state_from_log(self, case_id: UUID | str) -> CaseState:
        if self.store is None:
            raise CaseNotFound("no event store to read the case from")
        events = await self.store.read_stream(f"case-{case_id}")
        if not events:
            raise CaseNotFound(f"no case {case_id}")
        return fold(events, self.store.registry)
