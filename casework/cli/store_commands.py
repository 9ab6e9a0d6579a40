"""Commands over the event store itself: migrate, verify."""

from __future__ import annotations

import typer
from rich.markup import escape

from casework.cli.context import JsonOption, call, settings_from_context
from casework.cli.output import console, emit, run
from casework.i18n import _

# Operator commands: each imports the server side when it runs.

app = typer.Typer(no_args_is_help=False)


@app.command("migrate")
def migrate_command(as_json: bool = JsonOption) -> None:
    """Apply the database migrations not yet applied (safe to run twice)."""
    from application.migrations import apply_migrations
    from infrastructure.database import database_url

    applied = run(apply_migrations(database_url(settings_from_context())))
    emit(
        {"applied": applied},
        as_json,
        lambda d: console.print(
            _("applied %(count)s migration(s)", count=len(d["applied"]))
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
    from application.consistency import verify
    from infrastructure.keys import CODEC, MASTER, ORIGIN, require_keys

    needed = (MASTER, ORIGIN) if chains_only else (CODEC, MASTER, ORIGIN)
    require_keys(settings_from_context(), needed, "casework verify")
    report = call(lambda app: verify(app, chains_only=chains_only), as_json)
    chains = report.chains
    data = {
        "ok": report.ok,
        "streams": chains.streams,
        "events": chains.events,
        "open_cases": report.open_cases,
        "running_workflows": report.running_workflows,
        "findings": report.findings,
        "chain_findings": [f.to_json() for f in chains.findings],
        "origins": None
        if report.origins is None
        else {
            "ok": report.origins.ok,
            "signed": report.origins.signed,
            "before_proofs": report.origins.before_proofs,
            "problems": report.origins.problems,
            "findings": [f.to_json() for f in report.origins.findings],
        },
        "checkpoints": None
        if report.checkpoints is None
        else {
            "ok": report.checkpoints.ok,
            "checkpoints": report.checkpoints.checkpoints,
            "reproduced": report.checkpoints.checkpoints_reproduced,
            "notarised": report.checkpoints.notarised,
            "findings": [f.to_json() for f in report.checkpoints.findings],
        },
    }

    def render(_data: dict[str, object]) -> None:
        if report.ok:
            parts = [
                _(
                    "%(events)s events in %(streams)s streams, every hash chain intact",
                    events=chains.events,
                    streams=chains.streams,
                )
            ]
            if report.origins is not None:
                parts.append(
                    _(
                        "%(signed)s with a valid origin proof, %(before)s from before origin "
                        "proofs (covered by the first checkpoint)",
                        signed=report.origins.signed,
                        before=report.origins.before_proofs,
                    )
                )
            if report.checkpoints is not None:
                parts.append(
                    _(
                        "%(reproduced)s signed checkpoint(s) reproduced (%(notarised)s events "
                        "notarised)",
                        reproduced=report.checkpoints.checkpoints_reproduced,
                        notarised=report.checkpoints.notarised,
                    )
                )
            parts.append(
                _(
                    "%(open)s open case(s), %(running)s running workflow(s)",
                    open=report.open_cases,
                    running=report.running_workflows,
                )
            )
            if not chains_only:
                parts.append(_("read models equal a rebuild"))
            label = escape(_("ok"))
            console.print(f"[green]{label}[/]: " + "; ".join(parts))
            return
        found = escape(_("%(count)s finding(s)", count=len(report.findings)))
        console.print(f"[bold red]{found}[/]:")
        for finding in report.findings:
            console.print(f"  - {finding}", highlight=False)

    emit(data, as_json, render)
    if not report.ok:
        raise typer.Exit(1)
