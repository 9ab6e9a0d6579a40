"""`casework verify`: the whole system's consistency, with a list of findings.

* every stream's hash chain is intact and its versions contiguous;
* every event carries a valid origin proof (events/origin.py), or is one of the events
  recorded as written before proofs began;
* the log reproduces every signed checkpoint of its Merkle tree (events/notary.py): the
  first event that no longer matches is named, with the checkpoint that proves it;
* every open case (by its log) has a running workflow, and every running case
  workflow has a stream;
* each running workflow's state is at its log's version;
* every read model equals a rebuild from the log.

`verify_case_chain` checks one case's chain alone, with the same check (events/chain.py
`verify_chains`), for a reader of the case's history (the console's audit view).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError

from application.access_log import locate_in_read_model
from application.bootstrap import Casework
from application.notary import check_checkpoints
from cases.access import Query, decide_read
from cases.actors import Actor
from events.chain import ChainFinding, VerifyReport, verify_chains
from events.notary import TreeReport
from events.origin import OriginReport, verify_origins
from events.store import EventStore
from infrastructure.database import database_url
from infrastructure.environment import ServerNotAnswering
from infrastructure.settings import Settings
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
    origins: OriginReport | None = None
    """Every event's origin proof (None: the store holds no origin key to check with)."""
    open_cases: int = 0
    running_workflows: int = 0
    findings: list[str] = field(default_factory=list)
    checkpoints: TreeReport | None = None
    """The log against the notary's signed checkpoints (None: not checked)."""

    @property
    def ok(self) -> bool:
        return not self.findings


async def check_consistency(
    dsn: str,
    store: EventStore,
    client: Client | None,
    *,
    read_models: bool = True,
    settings: Settings | None = None,
) -> ConsistencyReport:
    async with store.pool.acquire() as conn:
        chains = await verify_chains(conn)
    report = ConsistencyReport(chains=chains)
    report.findings += [f"hash chain: {f}" for f in chains.findings]
    if store.origin is not None:
        async with store.pool.acquire() as conn:
            report.origins = await verify_origins(conn, store.origin)
        report.findings += report.origins.lines()
    if settings is not None:
        conn = await asyncpg.connect(dsn)
        try:
            report.checkpoints = await check_checkpoints(settings, conn)
        finally:
            await conn.close()
        report.findings += [f"checkpoints: {f}" for f in report.checkpoints.findings]

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


class VerifyUnavailable(ServerNotAnswering):
    """Temporal does not answer, and the full verification needs it."""


async def verify(app: Casework, *, chains_only: bool = False) -> ConsistencyReport:
    """`casework verify`: chains and versions; unless `chains_only`, also every open case
    against its running workflow and back, and the read models against a rebuild."""
    client = None
    if not chains_only:
        try:
            client = await app.temporal()
        except ServerNotAnswering as exc:
            raise VerifyUnavailable(
                exc.cause,
                "TEMPORAL_ADDRESS",
                "start the stack (`casework up`), set TEMPORAL_ADDRESS to a Temporal that "
                "runs, or run `casework verify --chains-only`",
            ) from exc
    dsn = database_url(app.settings)
    return await check_consistency(
        dsn, app.store, client, read_models=not chains_only, settings=app.settings
    )


@dataclass(frozen=True)
class CaseChain:
    """One case's hash chain as `verify_chains` found it: the events checked (versions
    1 … `events`) and the first broken link, if any."""

    case_id: str
    events: int
    finding: ChainFinding | None

    @property
    def ok(self) -> bool:
        return self.finding is None

    @property
    def broken_at(self) -> int | None:
        return self.finding.stream_version if self.finding is not None else None

    def intact(self, version: int) -> bool:
        """Whether the event at `version` was checked and lies before any broken link
        (an event appended after the check is not vouched for)."""
        if version < 1 or version > self.events:
            return False
        return self.finding is None or version < self.finding.stream_version


async def verify_case_chain(app: Casework, actor: Actor, case_id: str) -> CaseChain:
    """Recompute the case's hash chain (the check `casework verify` runs on every
    stream) for a staff member who may read the case's history.

    Decided by the access table like a read of the case's history (CaseNotVisible for a
    case out of scope or unknown, AccessDenied for a role that reads no history); not
    itself recorded in the access log: it shows hashes and versions, no case content,
    and the caller has read (and recorded) the history it verifies."""
    location = await locate_in_read_model(app.pool, case_id)
    decide_read(
        actor, Query.CASE_HISTORY, case_id,
        team=location.team if location else None,
        worker=location.worker if location else None,
    )  # fmt: skip
    async with app.pool.acquire() as conn:
        report = await verify_chains(conn, stream_id=f"case-{case_id}")
    return CaseChain(case_id, report.events, report.findings[0] if report.findings else None)
