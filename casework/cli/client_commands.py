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

import typer

from application.bootstrap import Casework
from application.forget import ForgetResult, forget, rewrap
from cases.actors import Actor
from casework.cli.context import AsOption, JsonOption, call_as
from casework.cli.output import console, emit, fail
from events.keys import KeyringError, MasterKeyring

client_app = typer.Typer(help="Clients' personal data: forget a client, rotate master keys.")


# --- commands ----------------------------------------------------------------------------


@client_app.command("forget")
def forget_command(
    client_ref: str = typer.Argument(..., help="The client's reference (as on their cases)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in ClientForgotten)."),
    as_staff: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Erase a client's personal data everywhere by destroying their data key."""

    async def work(app: Casework, actor: Actor) -> ForgetResult:
        return await forget(app.store, actor, client_ref, reason, await app.cases())

    result = call_as(as_staff, work, as_json)

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
    count = call_as(as_staff, lambda app, actor: rewrap(app.store, actor), as_json)
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
