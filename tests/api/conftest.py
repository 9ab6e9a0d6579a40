"""The API in-process for the fuzzing and role-table tests: `create_api` over the real
event store, a real case worker on the time-skipping Temporal server and a clock the
test controls; staff members sign in with real accounts (invited, password set, signed
in through `POST /api/v1/sessions`).

(test_api.py and test_reads.py keep their own `api` fixture; this one seeds a larger
staff directory, with a second caseworker in team north, and imports no entry point
but the API.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from application import identity
from application.bootstrap import Casework
from cases.actors import Actor
from casework.api.app import create_api
from casework.api.ratelimit import RateLimit
from directory import add_provider, add_staff, add_team, bootstrap_admin, resolve_actor
from events.store import EventStore
from infrastructure.settings import Settings
from tests.workflows.conftest import case_harness

PASSWORD = "correct horse battery staple"

TEAMS = ("north", "south")
STAFF: tuple[tuple[str, str, str | None], ...] = (
    ("alice", "caseworker", "north"),
    ("frank", "caseworker", "north"),
    ("carol", "supervisor", "north"),
    ("erin", "caseworker", "south"),
    ("sam", "supervisor", "south"),
    ("max", "manager", None),
    ("audrey", "auditor", None),
    ("olga", "operator", None),
    ("pia", "provider", None),
    ("otis", "provider", None),
)
"""Besides `root`, the first administrator: (staff id, role, team)."""

PROVIDERS: dict[str, str] = {"pia": "shelter-1", "otis": "pantry-2"}
"""The provider members of STAFF and the provider each acts for: pia for shelter-1, the
provider tests/cases/inputs.py `refer` sends referrals to ("provider of the referral"),
otis for pantry-2 ("another provider")."""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    http: httpx.AsyncClient
    app: Casework
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    async def sign_in(self, staff_id: str) -> dict[str, str]:
        """`staff_id` invited by root, password set, signed in over HTTP: the auth header
        (one account and session per staff member, made on first use)."""
        if staff_id not in self.tokens:
            admin = await resolve_actor(self.app.store, "root")
            invitation = await identity.invite(self.app, admin, staff_id, now=self.clock())
            await identity.accept_invitation(
                self.app, staff_id, invitation.code, PASSWORD, now=self.clock()
            )
            answer = await self.http.post(
                "/api/v1/sessions", json={"staff_id": staff_id, "password": PASSWORD}
            )
            assert answer.status_code == 201, answer.text
            self.tokens[staff_id] = answer.json()["token"]
        return {"Authorization": f"Bearer {self.tokens[staff_id]}"}

    async def actor(self, staff_id: str) -> Actor:
        return await resolve_actor(self.app.store, staff_id)


class ApiLike(Protocol):
    """What `Case` needs of an API fixture (this module's `Api` or tests/api/test_api.py's)."""

    http: httpx.AsyncClient
    app: Casework


class Case:
    """One case through the HTTP API: its commands (table routes), `case show`, its
    stream version in the log."""

    def __init__(self, api: ApiLike, case_id: str) -> None:
        self.api = api
        self.case_id = case_id

    async def send(self, who: dict[str, str], update: str, body: Any) -> httpx.Response:
        return await self.api.http.post(
            f"/api/v1/cases/{self.case_id}/commands/{update}",
            json=body,
            headers={**who, "If-Match": "*"},
        )

    async def ok(self, who: dict[str, str], update: str, body: Any) -> dict[str, Any]:
        answer = await self.send(who, update, body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def show(self, who: dict[str, str]) -> dict[str, Any]:
        shown = await self.api.http.get(f"/api/v1/cases/{self.case_id}", headers=who)
        assert shown.status_code == 200, shown.text
        state: dict[str, Any] = shown.json()
        return state

    async def version(self) -> int:
        return await self.api.app.store.stream_version(f"case-{self.case_id}")

    async def events(self, who: dict[str, str], update: str, body: Any) -> list[str]:
        """The types of the events a command that must succeed recorded."""
        events: list[str] = (await self.ok(who, update, body))["events"]
        return events


async def seed_staff(store: EventStore) -> None:
    await bootstrap_admin(store, "root", "Agency admin")
    admin = await resolve_actor(store, "root")
    for team_id in TEAMS:
        await add_team(store, admin, team_id, team_id.title())
    for provider_id in PROVIDERS.values():
        await add_provider(
            store, admin, provider_id, provider_id.title(), "other",
            f"https://{provider_id}.test/referrals",
        )  # fmt: skip
    for staff_id, role, team in STAFF:
        await add_staff(
            store, admin, staff_id, staff_id.title(), role, team,
            provider_id=PROVIDERS.get(staff_id),
        )  # fmt: skip


@asynccontextmanager
async def serve(env: WorkflowEnvironment, store: EventStore) -> AsyncIterator[Api]:
    """The API over `store` and a case worker of its own on `env`, staff seeded."""
    await seed_staff(store)
    async with case_harness(env, store) as cases:
        settings = Settings(task_queue=cases.task_queue, metrics_port=0)
        app = Casework(settings, store.pool, store, _client=cases.client, _cases=cases)
        clock = Clock()
        server = create_api(settings, casework=app, clock=clock)
        # Every seeded member signs in from the one test address at the one frozen time:
        # a window that fits them all (the limit itself is tested in tests/api/test_api.py).
        server.state.sign_in_limit = RateLimit(attempts=len(STAFF) + 1)
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework.test") as http:
            yield Api(http, app, clock)


@pytest.fixture
async def api(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[Api]:
    """On the shared time-skipping server."""
    async with serve(time_skipping_env, sealed_store) as served:
        yield served


@pytest.fixture
async def api_with_visibility(
    dev_server: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[Api]:
    """On a Temporal dev server of its own: routes that list workflows (applying a
    policy to every open case) need its visibility API, which the time-skipping server
    does not implement."""
    async with serve(dev_server, sealed_store) as served:
        yield served


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of `answer`, which must have `status`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def open_case_body(client_ref: str) -> dict[str, Any]:
    """A case open for alice's client `client_ref` (POST /api/v1/cases)."""
    return {
        "client_ref": client_ref,
        "client": {"name": "Rosalind Quennell-Ashby"},
        "assignee": "alice",
        "presenting_needs": ["housing"],
    }
