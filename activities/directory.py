"""Reads of the resource directory a case workflow needs while it runs.

`provider_channel` gives the webhook of an active provider as the directory has it
now. The case workflow asks for it when it dispatches a referral whose command it
never ran: a referral folded from the log (a worker lost after appending it, the
command never sent again), whose `Refer` carried the channel the workflow did not see.
"""

from __future__ import annotations

from temporalio import activity

from directory import NotFound, load_resource_directory
from events.store import EventStore


class DirectoryActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name="provider_channel")
    async def provider_channel(self, provider_id: str) -> str | None:
        """The active provider's webhook URL; None if it is unknown or deactivated."""
        try:
            provider = (await load_resource_directory(self.store)).provider(provider_id)
        except NotFound:
            return None
        return provider.channel.webhook_url
