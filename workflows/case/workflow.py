"""CaseWorkflow: the process manager of one client's case, workflow id `case-<case_id>`.

Here, the run: `__init__` decides the run's patches (PATCH_DECIDED_AT_START); `run` opens
the case (or carries on from a snapshot), then loops: sleep until something is to do or
the next timed rule falls due (cases/schedule.py), commit what fell due, start the
dispatches queued, and end a closed case or continue as new when the history is long (or
a forgotten client's run sheds it). Also the `case` Query, the Updates that carry no
command (`sync`, `shed_history`) and the provider's Signal. The command Updates, the
commit protocol and the side effects are the mixins of updates.py, commit.py and
effects.py (the package's docstring has the layout).

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.case.commit import CommitMixin
from workflows.case.core import CaseInput, CommandResult, ShedReply
from workflows.case.effects import EffectsMixin
from workflows.case.patches import (
    PATCH_DECIDED_AT_START,
    PATCH_KEEP_TIMER,
    PATCH_SHED_HISTORY,
    PATCH_SHORTER_RUNS,
)
from workflows.case.updates import CommandsMixin, table_updates

with workflow.unsafe.imports_passed_through():
    from cases import commands as c
    from cases import schedule
    from cases.actors import SYSTEM_ACTOR
    from cases.command_table import entry_for
    from cases.state import CaseState

if TYPE_CHECKING:
    from temporalio.workflow import UpdateMethodMultiParam

CONTINUE_AS_NEW_AFTER = 1_000
"""History events after which the case continues as new (the server may suggest sooner):
125-165 contacts (6-8 events each), two to three years of weekly ones (PATCH_SHORTER_RUNS)."""

LEGACY_CONTINUE_AS_NEW_AFTER = 4_000
"""The limit of runs started before PATCH_SHORTER_RUNS."""

REOPEN_WINDOW = timedelta(minutes=5)
"""How long a closed case started again waits for its `reopen` update."""


@workflow.defn(name="CaseWorkflow")
@table_updates
class CaseWorkflow(CommandsMixin, CommitMixin, EffectsMixin):
    """One client's case. Every command of the table is an Update of the same name
    (`table_updates`), beside `sync`, `shed_history`, the `case` Query and the
    `provider_replied` Signal."""

    if TYPE_CHECKING:
        # Made from the table by `table_updates`; named here for type checkers, for the
        # clients that pass them by reference (application/policies.py, case_client.py).
        apply_policy: UpdateMethodMultiParam[[CaseWorkflow, c.ApplyPolicy], CommandResult]
        reopen: UpdateMethodMultiParam[[CaseWorkflow, c.Reopen], CommandResult]

    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self.state = input.snapshot
        self._lock = asyncio.Lock()
        self._dispatch_queue = list(input.dispatches)
        self._dispatching = {}
        self.policy = input.policy
        self._rearm = False
        self._timed_enabled = None
        self._local_enabled = None
        self._registry = None
        self._born_forgotten = input.snapshot is not None and input.snapshot.forgotten
        self._shed = False
        self._keep_timer = None
        self._timer = None
        self._timer_at = None
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

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._run_limit
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
