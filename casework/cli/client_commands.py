"""`casework client …`: a client's personal data and the keys that protect it.

* `forget CLIENT_REF --reason …` (an admin, signed in) destroys the client's data key: every
  personal field of every event of theirs reads as erased from then on, and a
  ClientForgotten event is appended to each of their cases. The events, the hash
  chains and the stream versions stay as they were. Run again, it changes nothing
  more (and appends ClientForgotten only where it is missing).
* `rewrap` (an admin, signed in) re-wraps every data key with the current master key (the first
  of CASEWORK_MASTER_KEYS), after which older master keys may be removed.
* `new-master-key` prints a fresh `id:base64` master key to put in front of
  CASEWORK_MASTER_KEYS.

Only admins forget clients or rewrap keys. Every command takes `--json`; a refused
command exits 1 with the reason on stderr.
"""

from __future__ import annotations

import typer

from casework.cli.api_client import api_path
from casework.cli.context import JsonOption, staff_call
from casework.cli.output import console, emit, fail
from casework.i18n import _

client_app = typer.Typer(help="Clients' personal data: forget a client, rotate master keys.")


# --- commands ----------------------------------------------------------------------------


@client_app.command("forget")
def forget_command(
    client_ref: str = typer.Argument(..., help="The client's reference (as on their cases)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in ClientForgotten)."),
    yes: bool = typer.Option(
        False, "--yes", help="Do not ask to confirm (forgetting cannot be undone)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Erase a client's personal data everywhere by destroying their data key."""
    confirm = client_ref
    if not yes:
        confirm = typer.prompt(
            _(
                "This cannot be undone. Type the client's reference (%(ref)s) to forget them",
                ref=client_ref,
            ),
            err=True,
        ).strip()
    result = staff_call(
        "POST",
        api_path("/api/v1/clients/{}/forget", client_ref),
        as_json=as_json,
        body={"reason": reason, "confirm": confirm},
    )

    def render(_data: object) -> None:
        counts = {
            "ref": f"[bold]{result['client_ref']}[/]",
            "cases": len(result["streams"]),
            "recorded": len(result["recorded_in"]),
            "runs": result.get("histories_deleted", 0),
        }
        line = (
            _(
                "client %(ref)s forgotten: data key destroyed; %(cases)s case(s), "
                "ClientForgotten recorded in %(recorded)s now; %(runs)s Temporal run(s) deleted",
                **counts,
            )
            if result["destroyed_now"]
            else _(
                "client %(ref)s already forgotten: data key destroyed; %(cases)s case(s), "
                "ClientForgotten recorded in %(recorded)s now; %(runs)s Temporal run(s) deleted",
                **counts,
            )
        )
        console.print(line, highlight=False)
        for workflow_id in result.get("histories_not_erased", []):
            label = _("warning:")
            console.print(
                f"[yellow]{label}[/] "
                + _(
                    "the Temporal history of %(workflow)s may still hold personal data (see "
                    "the server log); run forget again",
                    workflow=workflow_id,
                ),
                highlight=False,
            )

    emit({"ok": True, **result}, as_json, render)


@client_app.command("rewrap")
def rewrap_command(as_json: bool = JsonOption) -> None:
    """Re-wrap every client data key with the current master key (after a rotation)."""
    count = staff_call("POST", "/api/v1/client-keys/rewrap", as_json=as_json)["rewrapped"]
    emit(
        {"ok": True, "rewrapped": count},
        as_json,
        lambda _d: console.print(
            _("re-wrapped %(count)s data key(s)", count=count), highlight=False
        ),
    )


@client_app.command("new-master-key")
def new_master_key_command(
    key_id: str | None = typer.Option(None, "--id", help="The new key's id."),
) -> None:
    """Print a new master key as `id:base64`, to put first in CASEWORK_MASTER_KEYS."""
    from events.keys import KeyringError, MasterKeyring

    try:
        keyring = MasterKeyring.generate(key_id)
    except KeyringError as exc:
        fail(str(exc))
    console.print(keyring.to_spec(), highlight=False, soft_wrap=True)
