"""The notary on the command line: `casework notary` runs it; `casework notary
checkpoint` publishes a checkpoint now; `casework notary keygen` makes a signing key."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import console, emit, fail, run, stop_on_signals
from casework.i18n import _

# Operator commands: each imports the server side when it runs.

notary_app = typer.Typer(
    help="The notary: the Merkle tree of the log and its signed checkpoints.",
    invoke_without_command=True,
)


@notary_app.callback()
def notary_command(ctx: typer.Context) -> None:
    """Run the notary (without a subcommand): keep the Merkle tree of the log and publish a
    signed checkpoint every CASEWORK_CHECKPOINT_INTERVAL when it grew, until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    from application.notary import run_notary
    from infrastructure.database import database_url
    from infrastructure.keys import NOTARY_SIGNING, require_keys

    require_keys(settings_from_context(), (NOTARY_SIGNING,), "casework notary")

    async def go() -> None:
        shutdown = stop_on_signals()
        settings = settings_from_context()
        await run_notary(settings, dsn=database_url(settings), shutdown=shutdown)

    run(go())


@notary_app.command("checkpoint")
def checkpoint_command(as_json: bool = JsonOption) -> None:
    """Bring the tree up to the log and publish a checkpoint now (if the log grew)."""
    from application.notary import checkpoint_now
    from events.checkpoints import CheckpointError
    from infrastructure.database import database_url
    from infrastructure.keys import NOTARY_SIGNING, require_keys

    settings = settings_from_context()
    require_keys(settings, (NOTARY_SIGNING,), "casework notary checkpoint")
    try:
        signed = run(checkpoint_now(settings, database_url(settings)))
    except CheckpointError as exc:
        fail(_("checkpoint refused: %(error)s", error=exc), as_json)
    data = None if signed is None else signed.to_json()
    emit(
        {"published": data},
        as_json,
        lambda d: console.print(
            _("nothing to publish: the log did not grow since the latest checkpoint")
            if d["published"] is None
            else _(
                "checkpoint #%(sequence)s: %(size)s events, root %(root)s, key %(key)s",
                sequence=d["published"]["sequence"],
                size=d["published"]["tree_size"],
                root=d["published"]["root_hash"],
                key=d["published"]["key_id"],
            )
        ),
    )


@notary_app.command("keygen")
def keygen_command(
    out: Path = typer.Argument(..., help="Where to write the new private key (PEM, mode 0600)."),
    as_json: bool = JsonOption,
) -> None:
    """Make a new checkpoint signing key (for a rotation): add the printed public-key line
    to CASEWORK_NOTARY_PUBLIC_KEYS, keep the old lines, point CASEWORK_NOTARY_KEY_FILE at it."""
    from events.checkpoints import NotaryKey, public_key_line

    key = NotaryKey.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        fail(
            _("out: cannot create %(path)s (%(reason)s)", path=out, reason=exc.strerror),
            as_json,
            field="out",
        )
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
    line = public_key_line(key.public)
    emit(
        {"key_id": key.key_id, "path": str(out), "public_key_line": line},
        as_json,
        lambda d: console.print(
            _("%(path)s: key %(key)s", path=d["path"], key=d["key_id"])
            + f"\n{d['public_key_line']}"
        ),
    )
