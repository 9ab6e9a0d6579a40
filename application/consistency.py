"""`casework verify`: the whole system's consistency, with a list of findings.

* every stream's hash chain is intact and its versions contiguous;
* every open case (by its log) has a running workflow, and every running case
  workflow has a stream;
* each running workflow's state is at its log's version;
* every read model equals a rebuild from the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import RPCError

from application.bootstrap import Casework
from events.chain import VerifyReport, verify_chains
from events.store import EventStore
from infrastructure.database import database_url
from projections.catalog import all_projections
from projections.compare import compare_with_rebuild
from workflows.case import CaseWorkflow

OPEN_CASES_SQL = """
SELECT stream_id FROM (
    SELECT DISTINCT ON (stream_id) stream_id, event_type
      FROM events
     WHERE stream_id LIKE 'case-%'
       AND event_type IN ('CaseOpened', 'CaseClosed', 'CaseReopened')
     ORDER BY stream_id, stream_version DESC) last
 WHERE event_type <> 'CaseClosed'"""

RUNNING_CASES = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"


@dataclass
class ConsistencyReport:
    chains: VerifyReport
    open_cases: int = 0
    running_workflows: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


async def check_consistency(
    dsn: str, store: EventStore, client: Client | None, *, read_models: bool = True
) -> ConsistencyReport:
    async with store.pool.acquire() as conn:
        chains = await verify_chains(conn)
    report = ConsistencyReport(chains=chains)
    report.findings += [f"hash chain: {f}" for f in chains.findings]

    open_streams = {r["stream_id"] for r in await store.pool.fetch(OPEN_CASES_SQL)}
    report.open_cases = len(open_streams)
    if client is not None:
        running: set[str] = set()
        async for execution in client.list_workflows(RUNNING_CASES):
            running.add(execution.id)
        report.running_workflows = len(running)
        all_cases = {
            r["stream_id"]
            for r in await store.pool.fetch(
                "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'case-%'"
            )
        }
        for stream in sorted(open_streams - running):
            report.findings.append(f"{stream} is open in the log but has no running workflow")
        for workflow_id in sorted(running - all_cases):
            report.findings.append(f"workflow {workflow_id} is running but has no stream")
        for workflow_id in sorted(running & all_cases):
            try:
                state = await client.get_workflow_handle(workflow_id).query(CaseWorkflow.case)
            except RPCError as exc:
                report.findings.append(f"workflow {workflow_id} did not answer: {exc.message}")
                continue
            logged = await store.stream_version(workflow_id)
            if state is not None and state.stream_version != logged:
                report.findings.append(
                    f"workflow {workflow_id} holds v{state.stream_version}, the log v{logged}"
                )
    if read_models:
        for projection in all_projections():
            for difference in await compare_with_rebuild(dsn, store, projection):
                report.findings.append(str(difference))
    return report


class VerifyUnavailable(LookupError):
    """Temporal does not answer, and the full verification needs it."""


async def verify(app: Casework, *, chains_only: bool = False) -> ConsistencyReport:
    """`casework verify`: chains and versions; unless `chains_only`, also every open case
    against its running workflow and back, and the read models against a rebuild."""
    client = None
    if not chains_only:
        try:
            client = await app.temporal()
        except RuntimeError as exc:
            raise VerifyUnavailable(
                f"Temporal at {app.settings.temporal_address} is not answering ({exc}); "
                "start the stack, or run `casework verify --chains-only`"
            ) from exc
    dsn = database_url(app.settings)
    return await check_consistency(dsn, app.store, client, read_models=not chains_only)
