"""What every part of the case workflow shares: its input and answers, and `CaseCore`,
the state of a run and the few helpers each part uses (the patches decided, the state,
a command's result, the search attributes).

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.case.patches import PATCH_TIMED_RULES

with workflow.unsafe.imports_passed_through():
    from cases import commands as c
    from cases.actors import Actor
    from cases.policy import DEFAULT_POLICY, Policy
    from cases.state import CaseState, CaseStatus
    from events.registry import DomainEvent, EventRegistry
    from workflows import search_attributes as sa


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


class CaseCore:
    """The state of a case's run, set in `CaseWorkflow.__init__` (workflows/case/workflow.py),
    and what the run loop, the commit protocol, the side effects and the commands share."""

    state: CaseState | None
    policy: Policy
    _lock: asyncio.Lock
    _dispatch_queue: list[DispatchJob]
    """Referrals to dispatch; the run loop starts them."""
    _dispatching: dict[str, asyncio.Task[None]]
    """In flight, by key: dispatches (the referral id) and notifications."""
    _rearm: bool
    """The next wakeup may have moved: the run loop sleeps again."""
    _timed_enabled: bool | None
    _local_enabled: bool | None
    _registry: EventRegistry | None
    _born_forgotten: bool
    _shed: bool
    _keep_timer: bool | None
    _timer: asyncio.Task[None] | None
    _timer_at: datetime | None
    _run_limit: int
    _current: bool
    """The run was started since PATCH_DECIDED_AT_START: it takes every newer path."""

    _last_attributes: tuple[str, ...] | None = None

    if TYPE_CHECKING:
        # Defined by the parts (workflows/case/commit.py, effects.py), used by the others.
        async def _commit_events(
            self,
            actor: Actor,
            events: Sequence[DomainEvent],
            policy_changed: bool = False,
            *,
            again: Callable[[], Sequence[DomainEvent]] | None = None,
            key: str | None = None,
        ) -> tuple[CommandResult, list[DomainEvent]]: ...

        def _escalations_raised(
            self, events: Sequence[DomainEvent], raised_at: datetime
        ) -> None: ...

        def _dispatch_folded(self, referral_ids: Sequence[str]) -> None: ...

        def _queue_dispatch(self, job: DispatchJob) -> None: ...

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

    def _state(self) -> CaseState:
        assert self.state is not None
        return self.state

    def _result(self, events: Sequence[DomainEvent], **detail: Any) -> CommandResult:
        state = self._state()
        return CommandResult(
            case_id=str(state.case_id),
            stream_version=state.stream_version,
            status=state.status,
            events=[e.type for e in events],
            detail=detail,
        )

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
