"""Sending a case command as an Update, and finding its answer in the log when its case
completed without answering it.

Temporal deduplicates Updates by id: a command sent again with the id of one the case
already ran is answered with the first execution's result, also after the run completed
and after a server restart. One path escapes that:

1. The closure's approval reaches the case; its local activity appends ApprovalGranted
   and CaseClosed to the log.
2. The Temporal server dies before the workflow task that carries the Update's
   acceptance is recorded. An Update is only held in the server's memory until then, so
   the restarted server has never heard of it.
3. The next workflow task of the case (a review timer firing, say) appends, finds the
   log ahead of the workflow, folds it (the log is the truth) and, the case being closed,
   completes the run.
4. The caller sends the approval again with the same id and the server refuses it:
   "workflow execution already completed" (or, for an Update the server had admitted
   when the run completed, "workflow update was aborted by closing workflow", for every
   retry of that id). Yet the command was applied.

The events an Update wrote carry its id as `correlation_id`, so `execute_case_update`
answers such a retry from the log, as the first execution would have, and the caller
learns that the command was applied instead of being told the case is gone.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from cases import commands as c
from cases.evolve import fold
from events.store import EventStore
from workflows.case import CommandResult

RUN_ENDED = ("completed", "aborted by closing workflow")
"""How the server words a refusal because the run ended: "workflow execution already
completed" for an Update sent after it; "workflow update was aborted by closing
workflow" for one it had admitted when the run completed (a worker killed while the
closing approval was in flight, the Update delivered again as the case completed), an
answer the server then gives every retry of that id."""


def run_completed(exc: RPCError) -> bool:
    """The server refused an Update because the case's run has ended."""
    message = str(exc).lower()
    return any(words in message for words in RUN_ENDED)


async def answer_from_log(
    store: EventStore, case_id: UUID | str, cmd: c.Command, update_id: str
) -> CommandResult | None:
    """The answer update `update_id` carrying `cmd` got or would have got, from the events
    it wrote; None when it wrote none.

    As the workflow answers a retried append (`CaseWorkflow._done_before`): the events of
    the command's actor (not the system's reactions), and the stream version it left."""
    log = await store.read_stream(f"case-{case_id}")
    written = [e for e in log if e.metadata.correlation_id == update_id]
    if not written:
        return None
    version = max(e.stream_version for e in written)
    state = fold([e for e in log if e.stream_version <= version], store.registry)
    return CommandResult(
        case_id=str(case_id),
        stream_version=version,
        status=state.status,
        events=[e.event_type for e in written if e.metadata.actor_id == cmd.actor.staff_id],
    )


async def execute_case_update(
    handle: WorkflowHandle[Any, Any],
    method: Any,
    cmd: c.Command,
    update_id: str,
    *,
    store: EventStore | None,
    case_id: UUID | str,
) -> Any:
    """`handle.execute_update(method, cmd, id=update_id)`, answered from the log when the
    run completed without answering it (see the module's docstring).

    Raises the server's RPCError unchanged when the log holds nothing of the update (or
    there is no `store` to read)."""
    try:
        return await handle.execute_update(method, cmd, id=update_id)
    except RPCError as exc:
        if not run_completed(exc) or store is None:
            raise
        answer = await answer_from_log(store, case_id, cmd, update_id)
        if answer is None:
            raise
        return answer
