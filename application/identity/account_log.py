"""The account streams over the event store: read (fold, cached), decide and append.

Each staff member's account is the stream `account-<staff_id>`. A change is decided
on the state just read and appended at its version; when another request got there
first (`ConcurrencyError`) it is decided again on the newer state, a few times at
most. The stream version is what serialises concurrent sign-ins of one account, so
five wrong passwords sent at once still lock it.
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from application.bootstrap import Casework
from application.identity.errors import NotAuthenticated
from cases.actors import Actor
from directory import NotFound, load_staff_directory
from directory.accounts import AccountPolicy, AccountState
from events.directory_events import account_stream
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import ConcurrencyError, EventStore
from infrastructure.settings import Settings

log = structlog.get_logger("casework.identity")

MAX_ATTEMPTS = 8
"""How often a change is decided again after losing a race for the account stream."""

_cache: weakref.WeakKeyDictionary[EventStore, dict[str, AccountState]] = weakref.WeakKeyDictionary()


def policy_of(settings: Settings) -> AccountPolicy:
    """The account policy the settings configure."""
    return AccountPolicy(
        max_failures=settings.sign_in_max_failures,
        failure_window=settings.sign_in_failure_window,
        lockout=settings.sign_in_lockout,
        idle_timeout=settings.session_idle_timeout,
        absolute_timeout=settings.session_absolute_timeout,
        invitation_lifetime=settings.invitation_lifetime,
        access_token_max_lifetime=settings.access_token_max_lifetime,
        totp_required_for_admins=settings.totp_required_for_admins,
    )


async def load_account(store: EventStore, staff_id: str) -> AccountState:
    """The account of `staff_id` as of now (reads only events newer than the cached fold)."""
    states = _cache.setdefault(store, {})
    known = states.get(staff_id) or AccountState(staff_id)
    newer = await store.read_stream(account_stream(staff_id), from_version=known.version + 1)
    state = known.fold((store.decode(e), e.occurred_at) for e in newer)
    if state.version > states.get(staff_id, known).version:
        states[staff_id] = state
    return state


async def record(
    app: Casework,
    staff_id: str,
    actor: Actor,
    decide: Callable[[AccountState], Sequence[DomainEvent]],
    *,
    now: datetime,
) -> tuple[AccountState, list[DomainEvent]]:
    """Append what `decide` makes of the current account (events at `now`, `actor` in
    their metadata); the new state and the events. Raises what `decide` raises."""
    metadata = EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value)
    stream = account_stream(staff_id)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = await load_account(app.store, staff_id)
        events = list(decide(state))
        if not events:
            return state, events
        try:
            await app.store.append_domain(
                stream,
                state.version,
                [(uuid.uuid4(), e) for e in events],
                metadata=metadata,
                occurred_at=now,
            )
        except ConcurrencyError:
            log.info("identity.account_conflict", staff_id=staff_id, attempt=attempt)
            continue
        for event in events:
            log.info("identity.account_event", staff_id=staff_id, event_type=event.type)
        return state.fold((e, now) for e in events), events
    raise NotAuthenticated("the account is busy with other requests; try again")


# --- shared by the use cases ------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SECRET_LIKE = re.compile(r"cw[spi]_\S+")
CLIENT_MAX = 200


def client_info(client: str | None) -> str | None:
    """The caller's `client` description as recorded: one line, at most 200 characters,
    anything shaped like a Casework secret removed."""
    if client is None:
        return None
    cleaned = _SECRET_LIKE.sub("[removed]", _CONTROL.sub(" ", client)).strip()
    return cleaned[:CLIENT_MAX].strip() or None


async def active_actor(app: Casework, staff_id: str) -> Actor:
    """The staff member as the directory knows them now; NotAuthenticated when they are
    unknown or deactivated."""
    try:
        return (await load_staff_directory(app.store)).actor(staff_id)
    except NotFound:
        raise NotAuthenticated() from None
