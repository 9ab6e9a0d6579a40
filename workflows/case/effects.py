"""The case workflow's side effects, run in the background beside the run loop: referrals
dispatched to their providers (and the outcome appended), escalations and action
reminders delivered to the staff, and the notices a feature's events send a referral's
provider (a withdrawal, say). Each is in `_dispatching` while in flight, so a run
never ends or continues as new with one unfinished.

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.case.core import CaseCore, DispatchJob
from workflows.case.patches import PATCH_DISPATCH_FOLDED, PATCH_REMINDERS_DELIVERED

with workflow.unsafe.imports_passed_through():
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
    from activities.referrals import ProviderNotice, ReferralActivities, ReferralDispatch
    from cases.actors import SYSTEM_ACTOR
    from cases.consent import late_dispatch_refusal, referral_payload
    from cases.features import PROVIDER_NOTICES
    from cases.state import ReferralStatus
    from events.registry import DomainEvent
    from events.vocabulary import (
        ActionReminderDue,
        EscalationRaised,
        ReferralDispatched,
        ReferralDispatchFailed,
    )

DISPATCH_TIMEOUT = timedelta(seconds=30)
LOOKUP_TIMEOUT = timedelta(seconds=30)
"""A folded referral's channel lookup (the local `provider_channel` activity): as long as
an append may take (`commit.APPEND_TIMEOUT`)."""
LOOKUP_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
"""A folded referral's channel lookup: bounded, so a broken directory read ends in
`ReferralDispatchFailed` instead of holding the case's dispatches open for good."""


class EffectsMixin(CaseCore):
    """Referral dispatch, escalation notifications and action reminders."""

    # --- referral dispatch ------------------------------------------------------------------

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
                        start_to_close_timeout=LOOKUP_TIMEOUT,
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

    # --- escalation notifications and action reminders -------------------------------------

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
            elif type(event) in PROVIDER_NOTICES:
                # A feature's event its referral's provider is told of (cases/features/).
                # No patch: no history recorded before the feature holds such an event.
                self._start_provider_notice(event, PROVIDER_NOTICES[type(event)], raised_at)

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

    # --- notices to a referral's provider (cases/features/ `provider_notices`) --------------

    def _start_provider_notice(self, event: Any, kind: str, at: datetime) -> None:
        key = f"notice:{kind}:{event.referral_id}"
        if key in self._dispatching:
            return
        self._dispatching[key] = asyncio.create_task(
            self._tell_provider(key, kind, event.referral_id, event.provider_id, at)
        )

    async def _tell_provider(
        self, key: str, kind: str, referral_id: str, provider_id: str, at: datetime
    ) -> None:
        """Look up the provider's referral channel, then POST the notice (retried as a
        notification is); a failure is logged where the operator looks."""
        about = {"referral_id": referral_id, "provider_id": provider_id, "notice": kind}
        try:
            url = await workflow.execute_local_activity_method(
                DirectoryActivities.provider_channel,
                provider_id,
                start_to_close_timeout=LOOKUP_TIMEOUT,
                retry_policy=LOOKUP_RETRY,
            )
        except ActivityError as exc:
            url = None
            about["error"] = f"the resource directory could not be read ({exc.cause})"
        if url is None:
            about.setdefault("error", "the provider has no active channel")
            workflow.logger.error("provider notice not sent", extra=about)
            self._dispatching.pop(key, None)
            return
        notice = ProviderNotice(
            type=kind,
            case_id=str(self._state().case_id),
            referral_id=referral_id,
            provider_id=provider_id,
            at=at,
            webhook_url=url,
        )
        await self._deliver(
            key,
            ReferralActivities.tell_provider,
            notice,
            failed="provider notice failed",
            about=about,
        )
