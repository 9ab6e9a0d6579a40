"""Commands over the event store itself: migrate, verify."""

from __future__ import annotations

import typer

from application.consistency import verify
from application.migrations import apply_migrations
from casework.cli.context import JsonOption, call, settings_from_context
from casework.cli.output import console, emit, run
from infrastructure.database import database_url

app = typer.Typer(no_args_is_help=False)


@app.command("migrate")
def migrate_command(as_json: bool = JsonOption) -> None:
    """Apply the database migrations not yet applied (safe to run twice)."""
    applied = run(apply_migrations(database_url(settings_from_context())))
    emit(
        {"applied": applied},
        as_json,
        lambda d: console.print(
            f"applied {len(d['applied'])} migration(s)"
            + ("".join(f"\n  {v}" for v in d["applied"]))
        ),
    )


@app.command("verify")
def verify_command(
    chains_only: bool = typer.Option(
        False, "--chains-only", help="Only the hash chains (no Temporal, no read models)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check everything agrees: hash chains and versions, workflows against the log,
    read models against a rebuild. Exit 1 with the list of findings."""
    report = call(lambda app: verify(app, chains_only=chains_only), as_json)
    chains = report.chains
    data = {
        "ok": report.ok,
        "streams": chains.streams,
        "events": chains.events,
        "open_cases": report.open_cases,
        "running_workflows": report.running_workflows,
        "findings": report.findings,
        "chain_findings": [
            {
                "stream_id": f.stream_id,
                "stream_version": f.stream_version,
                "event_id": str(f.event_id) if f.event_id else None,
                "global_position": f.global_position,
                "problem": f.problem,
            }
            for f in chains.findings
        ],
    }

    def render(_: dict[str, object]) -> None:
        if report.ok:
            console.print(
                f"[green]ok[/]: {chains.events} events in {chains.streams} streams, every hash "
                f"chain intact; {report.open_cases} open case(s), "
                f"{report.running_workflows} running workflow(s)"
                + ("" if chains_only else "; read models equal a rebuild")
            )
            return
        console.print(f"[bold red]{len(report.findings)} finding(s)[/]:")
        for finding in report.findings:
            console.print(f"  - {finding}", highlight=False)

    emit(data, as_json, render)
    if not report.ok:
        raise typer.Exit(1)
