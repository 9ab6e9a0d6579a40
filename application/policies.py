"""The agency policy over time: the `policy` stream, and sending a new one to open cases.

Policy changes reach running cases through the `apply_policy` update, sent to every
running case workflow when a policy is applied; new cases start with the current
policy. The stream keeps every version, with who applied it and when.

A case opened while a policy is applied reaches it one of two ways, so none keeps the
old one: started before the new version was recorded, it is listed by the second pass
that follows the recording; started after, `CaseClient.open` sees that the version it
read is no longer the newest and sends the case the new one itself.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.client import Client

from cases import commands as c
from cases.actors import SYSTEM_ACTOR, Actor, Role
from cases.policy import DEFAULT_POLICY, Policy
from events.envelope import EventMetadata
from events.store import EventStore
from events.vocabulary import PolicyApplied
from infrastructure.logs import get_logger
from workflows.case import CaseWorkflow

POLICY_STREAM = "policy"

SEND_AT_ONCE = 16
"""Open cases a policy is sent to at once: one Update each (a case takes ~30 ms), so an
agency's 100,000 open cases take minutes, not the better part of an hour one by one."""

VISIBILITY_LAG = 2.0
"""Seconds the second pass waits after the new version is recorded: a workflow started
just before is listed by Temporal's visibility store a moment after its start."""

RUNNING_CASES = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"


class PolicyRefused(PermissionError):
    pass


async def current_policy(store: EventStore) -> Policy:
    """The last applied policy, or the defaults when none was applied."""
    policy, _ = await policy_and_version(store)
    return policy


async def policy_and_version(store: EventStore) -> tuple[Policy, int]:
    """The policy in force and the version it was applied as, read at one moment: the
    defaults are version 0 (none applied; their own `version` field is no applied
    version), the first policy applied is version 1."""
    events = await store.read_stream(POLICY_STREAM)
    if not events:
        return DEFAULT_POLICY, 0
    latest = store.decode(events[-1])
    assert isinstance(latest, PolicyApplied)
    return Policy.model_validate(latest.policy), events[-1].stream_version


@dataclass(frozen=True)
class PolicyReport:
    version: int
    cases_updated: int
    cases_failed: list[str]


async def apply_policy(
    store: EventStore, client: Client, actor: Actor, policy: Policy
) -> PolicyReport:
    """Record the policy as the next version, then send it to every running case."""
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise PolicyRefused(f"{actor.staff_id} ({actor.role}) may not change the agency's policy")
    version = await store.stream_version(POLICY_STREAM)
    numbered = policy.model_copy(update={"version": version + 1})
    log = get_logger(actor=actor.staff_id, policy_version=numbered.version)
    sent: set[str] = set()
    updated, failed = await _send(client, actor, numbered, sent)
    event = PolicyApplied(  # the cases notified before it was recorded
        version=numbered.version,
        policy=numbered.model_dump(mode="json"),
        open_cases_notified=updated,
    )
    await store.append_domain(
        POLICY_STREAM,
        version,
        [(uuid.uuid4(), event)],
        EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value),
        datetime.now(UTC),
    )
    # Cases opened during the first pass with the version then in force, and not listed
    # by it: from here on every new case reads the new version (or adopts it at once).
    await asyncio.sleep(VISIBILITY_LAG)
    late = 0
    if await store.stream_version(POLICY_STREAM) == numbered.version:  # else a newer one
        try:  # the version stands recorded: a failure here is reported, not raised
            late, late_failed = await _send(client, actor, numbered, sent)
            failed += late_failed
        except Exception as exc:
            failed.append(f"cases opened while it was applied: {exc}")
    updated += late
    log.info(
        "policy applied",
        cases_updated=updated,
        cases_opened_meanwhile=late,
        cases_failed=len(failed),
    )
    return PolicyReport(version=numbered.version, cases_updated=updated, cases_failed=failed)


async def _send(
    client: Client, actor: Actor, policy: Policy, sent: set[str]
) -> tuple[int, list[str]]:
    """Send `policy` to every running case not in `sent` (which grows), SEND_AT_ONCE at a
    time: the number updated, and the cases that failed with why."""
    updated, failed = 0, []
    waiting: asyncio.Queue[str | None] = asyncio.Queue(maxsize=4 * SEND_AT_ONCE)

    async def sender() -> None:
        nonlocal updated
        while (workflow_id := await waiting.get()) is not None:
            try:
                await client.get_workflow_handle(workflow_id).execute_update(
                    CaseWorkflow.apply_policy, c.ApplyPolicy(actor=actor, policy=policy)
                )
                updated += 1
            except Exception as exc:  # refused, gone, timed out: that case is reported
                failed.append(f"{workflow_id}: {exc}")

    async with asyncio.TaskGroup() as senders:
        for _ in range(SEND_AT_ONCE):
            senders.create_task(sender())
        async for execution in client.list_workflows(RUNNING_CASES):
            if execution.id not in sent:
                sent.add(execution.id)
                await waiting.put(execution.id)
        for _ in range(SEND_AT_ONCE):
            await waiting.put(None)
    return updated, failed


async def adopt_newer_policy(
    store: EventStore, client: Client, workflow_id: str, read: int
) -> bool:
    """Send a case just started with policy version `read` the newest, if one was
    applied since it was read (a policy applied while the case opened, whose passes
    could not list the case yet). True if one was sent."""
    log = get_logger(workflow_id=workflow_id, actor=SYSTEM_ACTOR.staff_id)
    try:
        if await store.stream_version(POLICY_STREAM) <= read:
            return False
        policy, version = await policy_and_version(store)
        await client.get_workflow_handle(workflow_id).execute_update(
            CaseWorkflow.apply_policy, c.ApplyPolicy(actor=SYSTEM_ACTOR, policy=policy)
        )
    except Exception as exc:  # the case is open all the same: say what it may lack
        log.error("newer policy not sent to the case just opened", read=read, error=str(exc))
        return False
    log.info("policy applied since the case read it, sent", read=read, policy_version=version)
    return True
