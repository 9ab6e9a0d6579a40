"""CaseWorkflow: the process manager of one client's case, workflow id `case-<case_id>`.

Commands arrive as Updates, one per command type, each a thin alias of ONE generic
handler and ONE generic validator that dispatch through the command table
(cases/command_table.py). The validator runs the pure rule (cases/decide.py) on the
current state and rejects before anything enters history; the handler decides again
under the case lock and appends the command's events, together with everything they
set off at once (a review rescheduled, escalations resolved: cases/batch.py), in ONE
call of the `append_events` activity — a regular activity, idempotent: ids from
`workflow.uuid4()` — then folds them into the state. Referrals are dispatched in the
background with retries. A closed case completes; reopening starts a new run from the
state folded from the log. History stays bounded by continue-as-new, carrying the
state and any dispatch still to do.

Cases started before a change keep replaying through `workflow.patched`: a local
append activity (PATCH_APPEND_ACTIVITY), no timers (PATCH_TIMED_RULES), one append
per group of reactions (PATCH_ONE_APPEND).

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.assessment import score_assessment
    from activities.directory import DirectoryActivities
    from activities.notifications import (
        RETRY_POLICY as NOTIFY_RETRY,
    )
    from activities.notifications import (
        START_TO_CLOSE_TIMEOUT as NOTIFY_TIMEOUT,
    )
    from activities.notifications import (
        EscalationNotice,
        NotificationActivities,
        ReminderNotice,
    )
    from activities.referrals import RETRY_POLICY as DISPATCH_RETRY
    from activities.referrals import ReferralActivities, ReferralDispatch
    from activities.store import (
        AppendReply,
        AppendRequest,
        CommandAppendReply,
        LoggedEvent,
        StoreActivities,
    )
    from cases import commands as c
    from cases import decide as rules
    from cases import schedule
    from cases.actors import SYSTEM_ACTOR, Actor
    from cases.batch import Batch, batch, follow_ups
    from cases.command_table import CaseCommand, Decide, entry_for
    from cases.consent import late_dispatch_refusal, referral_payload
    from cases.evolve import evolve, open_state
    from cases.policy import DEFAULT_POLICY, Policy
    from cases.state import CaseState, CaseStatus, ReferralStatus, stream_id_for
    from events.catalog import default_registry
    from events.envelope import EventMetadata, NewEvent
    from events.registry import DomainEvent, EventRegistry
    from events.vocabulary import (
        ActionReminderDue,
        CaseOpened,
        EscalationRaised,
        ReferralDispatched,
        ReferralDispatchFailed,
        ReferralMade,
    )
    from workflows import search_attributes as sa

if TYPE_CHECKING:
    from temporalio.workflow import UpdateMethodMultiParam

PATCH_APPEND_ACTIVITY = "append-as-regular-activity"
"""Events are appended by a regular activity (cases started earlier used a local one)."""

PATCH_TIMED_RULES = "timed-reviews-and-escalation"
"""Cases started before reviews and escalation existed replay without their timers."""

PATCH_ONE_APPEND = "one-append-per-command"
"""A command's events and the reactions they set off go to the log in one append (cases
started earlier appended each group of reactions on its own, one activity each)."""

PATCH_LOCAL_APPEND = "local-append-log-is-truth"
"""A command's events are appended by a LOCAL activity in the workflow task that decided
them (`append_command`): one workflow task per command, no activity task. Event ids are
derived from the update id (or another stable key), and when the log is ahead of the
workflow (a worker lost after a commit, before its task completed) the workflow folds
what it missed and takes its first attempt's events, or decides again. Cases started
earlier append by a regular activity (PATCH_APPEND_ACTIVITY)."""

PATCH_SHED_HISTORY = "forgotten-client-sheds-history"
"""The `shed_history` Update: a case whose client was forgotten during its run continues as
new from its erased state, so the run holding the personal data can be deleted from
Temporal (application/forget.py). Only runs that receive the Update take the new path."""

PATCH_KEEP_TIMER = "keep-wakeup-timer-until-sooner"
"""The wakeup timer (reviews, escalations, follow-ups) is kept while the next wakeup is not
sooner than it: a command that moves the wakeup later no longer cancels and starts a timer
(two history events and two timer tasks a command); the kept timer, firing early, finds
nothing due and the next sleep starts one for the rest. Cases started earlier replay with
a timer per sleep."""

PATCH_DISPATCH_FOLDED = "dispatch-referrals-folded-from-the-log"
"""A referral the workflow folded from the log (a worker lost after appending it, its
`Refer` never sent again, so the channel in the command never seen) is dispatched to the
provider's channel as the resource directory has it then, or recorded as failed when
the provider has none. Before, it stayed `made` and was never sent."""

PATCH_REMINDERS_DELIVERED = "action-reminders-delivered"
"""An `ActionReminderDue` is delivered to the action's worker (their inbox, and their
webhook when they have one), as escalations are. Before, the reminder was only in the
log and the read models."""

PATCH_NEWEST_POLICY_STAYS = "an-older-policy-never-replaces-a-newer"
"""An `apply_policy` whose version is older than the case's policy is refused (an apply
overtaken by a newer one, both in flight): the newer policy stays. The validator refuses
it before it is accepted; this covers the two updates being accepted together."""

PATCH_SHORTER_RUNS = "continue-as-new-after-1000-events"
"""A run continues as new after CONTINUE_AS_NEW_AFTER (1,000) history events instead of
LEGACY_CONTINUE_AS_NEW_AFTER (4,000): a worker that lost the case from its cache replays at
most a quarter as much (a 4,000-event replay took 8-15 s on a loaded machine). Runs
started earlier keep their limit; the runs they continue as new take the new one."""

PATCH_DECIDED_AT_START = "every-patch-decided-at-run-start"
"""Every patch above is decided ONCE, in the run's first workflow task: a run started since
records this one marker and takes every newer path, calling no other `workflow.patched`.

Why: `workflow.patched` answers True on a replay only when its marker is in the workflow
task being replayed. Called after a local activity (a reminder folded into `_apply`, a
referral folded from the log, a handler that waited for the lock an append held), the
call's workflow task is not fixed: when the activity's result reached the workflow in the
task AFTER the one that recorded its marker (a timer- or signal-driven append does), the
original run recorded the patch marker one task later than a replay, which resolves the
result at once, calls it. The replay then answered False, and the marker it met next
failed it: "[TMPRL1100] Non-deprecated patch marker encountered for change
action-reminders-delivered" on every query of a case no longer cached, and a case stuck
for good after a worker restart (workflows/patches.py has the record)."""

EVENT_ID_NAMESPACE = uuid.UUID("6f1c5a2e-3b7d-4c1e-9a55-0c2f1e7d9b40")
"""Namespace of the event ids derived from a command's key (uuid5)."""

MAX_CATCH_UPS = 5
"""Appends a commit tries, catching up with the log between them, before it fails its
workflow task (to be retried): the log only moves ahead by a lost task's append."""

CONTINUE_AS_NEW_AFTER = 1_000
"""History events after which the case continues as new (the server may suggest sooner):
125-165 contacts (6-8 events each), two to three years of weekly ones (PATCH_SHORTER_RUNS)."""

LEGACY_CONTINUE_AS_NEW_AFTER = 4_000
"""The limit of runs started before PATCH_SHORTER_RUNS."""

APPEND_TIMEOUT = timedelta(seconds=30)
DISPATCH_TIMEOUT = timedelta(seconds=30)
LOOKUP_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
"""A folded referral's channel lookup: bounded, so a broken directory read ends in
`ReferralDispatchFailed` instead of holding the case's dispatches open for good."""
SCORE_TIMEOUT = timedelta(seconds=10)
REOPEN_WINDOW = timedelta(minutes=5)
"""How long a closed case started again waits for its `reopen` update."""

C = TypeVar("C", bound=c.Command)


class DispatchJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: str
    channel_url: str | None = None
    """The channel the `Refer` named; None for a referral folded from the log, whose
    provider's channel is looked up in the resource directory when it is dispatched."""


class CaseInput(BaseModel):
    """Start a case (`open`), or carry one on (`snapshot`, after continue-as-new or to reopen)."""

    model_config = ConfigDict(extra="forbid")

    open: c.OpenCase | None = None
    snapshot: CaseState | None = None
    dispatches: list[DispatchJob] = Field(default_factory=list)
    reopening: bool = False
    """The snapshot is a closed case started again to receive a `reopen` update."""
    policy: Policy = DEFAULT_POLICY


class ShedReply(BaseModel):
    """The answer of `shed_history`."""

    run_id: str
    """The run that answered."""
    holds_personal_data: bool
    """This run's history holds personal data of a client since forgotten: it was not
    started from an erased state (it must be deleted once it has ended or moved on)."""
    continues_as_new: bool
    """True: this run continues as new from the erased state (then it can be deleted).
    False: it does not (nothing to shed; or the case is closed, and the run ends)."""


class CommandResult(BaseModel):
    case_id: str
    stream_version: int
    status: CaseStatus
    events: list[str]
    detail: dict[str, Any] = Field(default_factory=dict)


def _rejected(exc: rules.CommandRejected) -> ApplicationError:
    return ApplicationError(str(exc), type="CommandRejected", non_retryable=True)


def command_update(command: type[C]) -> UpdateMethodMultiParam[[CaseWorkflow, C], CommandResult]:
    """The Update that carries `command`: named as in the command table, typed with the
    command's model (payloads are validated against it, naming the field on a refusal),
    handled by `CaseWorkflow.execute_command` and validated by `CaseWorkflow.validate_command`.

    Built when the class is defined, so every worker registers the same Updates.
    """
    entry = entry_for(command)

    async def handler(self: CaseWorkflow, cmd: C) -> CommandResult:
        return await self.execute_command(entry, cmd)

    def validator(self: CaseWorkflow, cmd: C) -> None:
        self.validate_command(entry, cmd)

    # The SDK reads the argument's type from the annotations: the command's model.
    handler.__annotations__ = {"cmd": command, "return": CommandResult}
    validator.__annotations__ = {"cmd": command, "return": None}
    handler.__name__ = entry.update
    handler.__qualname__ = f"CaseWorkflow.{entry.update}"
    validator.__name__ = f"validate_{entry.update}"
    validator.__qualname__ = f"CaseWorkflow.validate_{entry.update}"
    handler.__doc__ = command.__doc__ or f"Carry a {command.__name__} command."
    update = workflow.update(handler)  # named after handler.__name__: the Update's name
    update.validator(validator)
    return update


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self.state: CaseState | None = input.snapshot
        self._lock = asyncio.Lock()
        self._dispatch_queue: list[DispatchJob] = list(input.dispatches)
        self._dispatching: dict[str, asyncio.Task[None]] = {}
        self.policy: Policy = input.policy
        self._rearm = False
        self._timed_enabled: bool | None = None
        self._local_enabled: bool | None = None
        self._registry: EventRegistry | None = None
        self._born_forgotten = input.snapshot is not None and input.snapshot.forgotten
        self._shed = False
        self._keep_timer: bool | None = None
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None
        self._run_limit = LEGACY_CONTINUE_AS_NEW_AFTER
        # Here, in the run's first workflow task, whatever handler or timer comes first.
        self._current = workflow.patched(PATCH_DECIDED_AT_START)

    # --- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CaseInput) -> CaseState:
        if self._patched(PATCH_SHORTER_RUNS):
            self._run_limit = CONTINUE_AS_NEW_AFTER
        if self.state is None:
            if input.open is None:
                raise ApplicationError("CaseInput needs `open` or `snapshot`", non_retryable=True)
            async with self._lock:
                await self._open(input.open)
        assert self.state is not None
        if input.reopening:
            try:
                await workflow.wait_condition(lambda: self._state().is_open, timeout=REOPEN_WINDOW)
            except TimeoutError:
                return self._state()
        self._upsert_search_attributes(force=True)
        while True:
            await self._sleep_until_something_to_do()
            if self._timed():
                async with self._lock:
                    await self._fire_due_events()
            while self._dispatch_queue:
                job = self._dispatch_queue.pop(0)
                self._dispatching[job.referral_id] = asyncio.create_task(self._dispatch(job))
            if not self._state().is_open or self._history_too_long() or self._shed:
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._dispatching
                )
                if not self._state().is_open and not self._dispatch_queue:
                    return self._state()
                if self._history_too_long() or self._shed:
                    workflow.continue_as_new(
                        CaseInput(
                            snapshot=self._state(),
                            dispatches=self._dispatch_queue,
                            policy=self.policy,
                        )
                    )

    def _patched(self, patch_id: str) -> bool:
        """Take the newer path of `patch_id` (one of the patches older than
        PATCH_DECIDED_AT_START)? Always, on a run started since it (no marker recorded);
        else as `workflow.patched` decides, where the code first meets it, as the run's
        history was recorded. A newer patch is decided in `__init__`, never here."""
        return self._current or workflow.patched(patch_id)

    def _timed(self) -> bool:
        """Reviews, escalations and follow-ups: on for every case started since they exist."""
        if self._timed_enabled is None:
            self._timed_enabled = self._patched(PATCH_TIMED_RULES)
        return self._timed_enabled

    async def _sleep_until_something_to_do(self) -> None:
        def ready() -> bool:
            return (
                bool(self._dispatch_queue)
                or self._history_too_long()
                or not self._state().is_open
                or self._rearm
                or self._shed
            )

        wakeup = schedule.next_wakeup(self._state(), self.policy) if self._timed() else None
        self._rearm = False
        if self._keep_timer is None:
            self._keep_timer = self._patched(PATCH_KEEP_TIMER)
        if self._keep_timer:
            await self._sleep_on_kept_timer(ready, wakeup)
            return
        if wakeup is None:
            await workflow.wait_condition(ready)
            return
        delay = wakeup - workflow.now()
        if delay <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(ready, timeout=delay)

    async def _sleep_on_kept_timer(
        self, ready: Callable[[], bool], wakeup: datetime | None
    ) -> None:
        """Sleep until `ready` or `wakeup` (PATCH_KEEP_TIMER): a running timer due no later
        than `wakeup` is kept (firing early is harmless: nothing is due yet, and the next
        sleep starts a timer for the rest); one due later than `wakeup` is replaced."""
        if wakeup is not None:
            delay = wakeup - workflow.now()
            if delay <= timedelta(0):
                return
            timer_at = self._timer_at
            if self._timer is None or self._timer.done() or timer_at is None or wakeup < timer_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = asyncio.create_task(workflow.sleep(delay))
                self._timer_at = wakeup
        timer = self._timer
        await workflow.wait_condition(lambda: ready() or (timer is not None and timer.done()))
        if timer is not None and timer.done():
            self._timer = self._timer_at = None

    async def _fire_due_events(self) -> None:
        """Apply every timed consequence that has fallen due, one group at a time (each group
        appended with what it sets off at once)."""
        while self._state().is_open:
            events = schedule.due_events(self._state(), self.policy, workflow.now())
            if not events:
                return
            await self._commit_events(
                SYSTEM_ACTOR,
                events,
                again=lambda: schedule.due_events(self._state(), self.policy, workflow.now()),
            )

    def _state(self) -> CaseState:
        assert self.state is not None
        return self.state

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._run_limit
        )

    # --- committing events ------------------------------------------------------------------

    async def _open(self, cmd: c.OpenCase) -> CommandResult:
        events = rules.decide_open(cmd)
        opened = events[0]
        assert isinstance(opened, CaseOpened)
        if not self._patched(PATCH_ONE_APPEND):
            return await self._open_one_group_at_a_time(cmd, opened, events)
        groups: Batch = [(cmd.actor, events)]
        if self._timed():
            trial = open_state(opened, cmd.actor.staff_id, workflow.now())
            follow = follow_ups(trial, self.policy, events, workflow.now())
            groups += [(SYSTEM_ACTOR, group) for group in follow]
        if self._local_append():
            request = self._request(stream_id_for(cmd.case_id), 0, groups, key="open")
            logged = await self._append_command(request)
            if isinstance(logged, list):
                # An earlier attempt of this very open is in the log: the state is its fold.
                if not logged:
                    raise RuntimeError(f"{request.stream_id} was opened by another workflow")
                return self._done_before(logged, cmd.actor)[0]
            reply = logged
        else:
            reply = await self._append(stream_id_for(cmd.case_id), 0, groups)
        self.state = open_state(opened, cmd.actor.staff_id, reply.occurred_at)
        self._apply(groups[1:], reply)
        return self._result(events)

    async def _open_one_group_at_a_time(
        self, cmd: c.OpenCase, opened: CaseOpened, events: list[DomainEvent]
    ) -> CommandResult:
        """How cases started before PATCH_ONE_APPEND opened (their histories replay so)."""
        reply = await self._append(stream_id_for(cmd.case_id), 0, [(cmd.actor, events)])
        self.state = open_state(opened, cmd.actor.staff_id, reply.occurred_at)
        assert reply.last_version == self.state.stream_version
        if self._timed():
            follow = schedule.reactions(self.state, self.policy, events)
            if follow:
                await self._commit_one_group(SYSTEM_ACTOR, follow)
        return self._result(events)

    def _local_append(self) -> bool:
        """Appends by a local activity, the log the truth (PATCH_LOCAL_APPEND): on for
        every case started since; decided once per run, at its first append."""
        if self._local_enabled is None:
            self._local_enabled = self._patched(PATCH_LOCAL_APPEND)
        return self._local_enabled

    async def _append(self, stream_id: str, expected: int, groups: Batch) -> AppendReply:
        """Append the groups of events in one atomic append, each with its actor's metadata."""
        request = self._request(stream_id, expected, groups)
        retry = RetryPolicy(
            initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
        )
        if self._patched(PATCH_APPEND_ACTIVITY):
            # A regular activity runs only once the decision to append is in history: a
            # worker dying before that can never leave events the workflow will decide
            # differently on its retry (a local activity could: PATCH_LOCAL_APPEND
            # catches up with the log instead).
            return await workflow.execute_activity_method(
                StoreActivities.append_events,
                request,
                start_to_close_timeout=APPEND_TIMEOUT,
                retry_policy=retry,
            )
        return await workflow.execute_local_activity_method(
            StoreActivities.append_events,
            request,
            start_to_close_timeout=APPEND_TIMEOUT,
            retry_policy=retry,
        )

    def _request(
        self, stream_id: str, expected: int, groups: Batch, key: str | None = None
    ) -> AppendRequest:
        """The append of `groups`, each with its actor's metadata.

        Event ids: with a `key` (stable across attempts of the same decision: the update
        id, a referral's dispatch, the open), uuid5 of the workflow id, the key and the
        event's place in the append, so a retried command re-appends the very same ids;
        else `workflow.uuid4()`.
        """
        info = workflow.info()
        update = workflow.current_update_info()
        now = workflow.now()
        events: list[NewEvent] = []
        n = 0
        for actor, group in groups:
            metadata = EventMetadata(
                actor_id=actor.staff_id,
                actor_role=actor.role.value,
                correlation_id=update.id if update else info.workflow_id,
                causation_id=update.name if update else None,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
            )
            for event in group:
                n += 1
                event_id = (
                    uuid.uuid5(EVENT_ID_NAMESPACE, f"{info.workflow_id}/{key}/{n}")
                    if key is not None
                    else workflow.uuid4()
                )
                events.append(
                    NewEvent(
                        event_id=event_id,
                        event_type=event.type,
                        schema_version=event.schema_version,
                        data=event.to_data(),
                        metadata=metadata,
                        occurred_at=now,
                    )
                )
        return AppendRequest(stream_id=stream_id, expected_version=expected, events=events, key=key)

    async def _append_command(self, request: AppendRequest) -> AppendReply | list[LoggedEvent]:
        """Append by the local activity. Appended: its reply. The log ahead of the state:
        fold what the workflow missed, then the request's own events if an earlier attempt
        already wrote them (the command is done), else an empty list (decide again)."""
        reply: CommandAppendReply = await workflow.execute_local_activity_method(
            StoreActivities.append_command,
            request,
            start_to_close_timeout=APPEND_TIMEOUT,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                maximum_interval=timedelta(seconds=10),
            ),
        )
        if reply.appended is not None:
            return reply.appended
        self._catch_up(reply.behind)
        if self.state is None:
            raise RuntimeError("the log holds no CaseOpened for this case to catch up from")
        return reply.already

    def _catch_up(self, logged: Sequence[LoggedEvent]) -> None:
        """Fold events the log holds and the workflow has not seen (appended by a worker
        lost before its workflow task completed): the log is the truth."""
        if not logged:
            return
        if self._registry is None:
            self._registry = default_registry()
        folded_referrals: list[str] = []
        for item in logged:
            event = self._registry.decode(item.event_type, item.schema_version, item.data)
            if self.state is None:
                if not isinstance(event, CaseOpened):
                    raise RuntimeError(f"the stream starts with {event.type}, not CaseOpened")
                self.state = open_state(event, item.actor_id, item.occurred_at)
            else:
                evolve(self.state, event, item.actor_id, item.occurred_at)
            if self.state.stream_version != item.stream_version:
                raise RuntimeError(
                    f"caught up to version {self.state.stream_version}, the log says "
                    f"{item.stream_version}"
                )
            if isinstance(event, EscalationRaised | ActionReminderDue) and self._timed():
                self._escalations_raised([event], item.occurred_at)
            if isinstance(event, ReferralMade):
                folded_referrals.append(event.referral_id)
        self._dispatch_folded(folded_referrals)
        self._upsert_search_attributes()
        if self._timed():
            self._rearm = True
        workflow.metric_meter().create_counter(
            "casework_log_catch_ups", "Times a case folded events its workflow had not seen"
        ).add(1)

    def _dispatch_folded(self, referral_ids: Sequence[str]) -> None:
        """Queue the dispatch of referrals folded from the log and not yet sent
        (PATCH_DISPATCH_FOLDED); their channel is looked up when they go out."""
        state = self._state()
        queued = {job.referral_id for job in self._dispatch_queue} | set(self._dispatching)
        unsent = [
            referral_id
            for referral_id in referral_ids
            if referral_id not in queued
            and state.referrals[referral_id].status is ReferralStatus.MADE
        ]
        if unsent and self._patched(PATCH_DISPATCH_FOLDED):
            self._dispatch_queue.extend(DispatchJob(referral_id=r) for r in unsent)

    def _queue_dispatch(self, job: DispatchJob) -> None:
        """Queue a command's referral for dispatch, in place of the same referral queued
        from the log (the command's channel wins); nothing if it is already going out."""
        if job.referral_id in self._dispatching:
            return
        self._dispatch_queue[:] = [
            j for j in self._dispatch_queue if j.referral_id != job.referral_id
        ] + [job]

    def _done_before(
        self, logged: Sequence[LoggedEvent], actor: Actor
    ) -> tuple[CommandResult, list[DomainEvent]]:
        """The result of an append an earlier attempt wrote: its events of `actor`, and the
        stream version it left (as the first attempt would have answered)."""
        mine = self._decoded(logged, actor)
        result = self._result(mine)
        result.stream_version = max(item.stream_version for item in logged)
        return result, mine

    def _decoded(self, logged: Sequence[LoggedEvent], actor: Actor) -> list[DomainEvent]:
        """The events of `actor` among `logged` (a command's own, without the system's
        reactions), as vocabulary models."""
        if self._registry is None:
            self._registry = default_registry()
        return [
            self._registry.decode(item.event_type, item.schema_version, item.data)
            for item in logged
            if item.actor_id == actor.staff_id
        ]

    async def _commit(
        self, actor: Actor, events: Sequence[DomainEvent], policy_changed: bool = False
    ) -> CommandResult:
        """Append `events` (by `actor`) and what they set off at once, then apply them.

        The result lists the first group appended: the command's own events, or for a
        command with none of its own (a policy change) the reactions it set off.
        """
        result, _ = await self._commit_events(actor, events, policy_changed)
        return result

    async def _commit_events(
        self,
        actor: Actor,
        events: Sequence[DomainEvent],
        policy_changed: bool = False,
        *,
        again: Callable[[], Sequence[DomainEvent]] | None = None,
        key: str | None = None,
    ) -> tuple[CommandResult, list[DomainEvent]]:
        """`_commit`, and the events of `actor` it committed.

        On the local-append path, when the log is ahead of the state the workflow folds
        it, then takes the command's events from the log if an earlier attempt wrote them,
        else decides again (`again`, or the same `events`) on the caught-up state. `key`
        names the decision across attempts (event ids derive from it); an update's id by
        default.
        """
        if not self._patched(PATCH_ONE_APPEND):
            result = await self._commit_one_group_at_a_time(actor, events, policy_changed)
            return result, list(events)
        if not self._local_append():
            return await self._commit_remote(actor, events, policy_changed)
        if key is None:
            update = workflow.current_update_info()
            key = f"update/{update.id}" if update is not None else None
        for attempt in range(MAX_CATCH_UPS):
            if attempt:
                events = again() if again is not None else events
            state = self._state()
            groups = batch(
                state,
                self.policy,
                actor,
                events,
                workflow.now(),
                react=self._timed(),
                policy_changed=policy_changed,
            )
            if not groups:
                return self._result([]), []
            request = self._request(state.stream_id, state.stream_version, groups, key=key)
            logged = await self._append_command(request)
            if isinstance(logged, AppendReply):
                self._apply(groups, logged)
                return self._result(groups[0][1]), list(events)
            if logged:
                return self._done_before(logged, actor)
        raise RuntimeError(f"the log of {self._state().stream_id} kept moving ahead")

    async def _commit_remote(
        self, actor: Actor, events: Sequence[DomainEvent], policy_changed: bool
    ) -> tuple[CommandResult, list[DomainEvent]]:
        """One append by the regular activity (cases started before PATCH_LOCAL_APPEND)."""
        state = self._state()
        groups = batch(
            state,
            self.policy,
            actor,
            events,
            workflow.now(),
            react=self._timed(),
            policy_changed=policy_changed,
        )
        if not groups:
            return self._result([]), []
        reply = await self._append(state.stream_id, state.stream_version, groups)
        self._apply(groups, reply)
        return self._result(groups[0][1]), list(events)

    def _apply(self, groups: Batch, reply: AppendReply) -> None:
        """Fold appended events into the state; search attributes, timers, notifications."""
        state = self._state()
        for actor, group in groups:
            for event in group:
                evolve(state, event, actor.staff_id, reply.occurred_at)
        assert reply.last_version == state.stream_version
        self._upsert_search_attributes()
        if self._timed():
            self._rearm = True
            for _, group in groups:
                self._escalations_raised(group, reply.occurred_at)

    def _escalations_raised(self, events: Sequence[DomainEvent], raised_at: datetime) -> None:
        """Notify the staff of what the events raised: escalations, action reminders."""
        for event in events:
            if isinstance(event, EscalationRaised):
                self._start_notification(event, raised_at)
                workflow.metric_meter().create_counter(
                    "casework_escalations_raised", "Escalations raised, by level"
                ).add(1, {"level": str(event.level), "subject": event.subject.value})
            elif isinstance(event, ActionReminderDue) and self._patched(PATCH_REMINDERS_DELIVERED):
                self._start_reminder(event, raised_at)

    async def _commit_one_group_at_a_time(
        self, actor: Actor, events: Sequence[DomainEvent], policy_changed: bool
    ) -> CommandResult:
        """How cases started before PATCH_ONE_APPEND committed (their histories replay so)."""
        if events:
            return await self._commit_one_group(actor, events, policy_changed)
        if policy_changed and self._timed():
            follow = schedule.reactions(self._state(), self.policy, [], policy_changed=True)
            if follow:
                return await self._commit_one_group(SYSTEM_ACTOR, follow)
        return self._result([])

    async def _commit_one_group(
        self, actor: Actor, events: Sequence[DomainEvent], policy_changed: bool = False
    ) -> CommandResult:
        state = self._state()
        reply = await self._append(state.stream_id, state.stream_version, [(actor, list(events))])
        for event in events:
            evolve(state, event, actor.staff_id, reply.occurred_at)
        self._upsert_search_attributes()
        if self._timed():
            self._rearm = True
            self._escalations_raised(events, reply.occurred_at)
            follow = schedule.reactions(state, self.policy, events, policy_changed)
            if follow:
                await self._commit_one_group(SYSTEM_ACTOR, follow)
        return self._result(events)

    # --- commands: one generic handler and validator, through the command table ----------

    def _decide(self, decide: Decide[Any], cmd: c.Command) -> list[DomainEvent]:
        try:
            rules.check_version(self._state(), cmd)
            return decide(self._state(), cmd, workflow.now())
        except rules.VersionConflict as exc:
            raise ApplicationError(
                str(exc), exc.current, type="VersionConflict", non_retryable=True
            ) from None
        except rules.CommandRejected as exc:
            raise _rejected(exc) from None

    def validate_command(self, entry: CaseCommand[Any], cmd: c.Command) -> None:
        """The one validator: the rule on the current state, before the Update is accepted."""
        if self.state is None:
            raise ApplicationError("the case is not open yet", type="CommandRejected")
        self._decide(entry.decide, cmd)
        if entry.adopts_policy is not None:
            self._refuse_older_policy(entry.adopts_policy(cmd))

    def _refuse_older_policy(self, policy: Policy) -> None:
        """A policy older than the case's own arrives late (an apply overtaken by a newer
        one): refused, so the newer stays. The same version again is accepted."""
        if policy.version < self.policy.version:
            raise ApplicationError(
                f"policy version {policy.version} is older than version "
                f"{self.policy.version}, which the case already follows",
                type="CommandRejected",
                non_retryable=True,
            )

    async def execute_command(self, entry: CaseCommand[Any], cmd: c.Command) -> CommandResult:
        """The one handler: decide again under the lock, commit, then what the entry asks."""
        async with self._lock:
            events = self._decide(entry.decide, cmd)
            detail: dict[str, Any] = {}

            again: Callable[[], list[DomainEvent]] = lambda: self._decide(entry.decide, cmd)  # noqa: E731
            if entry.scoring is not None:
                scoring = entry.scoring
                score = await workflow.execute_local_activity(
                    score_assessment,
                    scoring.assessment(cmd),
                    start_to_close_timeout=SCORE_TIMEOUT,
                )
                again = lambda: self._decide(  # noqa: E731
                    lambda s, cmd, _: scoring.decide(s, cmd, score), cmd
                )
                events = again()
                detail = {"risk_level": score.risk_level.value, "rules": score.rules}
            if entry.adopts_policy is not None:
                adopted = entry.adopts_policy(cmd)
                # Two applies in flight: the newer one may have been adopted meanwhile.
                if adopted.version < self.policy.version and self._patched(
                    PATCH_NEWEST_POLICY_STAYS
                ):
                    self._refuse_older_policy(adopted)
                self.policy = adopted
                self._rearm = True
            result, events = await self._commit_events(
                cmd.actor, events, policy_changed=entry.adopts_policy is not None, again=again
            )
            if entry.dispatch_to is not None:
                for event in events:
                    if isinstance(event, ReferralMade):
                        self._queue_dispatch(
                            DispatchJob(
                                referral_id=event.referral_id, channel_url=entry.dispatch_to(cmd)
                            )
                        )
                        detail["referral_id"] = event.referral_id
            result.detail = detail
            return result

    def _result(self, events: Sequence[DomainEvent], **detail: Any) -> CommandResult:
        state = self._state()
        return CommandResult(
            case_id=str(state.case_id),
            stream_version=state.stream_version,
            status=state.status,
            events=[e.type for e in events],
            detail=detail,
        )

    _last_attributes: tuple[str, ...] | None = None

    def _upsert_search_attributes(self, force: bool = False) -> None:
        state = self._state()
        due = state.next_review_due.isoformat() if state.next_review_due else ""
        values = (
            state.status.value,
            state.assigned_worker,
            state.team,
            state.risk_level or "",
            due,
        )
        if values == self._last_attributes and not force:
            return
        self._last_attributes = values
        pairs: list[SearchAttributeUpdate[Any]] = [
            sa.CASE_STATUS.value_set(state.status.value),
            sa.ASSIGNED_WORKER.value_set(state.assigned_worker),
            sa.TEAM.value_set(state.team),
        ]
        if state.risk_level is not None:
            pairs.append(sa.RISK_LEVEL.value_set(state.risk_level.value))
        if state.next_review_due is not None:
            pairs.append(sa.NEXT_REVIEW_DUE.value_set(state.next_review_due))
        elif self._last_attributes is not None and self._timed():
            pairs.append(sa.NEXT_REVIEW_DUE.value_unset())
        workflow.upsert_search_attributes(pairs)

    # --- referral dispatch ------------------------------------------------------------------

    async def _dispatch(self, job: DispatchJob) -> None:
        state = self._state()
        referral = state.referrals[job.referral_id]
        event: DomainEvent
        url = job.channel_url
        if url is None:  # folded from the log: the provider's channel as the directory has it
            refusal = late_dispatch_refusal(state, referral)
            if refusal is None:
                try:
                    url = await workflow.execute_local_activity_method(
                        DirectoryActivities.provider_channel,
                        referral.provider_id,
                        start_to_close_timeout=APPEND_TIMEOUT,
                        retry_policy=LOOKUP_RETRY,
                    )
                except ActivityError as exc:
                    refusal = f"not sent: the resource directory could not be read ({exc.cause})"
                if url is None and refusal is None:
                    refusal = f"not sent: {referral.provider_id} has no active channel"
            if url is None:
                error = (refusal or "not sent")[:200]
                failed = ReferralDispatchFailed(
                    referral_id=job.referral_id, attempts=1, error=error
                )
                await self._record_dispatch(job, failed)
                return
        request = ReferralDispatch(
            case_id=str(state.case_id),
            referral_id=job.referral_id,
            provider_id=referral.provider_id,
            service_id=referral.service_id,
            webhook_url=url,
            payload=referral_payload(state, referral),
            idempotency_key=f"{state.case_id}:{job.referral_id}",
        )
        try:
            receipt = await workflow.execute_activity_method(
                ReferralActivities.dispatch_referral,
                request,
                start_to_close_timeout=DISPATCH_TIMEOUT,
                retry_policy=DISPATCH_RETRY,
            )
            event = ReferralDispatched(
                referral_id=job.referral_id, channel=receipt.channel, attempts=receipt.attempts
            )
        except ActivityError as exc:
            cause = exc.cause
            message = str(cause.message if isinstance(cause, ApplicationError) else exc)[:200]
            attempts = DISPATCH_RETRY.maximum_attempts or 1
            if isinstance(cause, ApplicationError) and cause.details:
                detail = cause.details[0]
                if isinstance(detail, dict) and isinstance(detail.get("attempt"), int):
                    attempts = detail["attempt"]
            event = ReferralDispatchFailed(
                referral_id=job.referral_id,
                attempts=attempts,
                error=message or "dispatch failed",
            )
        await self._record_dispatch(job, event)

    async def _record_dispatch(self, job: DispatchJob, event: DomainEvent) -> None:
        try:
            async with self._lock:
                await self._commit_events(SYSTEM_ACTOR, [event], key=f"dispatch/{job.referral_id}")
        finally:
            self._dispatching.pop(job.referral_id, None)

    # --- escalation notifications ---------------------------------------------------------

    def _start_notification(self, event: EscalationRaised, raised_at: datetime) -> None:
        state = self._state()
        notice = EscalationNotice(
            case_id=str(state.case_id),
            escalation_id=event.escalation_id,
            level=event.level,
            subject=event.subject.value,
            subject_id=event.subject_id,
            notify=event.notify,
            team=event.team,
            assigned_worker=state.assigned_worker,
            reason=event.reason,
            raised_at=raised_at,
        )
        key = f"{event.escalation_id}:{event.level}"
        self._dispatching[key] = asyncio.create_task(self._notify(key, notice))

    async def _notify(self, key: str, notice: EscalationNotice) -> None:
        await self._deliver(
            key,
            NotificationActivities.deliver_escalation,
            notice,
            failed="escalation notification failed",
            about={"escalation_id": notice.escalation_id},
        )

    async def _deliver(
        self,
        key: str,
        activity: Callable[[Any, Any], Any],
        notice: BaseModel,
        *,
        failed: str,
        about: dict[str, str],
        schedule_to_close: timedelta | None = None,
    ) -> None:
        """Run a notice's delivery activity (retried per NOTIFY_RETRY); a failure is
        logged, the notice kept in the outbox; `key` leaves the in-flight set at the end."""
        try:
            await workflow.execute_activity_method(
                activity,
                notice,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                schedule_to_close_timeout=schedule_to_close,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.error(failed, extra={**about, "error": str(exc.cause or exc)})
        finally:
            self._dispatching.pop(key, None)

    def _start_reminder(self, event: ActionReminderDue, reminded_at: datetime) -> None:
        state = self._state()
        notice = ReminderNotice(
            case_id=str(state.case_id),
            action_id=event.action_id,
            due_at=event.due_at,
            worker=event.worker,
            team=state.team,
            reminded_at=reminded_at,
        )
        key = f"reminder:{event.action_id}:{event.due_at.isoformat()}"
        self._dispatching[key] = asyncio.create_task(self._remind(key, notice))

    async def _remind(self, key: str, notice: ReminderNotice) -> None:
        # Retried as escalations are, but not past the due date: then the action is overdue
        # (ActionOverdue, escalated when critical) and a reminder has nothing left to say.
        await self._deliver(
            key,
            NotificationActivities.deliver_action_reminder,
            notice,
            failed="action reminder failed",
            about={"action_id": notice.action_id},
            schedule_to_close=max(notice.due_at - workflow.now(), NOTIFY_TIMEOUT),
        )

    # --- queries --------------------------------------------------------------------------

    @workflow.query
    def case(self) -> CaseState | None:
        return self.state

    # --- updates -----------------------------------------------------------------------------

    @workflow.update
    async def sync(self) -> CommandResult:
        """Wait until the case is open and all earlier commands are applied."""
        await workflow.wait_condition(lambda: self.state is not None)
        async with self._lock:
            return self._result([])

    @workflow.update
    async def shed_history(self) -> ShedReply:
        """Leave the history holding a forgotten client's personal data behind: continue as
        new from the erased state (once every handler has finished), so that this run can
        be deleted from Temporal. Answers whether it will (see `ShedReply`)."""
        await workflow.wait_condition(lambda: self.state is not None)
        async with self._lock:
            state = self._state()
            tainted = state.forgotten and not self._born_forgotten
            sheds = tainted and state.is_open and self._patched(PATCH_SHED_HISTORY)
            self._shed = self._shed or sheds
            return ShedReply(
                run_id=workflow.info().run_id, holds_personal_data=tainted, continues_as_new=sheds
            )

    @workflow.signal
    async def provider_replied(self, cmd: c.ReferralReply) -> None:
        """A provider's reply from outside (fire and forget): applied if it still fits."""
        try:
            await self.execute_command(entry_for(c.ReferralReply), cmd)
        except ApplicationError as exc:
            workflow.logger.warning(
                "provider reply ignored", extra={"referral_id": cmd.referral_id, "why": str(exc)}
            )

    # Every command of the table, by its Update name (kept for running cases and clients).
    record_consent = command_update(c.RecordConsent)
    record_assessment = command_update(c.RecordAssessment)
    draft_plan = command_update(c.DraftPlan)
    submit_plan = command_update(c.SubmitPlan)
    decide_approval = command_update(c.DecideApproval)
    refer = command_update(c.Refer)
    referral_reply = command_update(c.ReferralReply)
    provider_report = command_update(c.ProviderReport)
    log_contact = command_update(c.LogContact)
    record_progress = command_update(c.RecordProgress)
    evaluate = command_update(c.Evaluate)
    assign = command_update(c.Assign)
    request_transfer = command_update(c.RequestTransfer)
    reply_transfer = command_update(c.ReplyTransfer)
    request_closure = command_update(c.RequestClosure)
    hold = command_update(c.HoldCase)
    resume = command_update(c.ResumeCase)
    record_note = command_update(c.RecordNote)
    add_action = command_update(c.AddAction)
    complete_action = command_update(c.CompleteAction)
    drop_action = command_update(c.DropAction)
    reassign_action = command_update(c.ReassignAction)
    open_advocacy = command_update(c.OpenAdvocacy)
    advocacy_step = command_update(c.RecordAdvocacyStep)
    conclude_advocacy = command_update(c.ConcludeAdvocacy)
    record_feedback = command_update(c.RecordFeedback)
    add_circle_member = command_update(c.AddCircleMember)
    update_circle_member = command_update(c.UpdateCircleMember)
    remove_circle_member = command_update(c.RemoveCircleMember)
    record_circle_consent = command_update(c.RecordCircleConsent)
    share_with_circle = command_update(c.ShareWithCircle)
    record_conference = command_update(c.RecordConference)
    forget = command_update(c.ForgetClient)
    apply_policy = command_update(c.ApplyPolicy)
    reopen = command_update(c.Reopen)
