"""What a staff member's command names must exist: the entry points (the HTTP API, the
console) check it before the command reaches the case, so a consent to share with a
provider that is not in the resource directory is refused by name, not recorded.

Staff a command names are resolved from the directory by the entry points when they
build the command; services and goals by the referral use case and the case's rules.
"""

from __future__ import annotations

from application.case_client import CaseCommandRejected
from cases import commands as c
from directory import NotFound, load_resource_directory
from events.store import EventStore


class UnknownReference(CaseCommandRejected):
    """The command names something that does not exist (or no longer): nothing was sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


async def check_references(store: EventStore, cmd: c.Command) -> None:
    """Refuse, naming the field, a consent to share with providers that are not active
    ones in the resource directory."""
    if isinstance(cmd, c.RecordConsent) and cmd.providers:
        resources = await load_resource_directory(store)
        for provider_id in cmd.providers:
            try:
                resources.provider(provider_id)
            except NotFound as exc:
                raise UnknownReference("providers", str(exc)) from None
