"""Replay every case workflow a test made, from a cold cache, against today's code.

The recorded histories (tests/workflows/histories) guard the cases of earlier versions;
this guards what the engine produces now. Every Temporal server the tests start (the
time-skipping test server, the dev server, the embedded stack's) hands its client to
`replay_case_histories` before it stops, and the session's shared time-skipping server is
replayed after each test that used it: each run of `CaseWorkflow` on it (open or closed,
every run of a continued or reopened case) is fetched and replayed by the SDK's
`Replayer`, which starts with nothing cached, so a run whose history today's code cannot
reproduce (a nondeterminism error, a patch marker in another workflow task) fails the
test that made it.

Both servers answer the List{Open,Closed}WorkflowExecutions calls (the time-skipping
server has no visibility queries, and ignores their type filter: the type is checked
here too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.filter.v1 import WorkflowTypeFilter
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    ListClosedWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsRequest,
)
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, WorkflowRunner

from workflows.case import CaseWorkflow

WORKFLOW_TYPE = "CaseWorkflow"


class ReplayFailed(AssertionError):
    """Runs whose histories today's code does not replay."""


@dataclass
class Replayed:
    """What one server's client has replayed so far: run -> history length, so a shared
    server's runs are replayed again only when their history grew."""

    lengths: dict[tuple[str, str], int] = field(default_factory=dict)
    closed: set[tuple[str, str]] = field(default_factory=set)
    """Runs replayed once closed: never fetched again."""


async def _listed(
    client: Client, closed: bool, token: bytes
) -> tuple[Sequence[WorkflowExecutionInfo], bytes]:
    """One page of the server's open (or closed) runs of CaseWorkflow, and the next."""
    kind = WorkflowTypeFilter(name=WORKFLOW_TYPE)
    service, namespace = client.workflow_service, client.namespace
    if closed:
        found = await service.list_closed_workflow_executions(
            ListClosedWorkflowExecutionsRequest(
                namespace=namespace, maximum_page_size=1000, next_page_token=token, type_filter=kind
            )
        )
        return found.executions, found.next_page_token
    running = await service.list_open_workflow_executions(
        ListOpenWorkflowExecutionsRequest(
            namespace=namespace, maximum_page_size=1000, next_page_token=token, type_filter=kind
        )
    )
    return running.executions, running.next_page_token


async def case_runs(client: Client) -> list[tuple[WorkflowExecution, int, bool]]:
    """Every run of CaseWorkflow the server has, open and closed: (run, history length
    as the server lists it, closed?)."""
    runs: list[tuple[WorkflowExecution, int, bool]] = []
    for closed in (False, True):
        token = b""
        while True:
            executions, token = await _listed(client, closed, token)
            runs += [
                (i.execution, i.history_length, closed)
                for i in executions
                if i.type.name == WORKFLOW_TYPE
            ]
            if not token:
                break
    return runs


async def replay_case_histories(
    client: Client,
    replayed: Replayed | None = None,
    runner: WorkflowRunner | None = None,
    only: str | None = None,
) -> int:
    """Replay every CaseWorkflow run on `client`'s server not yet replayed (or grown since)
    from a cold cache; raise `ReplayFailed` naming each run that fails. Returns how many
    runs were replayed. `runner`: the sandbox by default; `only`: that workflow id's runs."""
    seen = replayed if replayed is not None else Replayed()
    histories: list[WorkflowHistory] = []
    names: dict[int, str] = {}
    for run, listed_length, closed in await case_runs(client):
        key = (run.workflow_id, run.run_id)
        if only is not None and run.workflow_id != only:
            continue
        if key in seen.closed or (listed_length and seen.lengths.get(key) == listed_length):
            continue  # a closed run never changes; an open one that has not grown
        history = await client.get_workflow_handle(
            run.workflow_id, run_id=run.run_id
        ).fetch_history()
        if seen.lengths.get(key) == len(history.events):
            continue
        seen.lengths[key] = len(history.events)
        if closed:
            seen.closed.add(key)
        histories.append(history)
        names[id(history)] = f"{run.workflow_id} run {run.run_id}"
    if not histories:
        return 0

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    replayer = (
        Replayer(workflows=[CaseWorkflow], data_converter=client.data_converter)
        if runner is None
        else Replayer(
            workflows=[CaseWorkflow], data_converter=client.data_converter, workflow_runner=runner
        )
    )
    failures: list[str] = []
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            if result.replay_failure is not None:
                failures.append(f"{names[id(result.history)]}: {result.replay_failure}")
    if failures:
        raise ReplayFailed(
            f"{len(failures)} of {len(histories)} case workflow run(s) do not replay from "
            "a cold cache:\n" + "\n".join(failures)
        )
    return len(histories)
