"""`casework access-log CASE`: who read a case, when, through which view and why.

For the roles the authorisation policy lets read the access log (auditors and
managers); newest entries first. Refused attempts and emergency ("break the glass")
reads are listed too.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from casework.cli.api_client import api_path
from casework.cli.context import JsonOption
from casework.cli.output import console, emit
from casework.cli.projection_commands import _listed

app = typer.Typer()


@app.command("access-log")
def access_log_command(
    case_id: str = typer.Argument(..., help="The case id."),
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many entries."),
    as_json: bool = JsonOption,
) -> None:
    """Every read of the case's details or history, newest first (auditors, managers)."""
    from application.access_log import AccessEntry

    found = _listed(api_path("/api/v1/cases/{}/access-log", case_id), AccessEntry, as_json)[:limit]
    data = {"case_id": case_id, "entries": [e.model_dump(mode="json") for e in found]}

    def render(_: Any) -> None:
        table = Table(
            "#", "when", "who", "role", "team", "view", "outcome", "reason",
            title=f"Access log of case {case_id}", title_justify="left",
        )  # fmt: skip
        for e in found:
            outcome = "allowed" if e.allowed else "refused"
            if e.break_glass:
                outcome += " [bold red](break glass)[/]"
            table.add_row(
                str(e.access_id),
                f"{e.accessed_at:%Y-%m-%d %H:%M:%S}",
                e.staff_id,
                e.role,
                e.team or "",
                e.view,
                outcome,
                e.reason or "",
            )
        console.print(table)

    emit(data, as_json, render)
