"""Forgetting a client: destroy their data key, record ClientForgotten on each case.

Only an admin may. Each running case workflow records the erasure itself (so its state
is erased too); closed cases get the event appended directly. Idempotent: run again, it
destroys nothing more and appends ClientForgotten only where it is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from application.case_client import CaseClient
from application.history_erasure import erase_case_history
from cases import commands as c
from cases.actors import Actor, Role
from events.crypto import FieldCipher
from events.envelope import EventMetadata
from events.keys import CryptoKeyError
from events.registry import event_type_of
from events.store import ConcurrencyError, EventStore
from events.vocabulary import ClientForgotten

log = structlog.get_logger("casework.forget")


class NotAdmin(PermissionError):
    """The acting staff member is not an admin."""


def require_admin(actor: Actor, what: str) -> None:
    if actor.role is not Role.ADMIN:
        raise NotAdmin(f"only an admin may {what}; {actor.staff_id} is a {actor.role.value}")


def field_cipher(store: EventStore) -> FieldCipher:
    """The store's cipher, which holds the client keys (erasure needs one)."""
    if not isinstance(store.cipher, FieldCipher):
        raise CryptoKeyError("forgetting a client needs an EventStore with a FieldCipher")
    return store.cipher


@dataclass(frozen=True)
class ForgetResult:
    client_ref: str
    destroyed_now: bool
    """False when the key had been destroyed before (the command was run again)."""
    streams: tuple[str, ...]
    """Every stream of the client."""
    recorded_in: tuple[str, ...]
    """The streams a ClientForgotten was appended to now (not already there)."""
    histories_deleted: int = 0
    """Temporal workflow runs of the client's cases deleted now (their histories held the
    client's personal data under the shared codec keys)."""
    histories_not_erased: tuple[str, ...] = ()
    """Case workflows whose Temporal histories may still hold personal data (the server
    could not delete them, or a case did not continue as new in time): run forget again."""


FORGET_ATTEMPTS = 5


async def forget_client_in_log(
    store: EventStore,
    client_ref: str,
    reason: str,
    metadata: EventMetadata,
    occurred_at: datetime | None = None,
    record: Callable[[str, ClientForgotten], Awaitable[bool]] | None = None,
) -> ForgetResult:
    """Destroy the client's data key and append ClientForgotten to each of their streams.

    Idempotent: run again, it destroys nothing more and appends only where the event
    is missing. `record(stream_id, event)`, when given, is tried first for each stream:
    it returns True when it recorded the event itself (the case workflow does, so its
    state is erased too), False to let this function append it directly. The caller
    checks that the actor may erase (an admin). Raises
    UnknownClient if the client never had a key, EventValidationError for a bad reason.
    """
    cipher = field_cipher(store)
    event = ClientForgotten(client_ref=client_ref, reason=reason)  # validates first
    destroyed = await cipher.keys.destroy(store.pool, client_ref, event.reason)
    streams = await cipher.keys.streams_of(store.pool, client_ref)
    # Their documents' bytes (sealed with the key just destroyed): deleted too. The
    # documents read model's projector deletes them again on ClientForgotten.
    await store.pool.execute(
        "DELETE FROM document_blobs WHERE 'case-' || case_id::text = ANY($1::text[])", streams
    )
    # Their entries in the client index (application/clients/index.py), which its
    # catch-up deletes again when it reads ClientForgotten.
    await store.pool.execute("DELETE FROM client_index_terms WHERE client_ref = $1", client_ref)
    await store.pool.execute(
        "UPDATE client_index_cases SET forgotten = true WHERE client_ref = $1", client_ref
    )
    recorded: list[str] = []
    for stream_id in streams:
        if await _already_forgotten(store, stream_id):
            continue
        if record is not None and await record(stream_id, event):
            recorded.append(stream_id)
            continue
        for attempt in range(1, FORGET_ATTEMPTS + 1):
            version = await store.stream_version(stream_id)
            try:
                await store.append_domain(
                    stream_id,
                    version,
                    [(uuid.uuid4(), event)],
                    metadata=metadata,
                    occurred_at=occurred_at or datetime.now(UTC),
                )
            except ConcurrencyError:
                if attempt == FORGET_ATTEMPTS:
                    raise
                continue
            recorded.append(stream_id)
            break
    log.info(
        "crypto.client_forgotten",
        client_ref=client_ref,
        destroyed_now=destroyed,
        streams=len(streams),
        recorded=len(recorded),
        actor_id=metadata.actor_id,
    )
    return ForgetResult(client_ref, destroyed, tuple(streams), tuple(recorded))


async def _already_forgotten(store: EventStore, stream_id: str) -> bool:
    found = await store.pool.fetchval(
        "SELECT 1 FROM events WHERE stream_id = $1 AND event_type = $2 LIMIT 1",
        stream_id,
        event_type_of(ClientForgotten),
    )
    return bool(found)


async def forget(
    store: EventStore,
    actor: Actor,
    client_ref: str,
    reason: str,
    cases: CaseClient | None = None,
) -> ForgetResult:
    """Forget a client on behalf of `actor`, who must be an admin.

    With `cases`, each running case workflow records the erasure itself (so its state
    is erased too); closed cases get the event appended directly. Then the Temporal
    histories of the client's cases are erased (application/history_erasure.py): running
    cases continue as new from their erased state and every other run is deleted. Run
    again, it erases whatever is left.
    """
    require_admin(actor, "forget a client")
    metadata = EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value)

    async def through_workflow(stream_id: str, event: ClientForgotten) -> bool:
        if cases is None or not stream_id.startswith("case-"):
            return False
        case_id = stream_id.removeprefix("case-")
        if not await cases.is_running(case_id):
            return False
        await cases.execute(case_id, c.ForgetClient(actor=actor, reason=event.reason))
        return True

    result = await forget_client_in_log(
        store, client_ref, reason, metadata, record=through_workflow
    )
    if cases is None:
        return result
    deleted = 0
    not_erased: list[str] = []
    for stream_id in result.streams:
        if not stream_id.startswith("case-"):
            continue
        erased = await erase_case_history(cases, stream_id.removeprefix("case-"))
        deleted += len(erased.deleted)
        if not erased.erased:
            not_erased.append(erased.workflow_id)
            log.warning("forget.history_not_erased", workflow_id=erased.workflow_id, why=erased.why)
    return replace(result, histories_deleted=deleted, histories_not_erased=tuple(not_erased))


async def rewrap(store: EventStore, actor: Actor) -> int:
    """Re-wrap every data key with the current master key, on behalf of an admin."""
    require_admin(actor, "rewrap the client keys")
    return await field_cipher(store).keys.rewrap(store.pool)
