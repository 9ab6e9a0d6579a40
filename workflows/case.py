"""CaseWorkflow: the process manager of one client's case, workflow id `case-<case_id>`.

Commands arrive as Updates. Each validator runs the pure rule (cases/decide.py) on
the current state and rejects before anything enters history; the handler decides
again under the case lock, appends the events through the `append_events` local
activity (idempotent: ids from `workflow.uuid4()`), then folds them into the state.
Referrals are dispatched in the background with retries. A closed case completes;
reopening starts a new run from the state folded from the log. History stays
bounded by continue-as-new, carrying the state and any dispatch still to do.

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import (
        RETRY_POLICY as NOTIFY_RETRY,
    )
    from activities.notifications import (
        START_TO_CLOSE_TIMEOUT as NOTIFY_TIMEOUT,
    )
    from activities.notifications import DeliveryReport, EscalationNotice
    from activities.referrals import RETRY_POLICY as DISPATCH_RETRY
    from activities.referrals import DispatchReceipt, ReferralDispatch
    from activities.store import AppendReply, AppendRequest
    from cases import commands as c
    from cases import decide as rules
    from cases import schedule
    from cases.actors import SYSTEM_ACTOR, Actor
    from cases.consent import referral_payload
    from cases.evolve import evolve, open_state
    from cases.policy import DEFAULT_POLICY, Policy
    from cases.scoring import Score
    from cases.state import CaseState, CaseStatus, stream_id_for
    from events.envelope import EventMetadata, NewEvent
    from events.registry import DomainEvent
    from events.vocabulary import (
        CaseOpened,
        EscalationRaised,
        ReferralDispatched,
        ReferralDispatchFailed,
    )
    from workflows import search_attributes as sa

PATCH_APPEND_ACTIVITY = "append-as-regular-activity"
"""Events are appended by a regular activity (cases started earlier used a local one)."""

PATCH_TIMED_RULES = "timed-reviews-and-escalation"
"""Cases started before reviews and escalation existed replay without their timers."""

CONTINUE_AS_NEW_AFTER = 4_000
"""History events after which the case continues as new (the server may suggest sooner)."""

APPEND_TIMEOUT = timedelta(seconds=30)
DISPATCH_TIMEOUT = timedelta(seconds=30)
REOPEN_WINDOW = timedelta(minutes=5)
"""How long a closed case started again waits for its `reopen` update."""


class DispatchJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: str
    channel_url: str


class CaseInput(BaseModel):
    """Start a case (`open`), or carry one on (`snapshot`, after continue-as-new or to reopen)."""

    model_config = ConfigDict(extra="forbid")

    open: c.OpenCase | None = None
    snapshot: CaseState | None = None
    dispatches: list[DispatchJob] = Field(default_factory=list)
    reopening: bool = False
    """The snapshot is a closed case started again to receive a `reopen` update."""
    policy: Policy = DEFAULT_POLICY


class CommandResult(BaseModel):
    case_id: str
    stream_version: int
    status: CaseStatus
    events: list[str]
    detail: dict[str, Any] = Field(default_factory=dict)


def _validate(fn: Callable[[CaseState], object], state: CaseState | None) -> None:
    if state is None:
        raise ApplicationError("the case is not open yet", type="CommandRejected")
    try:
        fn(state)
    except rules.CommandRejected as exc:
        raise ApplicationError(str(exc), type="CommandRejected", non_retryable=True) from None


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

    # --- the run -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CaseInput) -> CaseState:
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
            if not self._state().is_open or self._history_too_long():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._dispatching
                )
                if not self._state().is_open and not self._dispatch_queue:
                    return self._state()
                if self._history_too_long():
                    workflow.continue_as_new(
                        CaseInput(
                            snapshot=self._state(),
                            dispatches=self._dispatch_queue,
                            policy=self.policy,
                        )
                    )

    def _timed(self) -> bool:
        """Reviews, escalations and follow-ups: on for every case started since they exist."""
        if self._timed_enabled is None:
            self._timed_enabled = workflow.patched(PATCH_TIMED_RULES)
        return self._timed_enabled

    async def _sleep_until_something_to_do(self) -> None:
        def ready() -> bool:
            return (
                bool(self._dispatch_queue)
                or self._history_too_long()
                or not self._state().is_open
                or self._rearm
            )

        wakeup = schedule.next_wakeup(self._state(), self.policy) if self._timed() else None
        self._rearm = False
        if wakeup is None:
            await workflow.wait_condition(ready)
            return
        delay = wakeup - workflow.now()
        if delay <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(ready, timeout=delay)

    async def _fire_due_events(self) -> None:
        """Apply every timed consequence that has fallen due (one group at a time)."""
        while self._state().is_open:
            events = schedule.due_events(self._state(), self.policy, workflow.now())
            if not events:
                return
            await self._commit(SYSTEM_ACTOR, events)

    def _state(self) -> CaseState:
        assert self.state is not None
        return self.state

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > CONTINUE_AS_NEW_AFTER
        )

    # --- committing events ------------------------------------------------------------------

    async def _open(self, cmd: c.OpenCase) -> CommandResult:
        events = rules.decide_open(cmd)
        reply = await self._append(stream_id_for(cmd.case_id), 0, cmd.actor, events)
        opened = events[0]
        assert isinstance(opened, CaseOpened)
        self.state = open_state(opened, cmd.actor.staff_id, reply.occurred_at)
        assert reply.last_version == self.state.stream_version
        if self._timed():
            follow = schedule.reactions(self.state, self.policy, events)
            if follow:
                await self._commit(SYSTEM_ACTOR, follow)
        return self._result(events)

    async def _append(
        self, stream_id: str, expected: int, actor: Actor, events: Sequence[DomainEvent]
    ) -> AppendReply:
        info = workflow.info()
        update = workflow.current_update_info()
        metadata = EventMetadata(
            actor_id=actor.staff_id,
            actor_role=actor.role.value,
            correlation_id=update.id if update else info.workflow_id,
            causation_id=update.name if update else None,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
        )
        now = workflow.now()
        request = AppendRequest(
            stream_id=stream_id,
            expected_version=expected,
            events=[
                NewEvent(
                    event_id=workflow.uuid4(),
                    event_type=event.type,
                    schema_version=event.schema_version,
                    data=event.to_data(),
                    metadata=metadata,
                    occurred_at=now,
                )
                for event in events
            ],
        )
        retry = RetryPolicy(
            initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
        )
        reply: AppendReply
        if workflow.patched(PATCH_APPEND_ACTIVITY):
            # A regular activity runs only once the decision to append is in history: a
            # worker dying before that can never leave events the workflow will decide
            # differently on its retry (a local activity could).
            reply = await workflow.execute_activity(
                "append_events",
                request,
                result_type=AppendReply,
                start_to_close_timeout=APPEND_TIMEOUT,
                retry_policy=retry,
            )
        else:
            reply = await workflow.execute_local_activity(
                "append_events",
                request,
                result_type=AppendReply,
                start_to_close_timeout=APPEND_TIMEOUT,
                retry_policy=retry,
            )
        return reply

    async def _commit(
        self, actor: Actor, events: Sequence[DomainEvent], policy_changed: bool = False
    ) -> CommandResult:
        state = self._state()
        reply = await self._append(state.stream_id, state.stream_version, actor, events)
        for event in events:
            evolve(state, event, actor.staff_id, reply.occurred_at)
        self._upsert_search_attributes()
        if self._timed():
            self._rearm = True
            for event in events:
                if isinstance(event, EscalationRaised):
                    self._start_notification(event, reply.occurred_at)
                    workflow.metric_meter().create_counter(
                        "casework_escalations_raised", "Escalations raised, by level"
                    ).add(1, {"level": str(event.level), "subject": event.subject.value})
            follow = schedule.reactions(state, self.policy, events, policy_changed)
            if follow:
                await self._commit(SYSTEM_ACTOR, follow)
        return self._result(events)

    async def _decide_and_commit(
        self, actor: Actor, decide: Callable[[CaseState], list[DomainEvent]]
    ) -> CommandResult:
        async with self._lock:
            try:
                events = decide(self._state())
            except rules.CommandRejected as exc:
                raise ApplicationError(
                    str(exc), type="CommandRejected", non_retryable=True
                ) from None
            return await self._commit(actor, events)

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
        request = ReferralDispatch(
            case_id=str(state.case_id),
            referral_id=job.referral_id,
            provider_id=referral.provider_id,
            service_id=referral.service_id,
            webhook_url=job.channel_url,
            payload=referral_payload(state, referral),
            idempotency_key=f"{state.case_id}:{job.referral_id}",
        )
        event: DomainEvent
        try:
            receipt = await workflow.execute_activity(
                "dispatch_referral",
                request,
                result_type=DispatchReceipt,
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
        try:
            async with self._lock:
                await self._commit(SYSTEM_ACTOR, [event])
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
        try:
            await workflow.execute_activity(
                "deliver_escalation",
                notice,
                result_type=DeliveryReport,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.error(
                "escalation notification failed",
                extra={"escalation_id": notice.escalation_id, "error": str(exc.cause or exc)},
            )
        finally:
            self._dispatching.pop(key, None)

    # --- queries --------------------------------------------------------------------------

    @workflow.query
    def case(self) -> CaseState | None:
        return self.state

    # --- updates: every command ---------------------------------------------------------------

    @workflow.update
    async def sync(self) -> CommandResult:
        """Wait until the case is open and all earlier commands are applied."""
        await workflow.wait_condition(lambda: self.state is not None)
        async with self._lock:
            return self._result([])

    @workflow.update
    async def record_consent(self, cmd: c.RecordConsent) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_consent(s, cmd))

    @record_consent.validator
    def _v_consent(self, cmd: c.RecordConsent) -> None:
        _validate(lambda s: rules.decide_consent(s, cmd), self.state)

    @workflow.update
    async def record_assessment(self, cmd: c.RecordAssessment) -> CommandResult:
        async with self._lock:
            try:
                rules.check_assessment(self._state(), cmd)
            except rules.CommandRejected as exc:
                raise ApplicationError(
                    str(exc), type="CommandRejected", non_retryable=True
                ) from None
            score = await workflow.execute_local_activity(
                "score_assessment",
                cmd.assessment,
                result_type=Score,
                start_to_close_timeout=timedelta(seconds=10),
            )
            events = rules.decide_assessment(self._state(), cmd, score)
            result = await self._commit(cmd.actor, events)
            result.detail = {"risk_level": score.risk_level.value, "rules": score.rules}
            return result

    @record_assessment.validator
    def _v_assessment(self, cmd: c.RecordAssessment) -> None:
        _validate(lambda s: rules.check_assessment(s, cmd), self.state)

    @workflow.update
    async def draft_plan(self, cmd: c.DraftPlan) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_draft_plan(s, cmd))

    @draft_plan.validator
    def _v_draft_plan(self, cmd: c.DraftPlan) -> None:
        _validate(lambda s: rules.decide_draft_plan(s, cmd), self.state)

    @workflow.update
    async def submit_plan(self, cmd: c.SubmitPlan) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_submit_plan(s, cmd))

    @submit_plan.validator
    def _v_submit_plan(self, cmd: c.SubmitPlan) -> None:
        _validate(lambda s: rules.decide_submit_plan(s, cmd), self.state)

    @workflow.update
    async def decide_approval(self, cmd: c.DecideApproval) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_approval(s, cmd))

    @decide_approval.validator
    def _v_decide_approval(self, cmd: c.DecideApproval) -> None:
        _validate(lambda s: rules.decide_approval(s, cmd), self.state)

    @workflow.update
    async def refer(self, cmd: c.Refer) -> CommandResult:
        result = await self._decide_and_commit(cmd.actor, lambda s: rules.decide_refer(s, cmd))
        referral_id = max(self._state().referrals, key=lambda r: int(r.rsplit("-", 1)[1]))
        self._dispatch_queue.append(
            DispatchJob(referral_id=referral_id, channel_url=str(cmd.channel_url))
        )
        result.detail = {"referral_id": referral_id}
        return result

    @refer.validator
    def _v_refer(self, cmd: c.Refer) -> None:
        _validate(lambda s: rules.decide_refer(s, cmd), self.state)

    @workflow.update
    async def referral_reply(self, cmd: c.ReferralReply) -> CommandResult:
        return await self._decide_and_commit(
            cmd.actor, lambda s: rules.decide_referral_reply(s, cmd)
        )

    @referral_reply.validator
    def _v_referral_reply(self, cmd: c.ReferralReply) -> None:
        _validate(lambda s: rules.decide_referral_reply(s, cmd), self.state)

    @workflow.signal
    async def provider_replied(self, cmd: c.ReferralReply) -> None:
        """A provider's reply from outside (fire and forget): applied if it still fits."""
        try:
            await self._decide_and_commit(cmd.actor, lambda s: rules.decide_referral_reply(s, cmd))
        except ApplicationError as exc:
            workflow.logger.warning(
                "provider reply ignored", extra={"referral_id": cmd.referral_id, "why": str(exc)}
            )

    @workflow.update
    async def provider_report(self, cmd: c.ProviderReport) -> CommandResult:
        return await self._decide_and_commit(
            cmd.actor, lambda s: rules.decide_provider_report(s, cmd)
        )

    @provider_report.validator
    def _v_provider_report(self, cmd: c.ProviderReport) -> None:
        _validate(lambda s: rules.decide_provider_report(s, cmd), self.state)

    @workflow.update
    async def log_contact(self, cmd: c.LogContact) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_contact(s, cmd))

    @log_contact.validator
    def _v_log_contact(self, cmd: c.LogContact) -> None:
        _validate(lambda s: rules.decide_contact(s, cmd), self.state)

    @workflow.update
    async def record_progress(self, cmd: c.RecordProgress) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_progress(s, cmd))

    @record_progress.validator
    def _v_record_progress(self, cmd: c.RecordProgress) -> None:
        _validate(lambda s: rules.decide_progress(s, cmd), self.state)

    @workflow.update
    async def evaluate(self, cmd: c.Evaluate) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_evaluate(s, cmd))

    @evaluate.validator
    def _v_evaluate(self, cmd: c.Evaluate) -> None:
        _validate(lambda s: rules.decide_evaluate(s, cmd), self.state)

    @workflow.update
    async def assign(self, cmd: c.Assign) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_assign(s, cmd))

    @assign.validator
    def _v_assign(self, cmd: c.Assign) -> None:
        _validate(lambda s: rules.decide_assign(s, cmd), self.state)

    @workflow.update
    async def request_transfer(self, cmd: c.RequestTransfer) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_transfer(s, cmd))

    @request_transfer.validator
    def _v_request_transfer(self, cmd: c.RequestTransfer) -> None:
        _validate(lambda s: rules.decide_transfer(s, cmd), self.state)

    @workflow.update
    async def reply_transfer(self, cmd: c.ReplyTransfer) -> CommandResult:
        return await self._decide_and_commit(
            cmd.actor, lambda s: rules.decide_transfer_reply(s, cmd)
        )

    @reply_transfer.validator
    def _v_reply_transfer(self, cmd: c.ReplyTransfer) -> None:
        _validate(lambda s: rules.decide_transfer_reply(s, cmd), self.state)

    @workflow.update
    async def request_closure(self, cmd: c.RequestClosure) -> CommandResult:
        return await self._decide_and_commit(
            cmd.actor, lambda s: rules.decide_request_closure(s, cmd)
        )

    @request_closure.validator
    def _v_request_closure(self, cmd: c.RequestClosure) -> None:
        _validate(lambda s: rules.decide_request_closure(s, cmd), self.state)

    @workflow.update
    async def hold(self, cmd: c.HoldCase) -> CommandResult:
        return await self._decide_and_commit(
            cmd.actor, lambda s: rules.decide_hold(s, cmd, workflow.now())
        )

    @hold.validator
    def _v_hold(self, cmd: c.HoldCase) -> None:
        _validate(lambda s: rules.decide_hold(s, cmd, workflow.now()), self.state)

    @workflow.update
    async def resume(self, cmd: c.ResumeCase) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_resume(s, cmd))

    @resume.validator
    def _v_resume(self, cmd: c.ResumeCase) -> None:
        _validate(lambda s: rules.decide_resume(s, cmd), self.state)

    @workflow.update
    async def forget(self, cmd: c.ForgetClient) -> CommandResult:
        """The client's data key was destroyed: record it and erase the state's details."""
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_forget(s, cmd))

    @forget.validator
    def _v_forget(self, cmd: c.ForgetClient) -> None:
        _validate(lambda s: rules.decide_forget(s, cmd), self.state)

    @workflow.update
    async def apply_policy(self, cmd: c.ApplyPolicy) -> CommandResult:
        """Adopt a new agency policy; the next review moves if its interval changed."""
        async with self._lock:
            self.policy = cmd.policy
            self._rearm = True
            follow = schedule.reactions(self._state(), self.policy, [], policy_changed=True)
            if follow and self._timed():
                return await self._commit(SYSTEM_ACTOR, follow)
            return self._result([])

    @apply_policy.validator
    def _v_apply_policy(self, cmd: c.ApplyPolicy) -> None:
        _validate(lambda s: rules.check_apply_policy(cmd), self.state)

    @workflow.update
    async def reopen(self, cmd: c.Reopen) -> CommandResult:
        return await self._decide_and_commit(cmd.actor, lambda s: rules.decide_reopen(s, cmd))

    @reopen.validator
    def _v_reopen(self, cmd: c.Reopen) -> None:
        _validate(lambda s: rules.decide_reopen(s, cmd), self.state)
