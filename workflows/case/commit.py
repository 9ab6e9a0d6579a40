"""The case workflow's commit protocol: how decided events reach the log and the state.

A command's events, with everything they set off at once (cases/batch.py), go to the
log in ONE append, then are folded into the state (`_apply`). Since PATCH_LOCAL_APPEND
the append is a local activity (`append_command`) in the workflow task that decided the
events, their ids derived from a stable key (the update's id, a referral's dispatch, the
open); when the log is ahead of the state (a worker lost after its append, before its
workflow task completed) the workflow folds what it missed (`_catch_up`) and takes its
first attempt's events from the log, or decides again. Runs started before the patches
keep their older paths (a regular activity; one append per group of reactions).

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.case.core import CaseCore, CommandResult
from workflows.case.patches import PATCH_APPEND_ACTIVITY, PATCH_LOCAL_APPEND, PATCH_ONE_APPEND

with workflow.unsafe.imports_passed_through():
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
    from cases.evolve import evolve, open_state
    from cases.features import PROVIDER_NOTICES
    from cases.state import stream_id_for
    from events.catalog import default_registry
    from events.envelope import EventMetadata, NewEvent
    from events.registry import DomainEvent
    from events.vocabulary import ActionReminderDue, CaseOpened, EscalationRaised, ReferralMade

EVENT_ID_NAMESPACE = uuid.UUID("6f1c5a2e-3b7d-4c1e-9a55-0c2f1e7d9b40")
"""Namespace of the event ids derived from a command's key (uuid5)."""

MAX_CATCH_UPS = 5
"""Appends a commit tries, catching up with the log between them, before it fails its
workflow task (to be retried): the log only moves ahead by a lost task's append."""

APPEND_TIMEOUT = timedelta(seconds=30)


class CommitMixin(CaseCore):
    """Open the case, commit events (append, then apply), catch up with the log."""

    async def _open(self, cmd: c.OpenCase) -> CommandResult:
        events = rules.decide_open(cmd)
        opened = events[0]
        assert isinstance(opened, CaseOpened)
        if not self._patched(PATCH_ONE_APPEND):
            return await self._open_one_group_at_a_time(cmd, opened, events)
        # The opening alone in its group (the state starts from it); what the opening
        # records beside it (ClientMatchesReviewed) is folded as the next group. A case
        # opened without it (every case before the duplicate check) has one group, as
        # its history recorded.
        groups: Batch = [(cmd.actor, events[:1])]
        if events[1:]:
            groups.append((cmd.actor, events[1:]))
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
            if (
                isinstance(event, EscalationRaised | ActionReminderDue)
                or type(event) in PROVIDER_NOTICES
            ) and self._timed():
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
