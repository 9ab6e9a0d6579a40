"""Commands over the event store itself: migrate, verify."""

from __future__ import annotations

import typer

from casework.cli.output import JsonOption, console, emit, fail, run
from casework.consistency import ConsistencyReport, check_consistency
from casework.db import apply_migrations, create_pool, database_url
from casework.settings import Settings, get_settings
from casework.temporal import connect
from events.store import EventStore

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


async def _verify(settings: Settings, chains_only: bool) -> ConsistencyReport:
    dsn = database_url(settings)
    pool = await create_pool(dsn, max_size=3)
    try:
        store = EventStore(pool)
        client = None
        if not chains_only:
            try:
                client = await connect(settings)
            except RuntimeError as exc:
                raise VerifyUnavailable(
                    f"Temporal at {settings.temporal_address} is not answering ({exc}); "
                    "start the stack, or run `casework verify --chains-only`"
                ) from exc
        return await check_consistency(dsn, store, client, read_models=not chains_only)
    finally:
        await pool.close()


class VerifyUnavailable(RuntimeError):
    pass


@app.command("verify")
def verify_command(
    chains_only: bool = typer.Option(
        False, "--chains-only", help="Only the hash chains (no Temporal, no read models)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check everything agrees: hash chains and versions, workflows against the log,
    read models against a rebuild. Exit 1 with the list of findings."""
    try:
        report = run(_verify(get_settings(), chains_only))
    except VerifyUnavailable as exc:
        fail(str(exc), as_json)
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
