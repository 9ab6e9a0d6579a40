"""`casework backup FILE` and `casework restore FILE`: the whole Casework database
through PostgreSQL's pg_dump / pg_restore, restored only into a new, empty database and
checked against the checkpoints published outside it (application/backup.py,
docs/backup.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from casework.cli.choices import PG_BIN_OPTION
from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import ExitCode, console, emit, err_console, fail, run
from casework.i18n import _

app = typer.Typer(no_args_is_help=False)

PgBinOption = typer.Option(
    None,
    PG_BIN_OPTION,
    envvar="CASEWORK_PG_BIN",
    help="The bin directory of the PostgreSQL client tools (pg_dump, pg_restore). Default: "
    "the installed ones of the server's major version (or newer).",
)


@app.command("backup")
def backup_command(
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The backup file to write (never overwritten)."
    ),
    pg_bin: Path | None = PgBinOption,
    as_json: bool = JsonOption,
) -> None:
    """Back up the whole Casework database (event log, notary tables, identity, outbox,
    read models) with pg_dump -Fc, in one snapshot. The checkpoints published outside the
    database (CASEWORK_CHECKPOINT_DIR) are not in it: keep them where they are."""
    from application.backup import BackupFailed, BackupInputError, backup

    settings = settings_from_context()
    try:
        result = run(backup(settings, file, pg_bin=pg_bin))
    except BackupInputError as exc:
        fail(str(exc), as_json, field=exc.field, kind="invalid")
    except BackupFailed as exc:
        fail(str(exc), as_json, ExitCode.UNAVAILABLE, kind="unavailable")

    def render(d: dict[str, Any]) -> None:
        latest = d["latest_checkpoint"]
        figures = {
            "file": d["file"],
            "bytes": d["bytes"],
            "seconds": d["seconds"],
            "events": d["events"],
            "streams": d["streams"],
            "tree_size": d["tree_size"],
        }
        if latest:
            line = _(
                "backup written: %(file)s (%(bytes)s bytes, %(seconds)s s): %(events)s events "
                "in %(streams)s streams, Merkle tree of %(tree_size)s; latest checkpoint "
                "#%(sequence)s (%(checkpoint_size)s events)",
                **figures,
                sequence=latest["sequence"],
                checkpoint_size=latest["tree_size"],
            )
        else:
            line = _(
                "backup written: %(file)s (%(bytes)s bytes, %(seconds)s s): %(events)s events "
                "in %(streams)s streams, Merkle tree of %(tree_size)s; no checkpoint published "
                "yet",
                **figures,
            )
        console.print(line, highlight=False)

    emit(result.to_json(), as_json, render)


@app.command("restore")
def restore_command(
    file: Path = typer.Argument(..., metavar="FILE", help="A backup made by `casework backup`."),
    pg_bin: Path | None = PgBinOption,
    as_json: bool = JsonOption,
) -> None:
    """Restore a backup into DATABASE_URL, a new, empty database (created if it does not
    exist; refused if it holds anything), then check the restored log against every
    checkpoint published outside the database. Exit 1 on a ROLLBACK: the backup is
    older than the latest checkpoint, and the events written since are missing."""
    from application.backup import BackupFailed, BackupInputError, restore

    settings = settings_from_context()
    try:
        result = run(restore(settings, file, pg_bin=pg_bin))
    except BackupInputError as exc:
        fail(str(exc), as_json, field=exc.field, kind="invalid")
    except BackupFailed as exc:
        fail(str(exc), as_json, ExitCode.UNAVAILABLE, kind="unavailable")

    def render(d: dict[str, Any]) -> None:
        cp = d["checkpoints"]
        figures = {
            "file": d["file"],
            "database": d["database"],
            "seconds": d["seconds"],
            "events": d["events"],
            "streams": d["streams"],
            "tree_size": d["tree_size"],
            "reproduced": cp["reproduced"],
            "checkpoints": cp["checkpoints"],
        }
        if d["renumbered_transactions"]:
            line = _(
                "restored %(file)s into %(database)s (%(seconds)s s): %(events)s events in "
                "%(streams)s streams, Merkle tree of %(tree_size)s; %(reproduced)s of "
                "%(checkpoints)s published checkpoint(s) reproduced; %(renumbered)s "
                "transaction id(s) renumbered below the server's (order kept)",
                **figures,
                renumbered=d["renumbered_transactions"],
            )
        else:
            line = _(
                "restored %(file)s into %(database)s (%(seconds)s s): %(events)s events in "
                "%(streams)s streams, Merkle tree of %(tree_size)s; %(reproduced)s of "
                "%(checkpoints)s published checkpoint(s) reproduced",
                **figures,
            )
        console.print(line, highlight=False)
        if d["ok"]:
            console.print(
                _(
                    "next: run `casework verify`, then bring running cases in line with the "
                    "log (docs/backup.md)"
                ),
                highlight=False,
            )

    emit(result.to_json(), as_json, render)
    label = escape(_("error:"))
    if result.rollback is not None:
        err_console.print(f"[bold red]{label}[/] {escape(result.rollback.line())}", soft_wrap=True,
                          highlight=False)  # fmt: skip
        raise typer.Exit(ExitCode.REFUSED)
    if result.problems:
        for problem in result.problems:
            found = escape(_("checkpoints: %(problem)s", problem=problem))
            err_console.print(f"[bold red]{label}[/] {found}", soft_wrap=True, highlight=False)
        raise typer.Exit(ExitCode.REFUSED)
