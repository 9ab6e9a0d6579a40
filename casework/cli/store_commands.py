"""Commands over the event store itself: migrate, verify."""

from __future__ import annotations

import asyncpg
import typer
from rich.table import Table

from casework.cli.output import JsonOption, console, emit, run
from casework.db import apply_migrations, database_url
from casework.settings import get_settings
from events.chain import VerifyReport, verify_chains

app = typer.Typer(no_args_is_help=False)


@app.command("migrate")
def migrate_command(as_json: bool = JsonOption) -> None:
    """Apply the database migrations not yet applied (safe to run twice)."""
    applied = run(apply_migrations(database_url(get_settings())))
    emit(
        {"applied": applied},
        as_json,
        lambda d: console.print(
            f"applied {len(d['applied'])} migration(s)"
            + ("".join(f"\n  {v}" for v in d["applied"]))
        ),
    )


async def _verify(dsn: str) -> VerifyReport:
    conn = await asyncpg.connect(dsn)
    try:
        return await verify_chains(conn)
    finally:
        await conn.close()


@app.command("verify")
def verify_command(as_json: bool = JsonOption) -> None:
    """Recompute every stream's hash chain; exit 1 naming the first broken event."""
    report = run(_verify(database_url(get_settings())))
    data = {
        "ok": report.ok,
        "streams": report.streams,
        "events": report.events,
        "findings": [
            {
                "stream_id": f.stream_id,
                "stream_version": f.stream_version,
                "event_id": str(f.event_id) if f.event_id else None,
                "global_position": f.global_position,
                "problem": f.problem,
            }
            for f in report.findings
        ],
    }

    def render(d: dict[str, object]) -> None:
        if report.ok:
            console.print(
                f"[green]ok[/]: {report.events} events in {report.streams} streams, "
                "every hash chain intact"
            )
            return
        console.print(
            f"[bold red]{len(report.findings)} broken chain(s)[/]; first: {report.findings[0]}"
        )
        table = Table("stream", "version", "event", "position", "problem")
        for f in report.findings:
            table.add_row(
                f.stream_id,
                str(f.stream_version),
                str(f.event_id),
                str(f.global_position),
                f.problem,
            )
        console.print(table)

    emit(data, as_json, render)
    if not report.ok:
        raise typer.Exit(1)
