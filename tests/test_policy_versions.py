"""The built-in defaults are no version of the policy: `policy show` names them version 0
("defaults (no version applied)"), and the first policy applied is version 1 — never two
policies shown with one number."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from application.agency_policy import DEFAULTS_LABEL, apply, policy_in_force
from application.bootstrap import Casework
from application.policies import SEND_AT_ONCE, current_policy, policy_and_version
from application.runtime import build_worker
from cases.policy import DEFAULT_POLICY, Policy
from events.store import EventStore
from events.vocabulary import RiskLevel
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
