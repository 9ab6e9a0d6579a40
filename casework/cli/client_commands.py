"""`casework client …`: a client's personal data and the keys that protect it.

* `forget CLIENT_REF --reason … --as ADMIN` destroys the client's data key: every
  personal field of every event of theirs reads as erased from then on, and a
  ClientForgotten event is appended to each of their cases. The events, the hash
  chains and the stream versions stay as they were. Run again, it changes nothing
  more (and appends ClientForgotten only where it is missing).
* `rewrap --as ADMIN` re-wraps every data key with the current master key (the first
  of CASEWORK_MASTER_KEYS), after which older master keys may be removed.
* `new-master-key` prints a fresh `id:base64` master key to put in front of
  CASEWORK_MASTER_KEYS.

Only admins forget clients or rewrap keys. Every command takes `--json`; a refused
command exits 1 with the reason on stderr.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer

from cases import commands as c
from cases.actors import Actor, Role
from casework.case_client import CaseClient, CaseCommandRejected
from casework.cli.output import JsonOption, console, emit, fail, run
from casework.db import create_pool, database_url
from casework.settings import get_settings
from casework.temporal import connect
from directory import DirectoryError, resolve_actor
from events.crypto import FieldCipher, ForgetResult, forget_client
from events.envelope import EventMetadata
from events.keys import CryptoKeyError, KeyringError, MasterKeyring
from events.registry import EventValidationError
from events.store import EventStore
from events.vocabulary import ClientForgotten

client_app = typer.Typer(help="Clients' personal data: forget a client, rotate master keys.")

T = TypeVar("T")

AsOption = typer.Option(..., "--as", help="Your staff id; only admins may do this.")


class NotAdmin(PermissionError):
    """The acting staff member is not an admin."""


# --- what the commands do (usable without the command line) ---------------------------------


def require_admin(actor: Actor, what: str) -> None:
    if actor.role is not Role.ADMIN:
        raise NotAdmin(f"only an admin may {what}; {actor.staff_id} is a {actor.role.value}")


async def forget(
    store: EventStore,
    client_ref: str,
    reason: str,
    as_staff: str,
    cases: CaseClient | None = None,
) -> ForgetResult:
    """Forget a client on behalf of the admin `as_staff` (see `events.crypto.forget_client`).

    With `cases`, each running case workflow records the erasure itself (so its state
    is erased too); closed cases get the event appended directly.
    """
    actor = await resolve_actor(store, as_staff)
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

    return await forget_client(store, client_ref, reason, metadata, record=through_workflow)


async def rewrap(store: EventStore, as_staff: str) -> int:
    """Re-wrap every data key with the current master key, on behalf of an admin."""
    actor = await resolve_actor(store, as_staff)
    require_admin(actor, "rewrap the client keys")
    if store.cipher is None:
        raise CryptoKeyError("rewrap needs an EventStore with a cipher")
    return await store.cipher.keys.rewrap(store.pool)


# --- plumbing ----------------------------------------------------------------------------


async def _with_store(work: Callable[[EventStore], Awaitable[T]]) -> T:
    settings = get_settings()
    cipher = FieldCipher(settings.master_keyring())
    pool = await create_pool(database_url(settings), min_size=1, max_size=2)
    try:
        return await work(EventStore(pool, cipher=cipher))
    finally:
        await pool.close()


async def _with_cases(work: Callable[[EventStore, CaseClient], Awaitable[T]]) -> T:
    settings = get_settings()

    async def both(store: EventStore) -> T:
        client = await connect(settings)
        return await work(store, CaseClient(client, settings.task_queue, store))

    return await _with_store(both)


def _execute(work: Callable[[EventStore], Awaitable[T]], as_json: bool) -> T:
    try:
        return run(_with_store(work))
    except (DirectoryError, NotAdmin, CryptoKeyError, EventValidationError) as exc:
        fail(str(exc), as_json)
    except asyncpg.UndefinedTableError:
        fail("the event log or key tables are missing: run `casework migrate` first", as_json)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        fail(f"database unavailable: {exc}", as_json)


# --- commands ----------------------------------------------------------------------------


@client_app.command("forget")
def forget_command(
    client_ref: str = typer.Argument(..., help="The client's reference (as on their cases)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in ClientForgotten)."),
    as_staff: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Erase a client's personal data everywhere by destroying their data key."""
    try:
        result = run(_with_cases(lambda s, cases: forget(s, client_ref, reason, as_staff, cases)))
    except (DirectoryError, NotAdmin, CryptoKeyError, EventValidationError) as exc:
        fail(str(exc), as_json)
    except CaseCommandRejected as exc:
        fail(f"a case refused the erasure: {exc}", as_json)
    except RuntimeError as exc:
        fail(f"Temporal unavailable (start the stack with `casework up`): {exc}", as_json)

    def render(_data: object) -> None:
        state = "forgotten" if result.destroyed_now else "already forgotten"
        console.print(
            f"client [bold]{result.client_ref}[/] {state}: data key destroyed; "
            f"{len(result.streams)} case(s), ClientForgotten recorded in "
            f"{len(result.recorded_in)} now",
            highlight=False,
        )

    emit(
        {
            "ok": True,
            "client_ref": result.client_ref,
            "destroyed_now": result.destroyed_now,
            "streams": list(result.streams),
            "recorded_in": list(result.recorded_in),
        },
        as_json,
        render,
    )


@client_app.command("rewrap")
def rewrap_command(as_staff: str = AsOption, as_json: bool = JsonOption) -> None:
    """Re-wrap every client data key with the current master key (after a rotation)."""
    count = _execute(lambda s: rewrap(s, as_staff), as_json)
    emit(
        {"ok": True, "rewrapped": count},
        as_json,
        lambda _d: console.print(f"re-wrapped {count} data key(s)", highlight=False),
    )


@client_app.command("new-master-key")
def new_master_key_command(
    key_id: str | None = typer.Option(None, "--id", help="The new key's id."),
) -> None:
    """Print a new master key as `id:base64`, to put first in CASEWORK_MASTER_KEYS."""
    try:
        keyring = MasterKeyring.generate(key_id)
    except KeyringError as exc:
        fail(str(exc))
    console.print(keyring.to_spec(), highlight=False, soft_wrap=True)
