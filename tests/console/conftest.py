"""The console served for a real browser: uvicorn on a free port over the real stack —
a fresh migrated PostgreSQL database, a Temporal dev server with the case worker, the
projector, the provider simulator as the providers' far end — and Chromium from
Debian's packages driven by Playwright's async API on the test's event loop.

One stack per test module (starting it takes seconds); each test opens cases of its
own. The server's clock is the wall clock plus an offset the tests move forward
(session timeouts), never a fixed date.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application import identity
from application.bootstrap import Casework
from application.case_client import CaseClient
from application.runtime import WORKFLOWS, activities_for
from cases import commands as c
from cases.actors import SYSTEM_ACTOR
from casework.api.app import create_api
from devtools.provider_simulator import ProviderSimulator, ReceivedReferral
from directory import add_provider, add_service, resolve_actor
from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.store import EventStore
from events.vocabulary import ApprovalKind, ClientDetails, ReferralSource
from infrastructure.database import create_pool
from infrastructure.embedded_postgres import free_port
from infrastructure.settings import Settings
from projections.catalog import all_projections
from projections.runner import run_projections
from tests.cases import inputs
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.pg import create_database, drop_database, with_database
from tests.replay_everything import replay_case_histories
from tests.security.test_access_log import staff
from tests.temporal_env import DEV_SERVER
from workflows import search_attributes as sa
from workflows.case import CaseWorkflow

PASSWORD = "correct horse battery staple"
STAFF = ("alice", "carol", "erin", "sam", "max", "audrey", "root")
PROVIDER = "food-bank"
SERVICE = "parcels"
WAIT_MS = 60_000
"""How long a browser assertion waits (the machine is shared and small)."""


def chromium_path() -> str:
    for candidate in (
        os.environ.get("CHROMIUM"),
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is not installed: `apt-get install -y chromium` (make test does)")
    return found


class Clock:
    """The server's clock: the wall clock plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Stack:
    url: str
    app: Casework
    cases: CaseClient
    clock: Clock
    browser: Browser
    simulator: ProviderSimulator
    client: Client
    contexts: list[BrowserContext] = field(default_factory=list)

    async def new_page(self) -> Page:
        context = await self.browser.new_context(base_url=self.url)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        return await context.new_page()

    async def signed_in(self, staff_id: str) -> Page:
        """A browser of its own, signed in as `staff_id` through the sign-in page."""
        page = await self.new_page()
        await page.goto("/console/sign-in")
        await page.fill("#staff_id", staff_id)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_selector("header.top .who")
        return page

    async def open_case(self, ref: str, worker: str = "alice") -> str:
        """A new case (opened through the application layer, as the API does)."""
        case_id = uuid.uuid4()
        await self.cases.open(
            c.OpenCase(
                actor=await resolve_actor(self.app.store, "carol"),
                case_id=case_id,
                client_ref=ref,
                client=ClientDetails(name="Marguerite Okonkwo-Hale"),
                referral_source=ReferralSource.SELF_REFERRAL,
                assignee=await resolve_actor(self.app.store, worker),
                presenting_needs=["housing"],
            )
        )
        return str(case_id)

    async def open_case_with_plan(self, ref: str) -> str:
        """A new case of alice's, assessed, with a plan carol approved."""
        case_id = await self.open_case(ref)
        alice = await resolve_actor(self.app.store, "alice")
        carol = await resolve_actor(self.app.store, "carol")
        for cmd in (
            inputs.assessment(actor=alice),
            inputs.plan(actor=alice),
            c.SubmitPlan(actor=alice),
            c.DecideApproval(actor=carol, kind=ApprovalKind.PLAN, approve=True),
        ):
            await self.cases.execute(case_id, cmd)
        return case_id

    async def until_projected(self, case_id: str, version: int | None = None) -> None:
        """Wait until the read models show the case (at `version` or later)."""
        want = version or await self.app.store.stream_version(f"case-{case_id}")
        deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
        while asyncio.get_running_loop().time() < deadline:
            found = await self.app.pool.fetchval(
                "SELECT stream_version FROM case_summary WHERE case_id = $1", case_id
            )
            if found is not None and found >= want:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"case {case_id} not projected at v{want}")


async def _accept_referrals(client: Client, received: ReceivedReferral) -> None:
    """The provider accepts each referral it receives (its reply comes by signal)."""
    if received.case_id is None or received.referral_id is None:
        return
    reply = c.ReferralReply(
        actor=SYSTEM_ACTOR, referral_id=received.referral_id, outcome="accepted",
        note="Intake appointment offered",
    )  # fmt: skip
    handle = client.get_workflow_handle(f"case-{received.case_id}")
    await handle.signal(CaseWorkflow.provider_replied, reply)


@pytest.fixture(scope="module")
async def stack(pg_server: str, migrated_template: str) -> AsyncIterator[Stack]:
    name = await create_database(pg_server, template=migrated_template)
    dsn = with_database(pg_server, name)
    pool = await create_pool(dsn, max_size=12)
    shutdown = asyncio.Event()
    try:
        store = EventStore(pool, cipher=FieldCipher(MasterKeyring.generate("console-test")))
        await staff(store)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(DEV_SERVER),
            data_converter=TEST_DATA_CONVERTER,
            search_attributes=sa.ALL,
        )
        try:
            async with contextlib.AsyncExitStack() as stack_:
                client = env.client
                simulator = await stack_.enter_async_context(
                    ProviderSimulator(on_referral=lambda r: _accept_referrals(client, r))
                )
                admin = await resolve_actor(store, "root")
                await add_provider(store, admin, PROVIDER, "Northside Food Bank", "food_assistance",
                                   simulator.provider_url(PROVIDER))  # fmt: skip
                await add_service(store, admin, PROVIDER, SERVICE, "Food parcels",
                                  ["income", "housing"])  # fmt: skip
                task_queue = f"console-{uuid.uuid4().hex[:8]}"
                await stack_.enter_async_context(
                    Worker(client, task_queue=task_queue, workflows=list(WORKFLOWS),
                           activities=activities_for(store))
                )  # fmt: skip
                projector = asyncio.create_task(
                    run_projections(dsn, all_projections(), shutdown, poll_interval=0.2)
                )
                settings = Settings(task_queue=task_queue, metrics_port=0)
                cases = CaseClient(client, task_queue, store)
                app = Casework(settings, pool, store, _client=client, _cases=cases)
                clock = Clock()
                for staff_id in STAFF:
                    invitation = await identity.invite(app, admin, staff_id, now=clock())
                    await identity.accept_invitation(
                        app, staff_id, invitation.code, PASSWORD, now=clock()
                    )
                port = free_port()
                api = create_api(settings, casework=app, clock=clock)
                # Every browser of these tests signs in from 127.0.0.1.
                api.state.console_sign_in_limit = 1000
                server = uvicorn.Server(
                    uvicorn.Config(
                        api,
                        host="127.0.0.1", port=port, log_config=None, access_log=False,
                        lifespan="on",
                    )
                )  # fmt: skip
                serving = asyncio.create_task(server._serve())  # no signal handlers of its own
                while not server.started:
                    if serving.done():
                        serving.result()
                    await asyncio.sleep(0.05)
                playwright = await async_playwright().start()
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path(), args=["--no-sandbox"]
                )
                the_stack = Stack(
                    f"http://127.0.0.1:{port}", app, cases, clock, browser, simulator, client
                )
                try:
                    yield the_stack
                finally:
                    for context in the_stack.contexts:
                        with contextlib.suppress(Exception):
                            await context.close()
                    await browser.close()
                    await playwright.stop()
                    server.should_exit = True
                    await serving
                    shutdown.set()
                    await projector
                    with contextlib.suppress(Exception):
                        async for execution in client.list_workflows(
                            "WorkflowType = 'CaseWorkflow' AND ExecutionStatus = 'Running'"
                        ):
                            await client.get_workflow_handle(execution.id).terminate("done")
            # Every case the console's pages made, replayed from a cold cache.
            await replay_case_histories(client)
        finally:
            await env.shutdown()
    finally:
        shutdown.set()
        await pool.close()
        await drop_database(pg_server, name)
