"""The provider portal: a provider's staff see and answer the referrals sent to them.

A provider member (role `provider`, `Actor.provider_id`) signs in like any staff member
(password sessions, personal access tokens) and gets, from the access table's
`referred` relation (cases/access.py), exactly two things:

* **its referrals** (`list_referrals`, `Query.PROVIDER_REFERRALS`): the referrals read
  model filtered by the provider id (projections/referrals.py `referrals_for_provider`,
  no case scope: a provider sees no case); each referral listed is recorded in the
  access log against its case (`portal list <referral id>`);
* **one referral** (`show_referral`): built from the case's workflow state with the same
  filter the dispatch uses (cases/consent.py `referral_payload`: only the fields the
  referral shares *and* the client still consents to share; consent withdrawn → ids
  only; a forgotten client → erased values), plus the referral's status, service and
  dates; never a note, another referral or the case. Recorded (`portal referral <id>`,
  allowed or not); another provider's referral, or one that does not exist, is
  `PortalNotFound` — the same answer;
* **its answers** (`act`): accept, decline (a reason), progress (a report), complete —
  the existing `referral_reply` / `provider_report` commands sent through
  application/case_commands.py `send` with the provider as actor, so admission (another
  provider's referral → `NotFound`, on record, nothing written), idempotency and the
  case's rules are the ones every entry point has. No new event, no new command.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from application import access_log, case_commands
from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.paging import Page, PageRequest, after_key, micros, moment, sql_page
from application.read_models import InvalidQuery
from cases.access import Query, query_relation
from cases.actors import Actor, Role
from cases.consent import referral_payload
from directory import load_resource_directory
from projections.referrals import ProviderReferral, referrals_for_provider
from workflows.case import CommandResult

__all__ = [
    "PortalAction",
    "PortalNotFound",
    "PortalReferral",
    "ProviderReferral",
    "act",
    "list_referrals",
    "show_referral",
]

_QUERY = "portal-referrals"


class PortalAction(StrEnum):
    """What a provider answers to a referral (the update each becomes: `UPDATES`)."""

    ACCEPT = "accept"
    DECLINE = "decline"
    PROGRESS = "progress"
    COMPLETE = "complete"


UPDATES: dict[PortalAction, str] = {
    PortalAction.ACCEPT: "referral_reply",
    PortalAction.DECLINE: "referral_reply",
    PortalAction.PROGRESS: "provider_report",
    PortalAction.COMPLETE: "referral_reply",
}

_OPEN_TO: dict[str, tuple[PortalAction, ...]] = {
    "made": (PortalAction.ACCEPT, PortalAction.DECLINE),
    "dispatched": (PortalAction.ACCEPT, PortalAction.DECLINE),
    "dispatch_failed": (PortalAction.ACCEPT, PortalAction.DECLINE),
    "accepted": (PortalAction.PROGRESS, PortalAction.COMPLETE),
}
"""The answers a referral's status leaves open (the case's rules decide in the end)."""


class PortalNotFound(LookupError):
    """No such referral for this provider (another provider's reads the same)."""

    def __init__(self, case_id: str, referral_id: str) -> None:
        self.case_id = case_id
        self.referral_id = referral_id
        super().__init__(f"no referral {referral_id} of case {case_id} for you")


class PortalReferral(BaseModel):
    """One referral as its provider sees it."""

    case_id: str
    referral_id: str
    provider_id: str
    service_id: str
    service_name: str | None = Field(None, description="From the resource directory.")
    goal_domain: str | None
    status: str
    made_at: datetime
    updated_at: datetime
    reason: str | None = Field(None, description="The provider's reason, when declined.")
    shared: dict[str, Any] = Field(
        description="Only what the client consented to share with this provider."
    )
    actions: list[PortalAction] = Field(description="The answers the status leaves open.")


def _provider_of(actor: Actor, provider: str | None) -> str:
    """Whose referrals: a provider's own (whatever it asks); for the roles that read every
    provider's (`any`), the one named (InvalidQuery naming `provider` if none)."""
    relation = query_relation(actor, Query.PROVIDER_REFERRALS)
    if relation == "referred":
        assert actor.provider_id is not None  # Actor's validator: a provider has one
        return actor.provider_id
    if provider is None:
        raise InvalidQuery("provider", "name the provider whose referrals to list")
    return provider


async def list_referrals(
    app: Casework,
    actor: Actor,
    page: PageRequest,
    *,
    provider: str | None = None,
    status: str | None = None,
) -> Page[ProviderReferral]:
    """The referrals sent to the actor's provider (or `provider`), newest first; each one
    listed recorded in the access log against its case (`portal list <referral id>`)."""
    provider_id = _provider_of(actor, provider)
    after = after_key(_QUERY, page, (int, str, str))
    rows = await referrals_for_provider(
        app.pool, provider_id, status=status, limit=page.limit + 1,
        after=(moment(after[0]), str(after[1]), str(after[2])) if after else None,
    )  # fmt: skip
    for row in rows[: page.limit]:  # each case whose referral the provider was shown
        await access_log.record(
            app.pool, actor, row.case_id, f"{View.PORTAL_LIST} {row.referral_id}"
        )
    return sql_page(_QUERY, rows, page, lambda r: (micros(r.made_at), r.case_id, r.referral_id))


async def show_referral(
    app: Casework, actor: Actor, case_id: str, referral_id: str
) -> PortalReferral:
    """One referral to the actor's provider, as shared with it (PortalNotFound: none such
    for this provider). Every attempt is recorded (`portal referral <id>`)."""
    provider_id = _provider_of(actor, None) if actor.role is Role.PROVIDER else None
    query_relation(actor, Query.PROVIDER_REFERRALS)
    what = f"{View.PORTAL_REFERRAL} {referral_id}"
    state = None
    try:
        uuid.UUID(case_id)
        state = await (await app.cases()).state(case_id)
    except (ValueError, CaseNotFound):
        pass
    referral = state.referrals.get(referral_id) if state is not None else None
    if (
        state is None
        or referral is None
        or (provider_id is not None and referral.provider_id != provider_id)
    ):
        await access_log.record(app.pool, actor, case_id[:200] or "-", what, allowed=False)
        raise PortalNotFound(case_id, referral_id)
    await access_log.record(app.pool, actor, case_id, what)
    payload = referral_payload(state, referral)
    goal_domain = payload.pop("goal_domain", None)
    for key in ("referral_id", "service_id"):
        payload.pop(key, None)
    resources = await load_resource_directory(app.store)
    known = resources.providers.get(referral.provider_id)
    found = known.find_service(referral.service_id) if known is not None else None
    service = found.name if found is not None else None
    status = str(referral.status)
    return PortalReferral(
        case_id=case_id,
        referral_id=referral.referral_id,
        provider_id=referral.provider_id,
        service_id=referral.service_id,
        service_name=service,
        goal_domain=goal_domain,
        status=status,
        made_at=referral.made_at,
        updated_at=referral.updated_at,
        reason=referral.reason if status == "declined" else None,
        shared=payload,
        actions=list(_OPEN_TO.get(status, ())),
    )


async def act(
    app: Casework,
    actor: Actor,
    case_id: str,
    referral_id: str,
    action: PortalAction,
    *,
    note: str = "",
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> CommandResult | case_commands.Refusal:
    """Answer the referral as `actor` (its provider): the `referral_reply` or
    `provider_report` command through `case_commands.send` (admission, access log,
    idempotency, the case's rules). A decline needs `reason`, a progress report `note`:
    `Rejected` naming the field, nothing sent."""
    reason = (reason or "").strip() or None
    if action is PortalAction.DECLINE and reason is None:
        return case_commands.Rejected("reason", "a declined referral needs your reason")
    if action is PortalAction.PROGRESS and not note.strip():
        return case_commands.Rejected("note", "a progress report needs its text")
    data: dict[str, Any] = {"referral_id": referral_id}
    if action is PortalAction.PROGRESS:
        data["report"] = note
    else:
        outcome = {
            PortalAction.ACCEPT: "accepted",
            PortalAction.DECLINE: "declined",
            PortalAction.COMPLETE: "completed",
        }[action]
        data |= {"outcome": outcome, "note": note}
        if reason is not None:
            data["reason"] = reason
    return await case_commands.send(
        app, actor, case_id, UPDATES[action], data,
        expected_version=None, idempotency_key=idempotency_key,
    )  # fmt: skip
