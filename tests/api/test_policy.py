"""The agency's policy through the HTTP API (casework/api/policy.py), in-process over the
real event store and a real case worker on the time-skipping Temporal server: everyone
reads it, managers and admins apply a new version (sent to every running case), an
invalid policy or a stale ETag changes nothing, and other roles are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from application.bootstrap import Casework
from application.policies import POLICY_STREAM
from casework.api.app import create_api
from events.store import EventStore
from infrastructure.settings import Settings
from tests.api.test_api import Api, Clock, open_case, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store
from tests.security.test_access_log import staff
from tests.workflows.conftest import case_harness

NEW_POLICY: dict[str, Any] = {
    "review_interval": {"crisis": "3d", "high": "14d", "medium": "45d", "low": "120d"},
    "review_grace": "2d",
    "escalation_ladder": [
        {"notify": "supervisor", "after": 0},
        {"notify": "manager", "after": "3d"},
    ],
    "approval_deadline": "4d",
    "referral_reply_deadline": "7d",
}


@pytest.fixture
async def dev_api(dev_server: WorkflowEnvironment, sealed_store: EventStore) -> AsyncIterator[Api]:
    """`api` on a Temporal dev server: applying a policy lists the running cases, which
    needs the server's visibility (the time-skipping server has none)."""
    await staff(sealed_store)
    async with case_harness(dev_server, sealed_store) as cases:
        settings = Settings(task_queue=cases.task_queue, metrics_port=0)
        app = Casework(
            settings, sealed_store.pool, sealed_store, _client=cases.client, _cases=cases
        )
        clock = Clock()
        server = create_api(settings, casework=app, clock=clock)
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
            yield Api(http, app, clock)


async def listed(api: Api, case_id: str) -> None:
    """Wait until the server's visibility lists the case's workflow as running."""
    client = await api.app.temporal()
    query = f"WorkflowId = 'case-{case_id}' AND ExecutionStatus = 'Running'"
    async with asyncio.timeout(60):
        while not [w async for w in client.list_workflows(query)]:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # visibility catches up: there is nothing to wait on


async def reviews_scheduled(api: Api, case_id: str) -> list[tuple[int, str]]:
    """The case's ReviewScheduled events: (policy version, the due date in days after the
    case was opened, as the policy writes durations)."""
    log = await api.app.store.read_stream(f"case-{case_id}")
    opened = log[0].occurred_at
    found = []
    for event in log:
        if event.event_type == "ReviewScheduled":
            due = datetime.fromisoformat(event.data["due_at"]) - opened
            found.append((event.data["policy_version"], f"{round(due.total_seconds() / 86400)}d"))
    return found


async def test_everyone_reads_the_policy_in_force(api: Api) -> None:
    alice = await api.sign_in("alice")
    shown = await api.http.get("/api/v1/policy", headers=alice)
    assert shown.status_code == 200, shown.text
    assert shown.headers["ETag"] == '"0"'
    body = shown.json()
    assert body["stream_version"] == 0
    assert body["policy"]["review_interval"] == {
        "crisis": "7d",
        "high": "30d",
        "medium": "60d",
        "low": "90d",
    }
    assert body["policy"]["escalation_ladder"][1] == {"notify": "manager", "after": "7d"}
    problem(await api.http.get("/api/v1/policy"), 401)


async def test_an_admin_applies_a_policy_to_every_running_case(dev_api: Api) -> None:
    api = dev_api
    alice, root = await api.sign_in("alice"), await api.sign_in("root")
    case_id, _ = await open_case(api, alice)
    await listed(api, case_id)
    applied = await api.http.post(
        "/api/v1/policy", json=NEW_POLICY, headers={**root, "If-Match": '"0"'}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"version": 1, "cases_updated": 1, "cases_failed": []}
    assert applied.headers["ETag"] == '"1"'
    # The case took it: its next review moved to the new interval (45 days at medium risk;
    # the defaults it opened under are version 1 too, never recorded in the stream).
    assert await reviews_scheduled(api, case_id) == [(1, "60d"), (1, "45d")]
    shown = (await api.http.get("/api/v1/policy", headers=alice)).json()
    assert shown["stream_version"] == 1 and shown["policy"]["version"] == 1
    assert shown["policy"]["review_interval"]["low"] == "120d"
    # Applied on a stale ETag: 412 with the current version; nothing recorded or sent.
    stale = problem(
        await api.http.post(
            "/api/v1/policy",
            json={**NEW_POLICY, "review_grace": "5d"},
            headers={**root, "If-Match": '"0"'},
        ),
        412,
    )
    assert stale["current_version"] == 1
    assert await api.app.store.stream_version(POLICY_STREAM) == 1
    assert len(await reviews_scheduled(api, case_id)) == 2
    # A manager may change the policy too (the access table's policy row); without
    # If-Match it applies to the policy as it stands.
    max_ = await api.sign_in("max")
    again = await api.http.post(
        "/api/v1/policy", json={**NEW_POLICY, "review_grace": "5d"}, headers=max_
    )
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 2
    log = await api.app.store.read_stream(POLICY_STREAM)
    assert [(e.metadata.actor_id, e.data["version"]) for e in log] == [("root", 1), ("max", 2)]


async def test_bad_policies_name_the_field_and_change_nothing(api: Api) -> None:
    root = await api.sign_in("root")
    for body, field in (
        ({**NEW_POLICY, "review_grace": "soon"}, "review_grace"),
        ({**NEW_POLICY, "review_grace": 0}, "review_grace"),
        ({**NEW_POLICY, "approval_deadline": True}, "approval_deadline"),
        ({**NEW_POLICY, "escalation_ladder": []}, "escalation_ladder"),
        ({**NEW_POLICY, "escalation_ladder": [{"notify": "mayor", "after": 0}]},
         "escalation_ladder.0.notify"),
        ({**NEW_POLICY, "initial_risk": "extreme"}, "initial_risk"),
        ({**NEW_POLICY, "review_interval": {"urgent": "1d"}}, "review_interval.urgent.[key]"),
        ({**NEW_POLICY, "grace": "1d"}, "grace"),
    ):  # fmt: skip
        found = problem(await api.http.post("/api/v1/policy", json=body, headers=root), 422)
        assert field in [e["field"] for e in found["errors"]], (body, found)
    found = problem(
        await api.http.post("/api/v1/policy", json=NEW_POLICY, headers={**root, "If-Match": "x"}),
        422,
    )
    assert [e["field"] for e in found["errors"]] == ["If-Match"]
    assert await api.app.store.stream_version(POLICY_STREAM) == 0


async def test_other_roles_may_not_change_the_policy(api: Api) -> None:
    for who in ("alice", "carol", "audrey"):
        auth = await api.sign_in(who)
        found = problem(await api.http.post("/api/v1/policy", json=NEW_POLICY, headers=auth), 403)
        assert "may not change the agency's policy" in found["detail"]
    problem(await api.http.post("/api/v1/policy", json=NEW_POLICY), 401)
    assert await api.app.store.stream_version(POLICY_STREAM) == 0
