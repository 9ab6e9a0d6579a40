"""Sending a command to a case: one use case for every entry point (issue 29).

The HTTP API (`POST /api/v1/cases/{id}/commands/{update}`, `…/referrals`) and every form
of the console (the case page, the approvals inbox, the transfers inbox) translate their
input into a call here and the answer back into theirs; none of them checks access,
writes the access log, resolves staff, checks references or claims an idempotency key
itself. The steps, in order:

1. **Admission** (`admit`): an id that is no case id is not found. A role the access
   table (cases/access.py `COMMANDS`, the row of the command table's `action`) never
   allows the command is refused whatever the case. Otherwise the case is located
   (application/case_visibility.py: the read model when it is current for the case's
   team and worker, else the workflow; for a transfer reply the workflow, whose pending
   transfer names the receiving side) and the table judges the caller against it. A
   caller it refuses who may not see the case gets `NotFound`, exactly as for a case that
   does not exist; one who may see it `NotPermitted` with the table's reason. Each
   refusal is recorded in the access log first (`command <update>`, not allowed).
   A provider (the `referred` relation) is judged on the referral the command names,
   from the workflow's state: another provider's referral, or none, is `NotFound`
   (providers see no case, so nothing tells them it exists).
2. **The command**: staff the command names are resolved in the staff directory (a
   field typed `Actor` is sent as a staff id; `Rejected` naming the field otherwise),
   the command's model validates the data (`Invalid`), and what it names must exist
   (application/references.py; `Rejected`).
3. **Idempotency** (application/idempotency.py): a key is claimed for this caller, case,
   command and body; a key used before for another request is `IdempotencyMismatch`.
4. **The case**: the case client sends it to the workflow, whose rules decide (the
   approval rule among them, cases/access.py `approval_refusal`): `VersionConflict`
   with the current version, `RuleRefused` with the rule's reason, or the result.

Refusals are returned, not raised: each entry point maps every kind (the API to
404/403/422/412/409 problems, the console to its pages and messages).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from application import access_log, idempotency, referrals
from application.access_log import CaseLocation
from application.bootstrap import Casework
from application.case_client import CaseCommandRejected, CaseNotFound, CaseVersionConflict
from application.case_visibility import locate
from application.references import UnknownReference, check_references
from cases import commands as c
from cases.access import (
    COMMANDS,
    AccessDenied,
    Action,
    CaseNotVisible,
    Query,
    check,
    decide_read,
    judged_location,
)
from cases.access import NotPermitted as TableRefused
from cases.actors import Actor
from cases.command_table import BY_UPDATE
from directory import DirectoryError
from events.vocabulary import SharedField
from workflows.case import CommandResult

REFER = "refer"
"""The referral's update: sent with `refer` (its channel comes from the resource directory)."""


# --- the answers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NotFound:
    """No such case, or not visible to the caller (deliberately the same)."""

    case_id: str


@dataclass(frozen=True)
class NotPermitted:
    """The access table refuses the caller this command on this case (a case they may
    see); `for_role`: their role may never send it, whatever the case."""

    reason: str
    for_role: bool = False


@dataclass(frozen=True)
class Rejected:
    """Something the command names does not exist: a staff id, a provider, a service."""

    field: str
    reason: str
    text: str = ""
    """The refusal as one line (`field: reason` unless the reason names its field)."""

    def __post_init__(self) -> None:
        if not self.text:
            object.__setattr__(self, "text", f"{self.field}: {self.reason}")


@dataclass(frozen=True)
class Invalid:
    """The command's model refused the data (field by field in `error`)."""

    error: ValidationError


@dataclass(frozen=True)
class IdempotencyMismatch:
    """The idempotency key was used before for another request."""

    reason: str


@dataclass(frozen=True)
class VersionConflict:
    """The case moved on since the version the command was sent for."""

    reason: str
    current: int


@dataclass(frozen=True)
class RuleRefused:
    """The case's rules refused the command; nothing was written."""

    reason: str


Refusal = (
    NotFound
    | NotPermitted
    | Rejected
    | Invalid
    | IdempotencyMismatch
    | VersionConflict
    | RuleRefused
)
Admission = NotFound | NotPermitted


@dataclass(frozen=True)
class Admitted:
    """The caller may send `update` to the case (the refusals are on record)."""

    actor: Actor
    case_id: str
    update: str
    location: CaseLocation
    """Where the case stood when it was judged (its team and worker)."""


# --- 1. admission ------------------------------------------------------------------------------


def _action(update: str) -> Action:
    return BY_UPDATE[update].action


async def _refused(app: Casework, actor: Actor, case_id: str, update: str) -> None:
    await access_log.record(app.pool, actor, case_id, f"command {update}", allowed=False)


async def admit(
    app: Casework, actor: Actor, case_id: str, update: str, *, referral_id: str | None = None
) -> Admitted | Admission:
    """May `actor` send the command `update` to the case? Refusals are recorded.

    `referral_id`: the referral the command is about, for a provider's admission (the
    `referred` relation of the access table)."""
    try:
        uuid.UUID(case_id)
    except ValueError:
        return NotFound(case_id)
    action = _action(update)
    if COMMANDS[action].get(actor.role) is None:
        await _refused(app, actor, case_id, update)
        return NotPermitted(f"{actor.staff_id} ({actor.role}) may not {action} cases", True)
    referral_provider: str | None = None
    team: str
    worker: str | None
    if COMMANDS[action][actor.role] == "referred":  # a provider: judged on the referral
        try:
            state = await (await app.cases()).state(case_id)
        except CaseNotFound:
            await _refused(app, actor, case_id, update)
            return NotFound(case_id)
        location = CaseLocation(team=state.team, worker=state.assigned_worker)
        team, worker = location.team, location.worker
        referral = state.referrals.get(referral_id) if referral_id is not None else None
        referral_provider = referral.provider_id if referral is not None else None
    elif action is Action.TRANSFER_REPLY:  # judged from the receiving side: the workflow's
        try:
            state = await (await app.cases()).state(case_id)
        except CaseNotFound:
            await _refused(app, actor, case_id, update)
            return NotFound(case_id)
        location = CaseLocation(team=state.team, worker=state.assigned_worker)
        team, worker = judged_location(actor, action, state)
    else:
        found = await locate(app, case_id)
        if found is None:
            await _refused(app, actor, case_id, update)
            return NotFound(case_id)
        location, (team, worker) = found, (found.team, found.worker)
    try:
        check(actor, action, team=team, assigned_worker=worker, referral_provider=referral_provider)
    except TableRefused as exc:
        refusal = str(exc)
    else:
        return Admitted(actor, case_id, update, location)
    await _refused(app, actor, case_id, update)
    try:
        decide_read(actor, Query.CASE_DETAILS, case_id, team=location.team, worker=location.worker)
    except (CaseNotVisible, AccessDenied):
        return NotFound(case_id)
    return NotPermitted(refusal)


# --- 2-4. the command, its key, the case ------------------------------------------------------


async def _resolve_staff(
    app: Casework, command: type[c.Command], data: dict[str, Any]
) -> Rejected | None:
    """Staff ids in the fields typed `Actor` → the staff members (in place)."""
    for name, info in command.model_fields.items():
        value = data.get(name)
        if info.annotation in (Actor, Actor | None) and isinstance(value, str) and value:
            try:
                data[name] = await app.actor(value)
            except (LookupError, DirectoryError) as exc:
                return Rejected(name, str(exc))
    return None


async def _execute(
    app: Casework,
    actor: Actor,
    case_id: str,
    cmd: c.Command,
    *,
    idempotency_key: str | None,
    key_body: Any,
    target: str,
) -> CommandResult | Refusal:
    update_id = None
    if idempotency_key is not None:
        try:
            update_id = await idempotency.claim(
                app.pool, actor.staff_id, idempotency_key, target, key_body
            )
        except idempotency.IdempotencyKeyReused as exc:
            return IdempotencyMismatch(str(exc))
    return await _deliver(app, case_id, update_id, cmd)


async def _deliver(
    app: Casework, case_id: str, update_id: str | None, cmd: c.Command
) -> CommandResult | Refusal:
    try:
        return await (await app.cases()).execute(case_id, cmd, update_id=update_id)
    except CaseVersionConflict as exc:
        return VersionConflict(str(exc), exc.current_version)
    except CaseCommandRejected as exc:
        return RuleRefused(str(exc))
    except CaseNotFound:
        return NotFound(case_id)


async def send(
    app: Casework,
    actor: Actor,
    case_id: str,
    update: str,
    data: Mapping[str, Any],
    *,
    expected_version: int | None,
    idempotency_key: str | None = None,
    key_body: Any = None,
    admitted: Admitted | None = None,
) -> CommandResult | Refusal:
    """Send the command `update` of the command table to the case, as `actor`.

    `data`: the command's fields but the actor and the version (staff named by their
    ids). `expected_version`: the version the caller saw (None: the case as it stands).
    `idempotency_key`: claimed for `key_body` (default: `data`). `admitted`: the
    caller's admission, when the entry point had to admit first (a form it parses only
    once the caller may send it); otherwise `admit` runs here.
    """
    if admitted is None:
        named = data.get("referral_id")
        answer = await admit(
            app, actor, case_id, update, referral_id=named if isinstance(named, str) else None
        )
        if not isinstance(answer, Admitted):
            return answer
        admitted = answer
    assert (admitted.actor, admitted.update) == (actor, update), "admitted for another command"
    entry = BY_UPDATE[update]
    fields = dict(data)
    unknown = await _resolve_staff(app, entry.command, fields)
    if unknown is not None:
        return unknown
    try:
        cmd: c.Command = entry.command.model_validate(
            {**fields, "actor": actor, "expected_version": expected_version}
        )
    except ValidationError as exc:
        return Invalid(exc)
    try:
        await check_references(app.store, cmd)
    except UnknownReference as exc:
        return Rejected(exc.field, exc.message)
    return await _execute(
        app, actor, admitted.case_id, cmd,
        idempotency_key=idempotency_key,
        key_body=dict(data) if key_body is None else key_body,
        target=f"case-{admitted.case_id}/{type(cmd).__name__}",
    )  # fmt: skip


async def refer(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    provider: str,
    service: str,
    goal: str,
    shared_fields: list[SharedField],
    note: str = "",
    expected_version: int | None,
    idempotency_key: str | None = None,
    key_body: Any = None,
    admitted: Admitted | None = None,
) -> CommandResult | Refusal:
    """Refer the case's client to `provider`'s `service` for `goal` (application/referrals:
    the channel from the resource directory), through the same steps as `send`."""
    if admitted is None:
        answer = await admit(app, actor, case_id, REFER)
        if not isinstance(answer, Admitted):
            return answer
        admitted = answer
    update_id = None
    if idempotency_key is not None:
        body = key_body if key_body is not None else {
            "provider": provider, "service": service, "goal": goal,
            "shared_fields": [str(f) for f in shared_fields], "note": note,
        }  # fmt: skip
        try:
            update_id = await idempotency.claim(
                app.pool, actor.staff_id, idempotency_key, f"case-{admitted.case_id}/Refer", body
            )
        except idempotency.IdempotencyKeyReused as exc:
            return IdempotencyMismatch(str(exc))
    try:
        return await referrals.refer(
            app, actor, admitted.case_id,
            provider=provider, service=service, goal=goal, shared_fields=shared_fields,
            note=note, expected_version=expected_version, update_id=update_id,
        )  # fmt: skip
    except CaseNotFound:
        return NotFound(admitted.case_id)
    except (LookupError, DirectoryError) as exc:
        return Rejected("provider", str(exc), str(exc))
    except CaseVersionConflict as exc:
        return VersionConflict(str(exc), exc.current_version)
    except CaseCommandRejected as exc:
        return RuleRefused(str(exc))
