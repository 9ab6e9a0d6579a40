"""A case worker that stalls right after appending one kind of event (for a fault test).

``python -m tests.faults.pausing_worker <EventType>`` runs the real worker (the
workflows and activities of worker.py, the environment of tests/faults/procs.py)
except that `append_events` (and `append_command`, the local append that calls it),
once it has committed a batch holding an event of type <EventType>, sleeps for an
hour before returning. The append is in the log;
the workflow task that ran it never completes. A test SIGKILLs the process in
that window: exactly what a worker lost between a commit and its acknowledgement
looks like, made deterministic.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from temporalio import activity
from temporalio.worker import Worker

from activities.store import AppendReply, AppendRequest, StoreActivities
from application.runtime import WORKFLOWS, activities_for
from events.crypto import FieldCipher
from events.store import EventStore
from infrastructure.database import create_pool, database_url
from infrastructure.keys import master_keyring
from infrastructure.logs import configure_logging, get_logger
from infrastructure.settings import Settings
from infrastructure.temporal import connect


class PausingStoreActivities(StoreActivities):
    def __init__(self, store: EventStore, pause_after: str) -> None:
        super().__init__(store)
        self.pause_after = pause_after

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendRequest) -> AppendReply:
        reply = await super().append_events(request)
        if any(e.event_type == self.pause_after for e in request.events):
            get_logger().warning("appended; stalling before the reply", stream=request.stream_id)
            await asyncio.sleep(3600)
        return reply


async def main(pause_after: str) -> None:
    settings = Settings()
    configure_logging(settings)
    client = await connect(settings)
    pool = await create_pool(database_url(settings), max_size=10)
    store = EventStore(pool, cipher=FieldCipher(master_keyring(settings)))
    pausing = PausingStoreActivities(store, pause_after)
    activities: list[Any] = [
        pausing.append_events,
        pausing.append_command,  # the local append: calls the stalling append_events
        *(
            a
            for a in activities_for(store)
            if a.__name__ not in ("append_events", "append_command")
        ),
    ]
    async with Worker(
        client, task_queue=settings.task_queue, workflows=list(WORKFLOWS), activities=activities
    ):
        get_logger().info("pausing worker started", pause_after=pause_after)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
