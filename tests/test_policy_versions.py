"""The built-in defaults are no version of the policy: `policy show` names them version 0
("defaults (no version applied)"), and the first policy applied is version 1 — never two
policies shown with one number."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from application.agency_policy import DEFAULTS_LABEL, apply, policy_in_force
from application.bootstrap import Casework
from application.policies import current_policy, policy_and_version
from cases.policy import DEFAULT_POLICY, Policy
from events.store import EventStore
from infrastructure.settings import Settings
from tests.cases.people import MAX


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
