"""The built-in defaults are no version of the policy: `policy show` names them version 0
("defaults (no version applied)"), and the first policy applied is version 1 — never two
policies shown with one number."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from application.agency_policy import DEFAULTS_LABEL, apply, policy_in_force
from application.bootstrap import Casework
from application.case_client import CaseClient, CaseCommandRejected
from application.policies import POLICY_STREAM, SEND_AT_ONCE, current_policy, policy_and_version
from application.runtime import build_worker
from cases import commands as c
from cases.policy import DEFAULT_POLICY, Policy
from events.envelope import EventMetadata, RecordedEvent
from events.registry import DomainEvent
from events.store import AppendResult, EventStore
from events.vocabulary import PolicyApplied, RiskLevel
from infrastructure.settings import Settings
from tests.cases import inputs
from tests.cases.people import MAX
from tests.faults.invariants import wait_until


async def test_the_defaults_are_version_0_and_the_first_applied_policy_version_1(
    dev_server: WorkflowEnvironment, store: EventStore, pool: asyncpg.Pool
) -> None:
    app = Casework(Settings(metrics_port=0), pool, store, _client=dev_server.client)
    shown = await policy_in_force(app)
    assert (shown.version, shown.label, shown.stream_version) == (0, DEFAULTS_LABEL, 0)
    assert shown.policy == DEFAULT_POLICY
    assert await policy_and_version(store) == (DEFAULT_POLICY, 0)
    # What the HTTP API (and so `policy show --json`) answers.
    body = shown.model_dump(mode="json")
    assert (body["version"], body["label"]) == (0, "defaults (no version applied)")

    applied = await apply(app, MAX, Policy(review_grace=timedelta(days=2)))
    assert applied.version == 1
    shown = await policy_in_force(app)
    assert (shown.version, shown.label, shown.stream_version) == (1, "version 1", 1)
    assert (
        shown.policy.review_grace == timedelta(days=2) == (await current_policy(store)).review_grace
    )

    again = await apply(app, MAX, Policy(review_grace=timedelta(days=3)), expected_version=1)
    assert again.version == 2
    assert (await policy_in_force(app)).label == "version 2"


async def test_a_policy_reaches_every_open_case(
    dev_server: WorkflowEnvironment, store: EventStore, pool: asyncpg.Pool
) -> None:
    """Sent to the open cases several at a time (SEND_AT_ONCE): each gets it once and
    moves its next review by the new interval."""
    app = Casework(Settings(metrics_port=0), pool, store, _client=dev_server.client)
    cases = await app.cases()
    intervals = dict(DEFAULT_POLICY.review_interval) | {RiskLevel.MEDIUM: timedelta(days=30)}
    async with build_worker(dev_server.client, app.settings.task_queue, store):
        opened = [
            (await cases.open(inputs.open_case())).case_id for _ in range(2 * SEND_AT_ONCE + 3)
        ]
        running = "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"

        async def all_listed() -> bool:  # visibility (what `apply` lists) lags the starts
            return (await dev_server.client.count_workflows(running)).count >= len(opened)

        assert await wait_until(all_listed, 60.0, interval=0.1)
        applied = await apply(app, MAX, Policy(review_interval=intervals))
    assert (applied.cases_updated, applied.cases_failed) == (len(opened), [])
    moved = await pool.fetch(
        "SELECT stream_id, count(*) AS n FROM events WHERE event_type = 'ReviewScheduled' "
        "AND data->>'reason' = 'policy_changed' GROUP BY stream_id"
    )
    assert {r["stream_id"]: r["n"] for r in moved} == {f"case-{c}": 1 for c in opened}


def _moved_by_policy(rows: list[asyncpg.Record]) -> dict[str, list[int]]:
    """stream → the policy versions of its `policy_changed` reviews."""
    moved: dict[str, list[int]] = {}
    for r in rows:
        moved.setdefault(r["stream_id"], []).append(int(r["version"]))
    return moved


MOVED_BY_POLICY = (
    "SELECT stream_id, data->>'policy_version' AS version FROM events "
    "WHERE event_type = 'ReviewScheduled' AND data->>'reason' = 'policy_changed' "
    "ORDER BY global_position"
)


class ApplyRecordedWhileOpening(EventStore):
    """A policy is applied while a case opens: recorded right after the opening read the
    version then in force, so the apply's passes could not list the case yet."""

    newer: Policy | None = None

    async def read_stream(
        self, stream_id: str, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        events = await super().read_stream(stream_id, from_version, limit)
        if stream_id == POLICY_STREAM and self.newer is not None:
            newer, self.newer = self.newer, None
            version = await self.stream_version(POLICY_STREAM)
            event = PolicyApplied(
                version=version + 1,
                policy=newer.model_copy(update={"version": version + 1}).model_dump(mode="json"),
                open_cases_notified=0,
            )
            await self.append_domain(
                POLICY_STREAM,
                version,
                [(uuid.uuid4(), event)],
                EventMetadata(actor_id=MAX.staff_id, actor_role=MAX.role.value),
                datetime.now(UTC),
            )
        return events


async def test_a_case_opened_while_a_policy_is_recorded_adopts_it(
    dev_server: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    store = ApplyRecordedWhileOpening(pool)
    cases = CaseClient(dev_server.client, "policy-while-opening", store)
    intervals = dict(DEFAULT_POLICY.review_interval) | {RiskLevel.MEDIUM: timedelta(days=30)}
    async with build_worker(dev_server.client, "policy-while-opening", store):
        store.newer = Policy(review_interval=intervals)
        opened = await cases.open(inputs.open_case())
    assert store.newer is None  # recorded between the case's read and its start
    moved = _moved_by_policy(await pool.fetch(MOVED_BY_POLICY))
    # Nothing else sends policies here: the opening saw the newer version after the
    # case started and sent it (no pass of an apply could have listed the case).
    assert moved == {f"case-{opened.case_id}": [1]}


class CaseOpenedBeforeRecording(EventStore):
    """A case opens with the version in force after the apply's first pass listed the
    running cases and before it records the new version."""

    opening: Callable[[], Awaitable[None]] | None = None

    async def append_domain(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[tuple[Any, DomainEvent]],
        metadata: EventMetadata,
        occurred_at: Any,
    ) -> AppendResult:
        if stream_id == POLICY_STREAM and self.opening is not None:
            opening, self.opening = self.opening, None
            await opening()
        return await super().append_domain(
            stream_id, expected_version, events, metadata, occurred_at
        )


async def test_a_case_opened_during_the_first_pass_gets_the_policy_from_the_second(
    dev_server: WorkflowEnvironment, pool: asyncpg.Pool
) -> None:
    store = CaseOpenedBeforeRecording(pool)
    app = Casework(Settings(metrics_port=0), pool, store, _client=dev_server.client)
    cases = await app.cases()
    intervals = dict(DEFAULT_POLICY.review_interval) | {RiskLevel.MEDIUM: timedelta(days=30)}
    late: list[str] = []

    async def open_one() -> None:
        late.append(str((await cases.open(inputs.open_case())).case_id))

        async def listed() -> bool:  # visibility lag is not what this test is about
            running = f"WorkflowType = 'CaseWorkflow' AND WorkflowId = 'case-{late[0]}'"
            return (await dev_server.client.count_workflows(running)).count == 1

        assert await wait_until(listed, 60.0, interval=0.1)

    async with build_worker(dev_server.client, app.settings.task_queue, store):
        first = (await cases.open(inputs.open_case())).case_id
        store.opening = open_one
        applied = await apply(app, MAX, Policy(review_interval=intervals))
    assert late and store.opening is None
    # The first pass listed `first` only; the late case read version 0 and its own
    # check found nothing newer yet: the second pass sent it the policy.
    assert (applied.cases_updated, applied.cases_failed) == (2, [])
    moved = _moved_by_policy(await pool.fetch(MOVED_BY_POLICY))
    assert moved == {f"case-{first}": [1], f"case-{late[0]}": [1]}


async def test_an_older_policy_arriving_late_is_refused(
    dev_server: WorkflowEnvironment, store: EventStore, pool: asyncpg.Pool
) -> None:
    """An apply overtaken by a newer one (its send arriving after the newer version's)
    cannot take a case back to the older policy; the same version again is accepted."""
    app = Casework(Settings(metrics_port=0), pool, store, _client=dev_server.client)
    cases = await app.cases()
    async with build_worker(dev_server.client, app.settings.task_queue, store):
        case_id = (await cases.open(inputs.open_case())).case_id
        await apply(app, MAX, Policy(review_grace=timedelta(days=2)))
        second = await apply(app, MAX, Policy(review_grace=timedelta(days=3)))
        assert (second.version, second.cases_updated) == (2, 1)
        first = (await app.store.read_stream(POLICY_STREAM))[0]
        recorded = store.decode(first)
        assert isinstance(recorded, PolicyApplied)
        older = Policy.model_validate(recorded.policy)
        assert older.version == 1
        with pytest.raises(CaseCommandRejected, match="older than version 2"):
            await cases.execute(case_id, c.ApplyPolicy(actor=MAX, policy=older))
        newest = await current_policy(store)
        again = await cases.execute(case_id, c.ApplyPolicy(actor=MAX, policy=newest))
        assert again.events == []  # nothing moves: the case already follows it
