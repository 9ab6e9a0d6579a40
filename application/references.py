"""What a staff member's command names must exist: the entry points (the HTTP API, the
console) check it before the command reaches the case, so a consent to share with a
provider that is not in the resource directory is refused by name, not recorded.

Staff a command names are resolved from the directory by the entry points when they
build the command; services and goals by the referral use case and the case's rules.
"""

from __future__ import annotations

from application.case_client import CaseCommandRejected
from cases import commands as c
from directory import NotFound, load_resource_directory, load_staff_directory
from events.store import EventStore


class UnknownReference(CaseCommandRejected):
    """The command names something that does not exist (or no longer): nothing was sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


async def check_references(store: EventStore, cmd: c.Command) -> None:
    """Refuse, naming the field, a consent to share with providers that are not active
    ones in the resource directory, and staff named as taking part in a case conference
    or a plan who are not in the staff directory."""
    if isinstance(cmd, c.RecordConsent) and cmd.providers:
        resources = await load_resource_directory(store)
        for provider_id in cmd.providers:
            try:
                resources.provider(provider_id)
            except NotFound as exc:
                raise UnknownReference("providers", str(exc)) from None
    if isinstance(cmd, c.RecordFeedback) and cmd.provider_id and cmd.service_id:
        # Feedback may be about a provider or service since withdrawn: known is enough.
        resources = await load_resource_directory(store)
        try:
            provider = resources.any_provider(cmd.provider_id)
        except NotFound as exc:
            raise UnknownReference("provider_id", str(exc)) from None
        if provider.find_service(cmd.service_id) is None:
            raise UnknownReference(
                "service_id", f"provider {cmd.provider_id!r} has no service {cmd.service_id!r}"
            )
    staff = _participating_staff(cmd)
    if staff:
        field, staff_ids = staff
        directory = await load_staff_directory(store)
        for staff_id in staff_ids:
            try:
                directory.member(staff_id)
            except NotFound as exc:
                raise UnknownReference(field, str(exc)) from None


def _participating_staff(cmd: c.Command) -> tuple[str, list[str]] | None:
    """The staff a conference or a plan names as taking part (they must be in the staff
    directory; circle members are checked by the case's rules)."""
    if isinstance(cmd, c.RecordConference) and cmd.conference.participants.staff:
        return "conference.participants.staff", cmd.conference.participants.staff
    if isinstance(cmd, c.DraftPlan) and cmd.plan.participants.staff:
        return "plan.participants.staff", cmd.plan.participants.staff
    return None
