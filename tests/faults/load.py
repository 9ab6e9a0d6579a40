"""A load of case commands, with every command's fate written down.

`CaseDriver` sends commands the way a careful caller does under faults: each Update
carries an id chosen by the caller, and a call that fails for a reason other than the
case's refusal (server unreachable, RPC timeout, worker gone) is sent again with the
SAME id until `patience` runs out; Temporal deduplicates updates by id, so a retry
never runs a command twice. The `Ledger` records each command as accepted (with its
`CommandResult`), rejected (the case refused it; nothing may be written) or unknown
(still failing when patience ran out; `resolve_unknown` asks again after recovery,
and whatever stays unknown must have written nothing).

The events of an Update carry its id as `correlation_id`, which is how
tests/faults/invariants.py finds them in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from application.case_client import COMMANDS
from application.policies import POLICY_STREAM
from application.update_answers import execute_case_update
from cases import commands as c
from cases.policy import EscalationStep, Policy
from cases.state import CaseState, workflow_id_for
from directory import add_staff, add_team, bootstrap_admin
from events.envelope import EventMetadata
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    ClosureReason,
    ContactKind,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    PolicyApplied,
    RiskLevel,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL
from workflows.case import CaseInput, CaseWorkflow, CommandResult

FAULT_POLICY = Policy(
    review_interval=dict.fromkeys(RiskLevel, timedelta(seconds=12)),
    review_grace=timedelta(seconds=3),
    escalation_ladder=[
        EscalationStep(notify="supervisor", after=timedelta(0)),
        EscalationStep(notify="manager", after=timedelta(seconds=3)),
    ],
    approval_deadline=timedelta(hours=1),
    referral_reply_deadline=timedelta(hours=1),
)
"""Second-scale reviews: every case left alone goes due, lapses and escalates twice
(supervisor, then manager) within about 20 seconds, so escalation notifications
flow while the faults happen. Approval and referral deadlines stay out of the way."""

T = TypeVar("T")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass
class Sent:
    """One command as the caller saw it."""

    case_id: str
    command: str
    update_id: str
    actor: str
    expect_rejection: bool = False
    outcome: Outcome = Outcome.UNKNOWN
    result: CommandResult | None = None
    error: str = ""
    attempts: int = 0
    started_at: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    call: Callable[[], Awaitable[Any]] | None = field(default=None, repr=False)
    """Sends the command again with the same update id (for `resolve_unknown`)."""


@dataclass
class Ledger:
    sent: list[Sent] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    """Cases whose OpenCase was accepted."""
    last_command_at: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for s in self.sent if s.outcome is outcome)

    @property
    def unexpected_rejections(self) -> list[Sent]:
        return [s for s in self.sent if s.outcome is Outcome.REJECTED and not s.expect_rejection]

    @property
    def missing_rejections(self) -> list[Sent]:
        return [s for s in self.sent if s.outcome is Outcome.ACCEPTED and s.expect_rejection]


def rejection_message(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        cause = cause.__cause__
    return str(exc)


class CaseDriver:
    """Sends commands to case workflows and records each one in the ledger."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        policy: Policy,
        ledger: Ledger,
        *,
        store: EventStore,
        patience: float = 120.0,
        attempt_timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.policy = policy
        self.ledger = ledger
        self.store = store
        """The case log: a retry refused because its case completed is answered from it."""
        self.patience = patience
        self.attempt_timeout = attempt_timeout

    def handle(self, case_id: str) -> WorkflowHandle[CaseWorkflow, CaseState]:
        return self.client.get_workflow_handle_for(CaseWorkflow.run, workflow_id_for(case_id))

    async def _persist(self, sent: Sent, call: Callable[[], Awaitable[Any]]) -> None:
        """Call until accepted or refused, retrying transport failures with the same id."""
        sent.call = call
        sent.outcome = Outcome.UNKNOWN
        started = time.monotonic()
        deadline = started + self.patience
        backoff = 0.2
        while True:
            sent.attempts += 1
            try:
                result = await asyncio.wait_for(call(), self.attempt_timeout)
            except WorkflowUpdateFailedError as exc:
                sent.outcome = Outcome.REJECTED
                sent.error = rejection_message(exc)
                break
            except Exception as exc:  # transport: server down, RPC timeout, worker gone
                sent.error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 3.0)
                continue
            if isinstance(result, CommandResult):
                sent.result = result
            sent.outcome = Outcome.ACCEPTED
            sent.error = ""
            break
        sent.seconds = time.monotonic() - started
        self.ledger.last_command_at = time.monotonic()

    async def open(self, cmd: c.OpenCase) -> Sent:
        case_id = str(cmd.case_id)
        sent = Sent(case_id, "OpenCase", str(uuid.uuid4()), cmd.actor.staff_id)
        self.ledger.sent.append(sent)
        handle = self.handle(case_id)

        async def start_and_sync() -> CommandResult:
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await self.client.start_workflow(
                    CaseWorkflow.run,
                    CaseInput(open=cmd, policy=self.policy),
                    id=workflow_id_for(case_id),
                    task_queue=self.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            result = await handle.execute_update(CaseWorkflow.sync, id=sent.update_id)
            assert isinstance(result, CommandResult)
            return result

        await self._persist(sent, start_and_sync)
        if sent.outcome is Outcome.ACCEPTED:
            self.ledger.opened.append(case_id)
        return sent

    async def send(self, case_id: str, cmd: c.Command, *, expect_rejection: bool = False) -> Sent:
        sent = Sent(
            case_id,
            type(cmd).__name__,
            str(uuid.uuid4()),
            cmd.actor.staff_id,
            expect_rejection=expect_rejection,
        )
        self.ledger.sent.append(sent)
        await self.resend(sent, cmd)
        return sent

    async def resend(self, sent: Sent, cmd: c.Command) -> None:
        method = COMMANDS[type(cmd)]
        handle = self.handle(sent.case_id)
        await self._persist(
            sent,
            lambda: execute_case_update(
                handle, method, cmd, sent.update_id, store=self.store, case_id=sent.case_id
            ),
        )

    async def resolve_unknown(self) -> int:
        """Ask again, with the same ids, about every command whose fate is unknown."""
        unknown = [s for s in self.ledger.sent if s.outcome is Outcome.UNKNOWN and s.call]
        for sent in unknown:
            assert sent.call is not None
            await self._persist(sent, sent.call)
            if sent.command == "OpenCase" and sent.outcome is Outcome.ACCEPTED:
                self.ledger.opened.append(sent.case_id)
        return len(unknown)


# --- the agency and its cases ----------------------------------------------------------------


async def seed_agency(store: EventStore, notification_url: Callable[[str], str]) -> None:
    """Team north (alice, carol, max with webhooks at the simulator) and the fast policy."""
    admin_member = await bootstrap_admin(store, "ada", "Ada Admin")
    admin = admin_member.as_actor()
    await add_team(store, admin, "north", "North team")
    await add_staff(
        store, admin, "alice", "Alice", "caseworker", "north", notification_url("alice")
    )
    await add_staff(
        store, admin, "carol", "Carol", "supervisor", "north", notification_url("carol")
    )
    await add_staff(store, admin, "max", "Max", "manager", None, notification_url("max"))
    policy = FAULT_POLICY.model_copy(update={"version": 1})
    await store.append_domain(
        POLICY_STREAM,
        0,
        [(uuid.uuid4(), PolicyApplied(version=1, policy=policy.model_dump(mode="json")))],
        EventMetadata(actor_id=admin.staff_id, actor_role=admin.role.value),
        datetime.now(UTC),
    )


class CasePath(StrEnum):
    NEGLECTED = "neglected"
    """Opened and consented, then left: its review lapses and escalates twice."""
    ACTIVE = "active"
    """Assessed, planned, approved, referred, contacts and progress; stays open."""
    CLOSED = "closed"
    """The whole loop to an approved closure (the workflow completes)."""


@dataclass
class CaseScript:
    """One case's commands, in order; a command that is not accepted ends the script."""

    driver: CaseDriver
    path: CasePath
    provider_id: str
    provider_url: str
    rng: random.Random

    async def run(self) -> None:
        d = self.driver
        opened = inputs.open_case()
        case_id = str(opened.case_id)
        if (await d.open(opened)).outcome is not Outcome.ACCEPTED:
            return
        today = datetime.now(UTC).date()
        steps: list[tuple[c.Command, bool]] = [
            (inputs.consent(providers=(self.provider_id,)), False),
        ]
        if self.path is not CasePath.NEGLECTED:
            steps += [
                (inputs.assessment(housing=self.rng.randint(0, 4)), False),
                (inputs.plan(), False),
                (c.SubmitPlan(actor=ALICE, note="ready for review"), False),
                # The author may not approve her own plan: refused, nothing written.
                (c.DecideApproval(actor=ALICE, kind=ApprovalKind.PLAN, approve=True), True),
                (c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True), False),
                (inputs.refer(url=self.provider_url, provider=self.provider_id), False),
                *(
                    (
                        c.LogContact(
                            actor=ALICE,
                            kind=self.rng.choice(list(ContactKind)),
                            contact_date=today,
                            duration_minutes=self.rng.randint(5, 90),
                            notes=f'contact {n}: O\'Brien said "fine"; -- DROP TABLE events;',
                        ),
                        False,
                    )
                    for n in range(1, self.rng.randint(2, 4) + 1)
                ),
                (
                    c.RecordProgress(actor=ALICE, goal_id="housing", status=GoalStatus.IN_PROGRESS),
                    False,
                ),
                # No referral-9 on this case: refused.
                (c.ReferralReply(actor=ALICE, referral_id="referral-9", outcome="accepted"), True),
            ]
        if self.path is CasePath.CLOSED:
            steps += [
                (
                    c.Evaluate(
                        actor=ALICE,
                        evaluations=[
                            GoalEvaluation(
                                goal_id="housing", outcome=GoalOutcome.MET, reason="tenancy signed"
                            )
                        ],
                        next_step=NextStep.CLOSE,
                    ),
                    False,
                ),
                (c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET), False),
                (c.DecideApproval(actor=CAROL, kind=ApprovalKind.CLOSURE, approve=True), False),
            ]
        for cmd, rejected in steps:
            sent = await d.send(case_id, cmd, expect_rejection=rejected)
            if sent.outcome is not Outcome.ACCEPTED and not rejected:
                return


def paths(n: int, rng: random.Random) -> list[CasePath]:
    weights = {CasePath.NEGLECTED: 2, CasePath.ACTIVE: 5, CasePath.CLOSED: 3}
    return rng.choices(list(weights), weights=list(weights.values()), k=n)


async def run_load(
    driver: CaseDriver,
    providers: list[tuple[str, str]],
    *,
    seed: int,
    concurrency: int,
    until: Callable[[], bool],
    min_cases: int,
    max_cases: int = 400,
) -> int:
    """Start case scripts (`concurrency` at a time) until `until()` and `min_cases`; drain.

    `providers` are (provider id, webhook url) pairs, used in turn. Returns the number
    of cases started.
    """
    rng = random.Random(seed)
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[None]] = []
    provider_cycle = itertools.cycle(providers)

    async def one(script: CaseScript) -> None:
        try:
            await script.run()
        finally:
            gate.release()

    for n in itertools.count():
        if n >= max_cases or (n >= min_cases and until()):
            break
        await gate.acquire()
        provider_id, url = next(provider_cycle)
        script = CaseScript(
            driver, paths(1, rng)[0], provider_id, url, random.Random(rng.getrandbits(32))
        )
        tasks.append(asyncio.create_task(one(script)))
    await asyncio.gather(*tasks)
    return len(tasks)


async def under_faults(faults: asyncio.Task[Any], load: Coroutine[Any, Any, T]) -> T:
    """Run `load` while `faults` injects; if the injection itself fails, stop at once."""
    load_task = asyncio.create_task(load)

    def abort(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            load_task.cancel()

    faults.add_done_callback(abort)
    try:
        result = await load_task
    except asyncio.CancelledError:
        faults.result()  # the injection's own error, if that is why
        raise
    await faults
    return result
