"""Record the histories replayed by test_replay.py (run on demand, not in CI).

    python -m tests.workflows.record_histories v5_closed_case v5_escalated_case \
        v5_busy_case v5_reopened_case

Histories are kept for good: record new labels after a workflow change rather than
re-recording old ones (`closed_case` and `approved_plan` predate the review timers
and show that `workflow.patched` keeps such cases replaying; v2 and v3 predate one append
per command, v4 has it; v5 appends by a local activity with the log as the truth,
PATCH_LOCAL_APPEND; v6 adds plan actions, advocacy, feedback, the circle of support and
a forgotten client's case shedding its history (its first run is kept); v7 delivers the
plan actions' reminders, PATCH_REMINDERS_DELIVERED, and v7_long_case is a run of over
1,000 events that kept going; v8 is the first run of a case that continued as new after
1,000 events, PATCH_SHORTER_RUNS).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from application.case_client import CaseClient
from application.migrations import apply_migrations
from application.runtime import WORKFLOWS, activities_for
from devtools.provider_simulator import ProviderSimulator
from directory import add_staff, add_team, bootstrap_admin
from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.store import EventStore
from infrastructure.database import create_pool
from tests.codec_keys import TEST_DATA_CONVERTER
from tests.pg import create_database, drop_database, server_dsn, with_database
from tests.temporal_env import TEST_SERVER
from tests.workflows import scenarios
from workflows import search_attributes as sa

OUT = Path(__file__).parent / "histories"


async def main(labels: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server, owned = server_dsn(Path(scratch))
        name = await create_database(server)
        try:
            dsn = with_database(server, name)
            await apply_migrations(dsn)
            pool = await create_pool(dsn)
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(TEST_SERVER), data_converter=TEST_DATA_CONVERTER
            )
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=env.client.namespace,
                    search_attributes={
                        k.name: cast(Any, k.indexed_value_type.value) for k in sa.ALL
                    },
                )
            )
            store = EventStore(pool, cipher=FieldCipher(MasterKeyring.generate("record")))
            queue = f"record-{uuid.uuid4().hex[:6]}"
            async with (
                Worker(
                    env.client,
                    task_queue=queue,
                    workflows=list(WORKFLOWS),
                    activities=activities_for(store),
                ),
                ProviderSimulator() as provider,
            ):
                cases = CaseClient(env.client, queue, store)
                admin = (await bootstrap_admin(store, "root", "Admin")).as_actor()
                await add_team(store, admin, "north", "North")
                await add_team(store, admin, "south", "South")
                for staff_id, role in (("carol", "supervisor"), ("max", "manager")):
                    team = "north" if role == "supervisor" else None
                    url = provider.notification_url(staff_id)
                    await add_staff(store, admin, staff_id, staff_id, role, team, url)
                scenario: dict[str, Callable[[], Awaitable[UUID | tuple[UUID, str]]]] = {
                    "v2_closed_case": lambda: scenarios.closed_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v2_escalated_case": lambda: scenarios.escalated_case(cases, env),
                    "v3_closed_case": lambda: scenarios.closed_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v3_escalated_case": lambda: scenarios.escalated_case(cases, env),
                    "v4_closed_case": lambda: scenarios.closed_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v4_escalated_case": lambda: scenarios.escalated_case(cases, env),
                    "v4_busy_case": lambda: scenarios.busy_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v4_reopened_case": lambda: scenarios.reopened_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v5_closed_case": lambda: scenarios.closed_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v5_escalated_case": lambda: scenarios.escalated_case(cases, env),
                    "v5_busy_case": lambda: scenarios.busy_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v5_reopened_case": lambda: scenarios.reopened_case(
                        cases, provider.provider_url("shelter-1")
                    ),
                    "v6_circle_case": lambda: scenarios.circle_case(cases),
                    "v6_practice_case": lambda: scenarios.practice_case(
                        cases, env, provider.provider_url("shelter-1")
                    ),
                    "v6_forgotten_case": lambda: scenarios.forgotten_case(cases),
                    "v7_practice_case": lambda: scenarios.practice_case(
                        cases, env, provider.provider_url("shelter-1")
                    ),
                    # Recorded by the code before PATCH_SHORTER_RUNS (911cc26): a run past
                    # 1,000 events that must not continue as new when it replays.
                    "v7_long_case": lambda: scenarios.long_case(cases, 200, until_continued=False),
                    "v8_long_case": lambda: scenarios.long_case(cases),
                }
                recorded = {label: await scenario[label]() for label in labels}
                for label, outcome in recorded.items():
                    # A scenario names the run to keep when it is not the latest one.
                    case_id, run_id = outcome if isinstance(outcome, tuple) else (outcome, None)
                    handle = env.client.get_workflow_handle(f"case-{case_id}", run_id=run_id)
                    history = await handle.fetch_history()
                    (OUT / f"{label}.json").write_text(history.to_json())
            await env.shutdown()
            await pool.close()
        finally:
            await drop_database(server, name)
            if owned:
                owned.stop()


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1:]
            or ["v5_closed_case", "v5_escalated_case", "v5_busy_case", "v5_reopened_case"]
        )
    )
