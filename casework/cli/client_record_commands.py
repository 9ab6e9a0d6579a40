"""`casework client show|search|link|unlink|reindex`: finding the client, through the API
(application/clients/use_cases.py). Each client shown with their details is recorded in
the access log as a read of their case; `--break-glass REASON` finds clients outside
your scope, recorded and notified like any emergency read."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from casework.cli.api_client import api_path
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    call,
    read_headers,
    staff_drive,
)
from casework.cli.output import console, emit
from casework.i18n import N_, _

client_app = typer.Typer()
"""Its commands join `casework client` (starter.py)."""

DETAILS = (
    ("date_of_birth", N_("date of birth")),
    ("phone", N_("phone")),
    ("email", N_("email")),
    ("address", N_("address")),
)
"""The client's details `client show` prints, each with its label."""


def _cases(cases: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{c['case_id'][:8]} ({c['status']}, {c['team']}/{c['worker']})" for c in cases
    )


@client_app.command("search")
def search(
    query: str | None = typer.Argument(None, help="A name, in any order, any spelling."),
    dob: str | None = typer.Option(None, "--dob", help="Date of birth, YYYY-MM-DD."),
    phone: str | None = typer.Option(None, "--phone"),
    email: str | None = typer.Option(None, "--email"),
    identifier: str | None = typer.Option(
        None, "--identifier", help="An identifier's value (an NHS or benefits number)."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=100),
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """Find clients by name, date of birth, phone, email or an identifier (best first)."""

    def render(rows: list[dict[str, Any]]) -> None:
        if not rows:
            console.print(_("no client found"))
            return
        table = Table(_("client"), _("name"), _("born"), _("score"), _("cases"))
        for r in rows:
            table.add_row(
                r["client_ref"], r["name"], r["date_of_birth"] or "", f"{r['score']:.0f}",
                _cases(r["cases"]),
            )  # fmt: skip
        console.print(table)

    staff_drive(
        "GET",
        "/api/v1/clients",
        as_json=as_json,
        params={
            "q": query,
            "dob": dob,
            "phone": phone,
            "email": email,
            "identifier": identifier,
            "limit": limit,
        },
        headers=read_headers(None, break_glass),
        render=render,
    )


@client_app.command("show")
def show(
    client_ref: str = typer.Argument(..., help="The client's reference."),
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The client: their details and every case of theirs you may see."""

    def render(d: dict[str, Any]) -> None:
        details = d.get("details")
        if d["forgotten"] or details is None:
            console.print(
                _("client %(ref)s: forgotten (personal details erased)", ref=d["client_ref"])
            )
        else:
            console.print(
                _("client %(ref)s: %(name)s", ref=d["client_ref"], name=details["name"]),
                highlight=False,
            )
            for field, label in DETAILS:
                if details.get(field):
                    console.print(f"  {_(label)}: {details[field]}", highlight=False)
            for key, value in (details.get("identifiers") or {}).items():
                console.print(f"  {key}: {value}", highlight=False)
        table = Table(_("case"), _("status"), _("team"), _("worker"), _("opened"), _("closed"))
        for c in d["cases"]:
            table.add_row(
                c["case_id"], c["status"], c["team"], c["worker"], c["opened_at"][:10],
                (c["closed_at"] or "")[:10],
            )  # fmt: skip
        console.print(table)
        if d["linked"]:
            console.print(_("  the same person as: %(refs)s", refs=", ".join(d["linked"])))

    staff_drive(
        "GET",
        api_path("/api/v1/clients/{}", client_ref),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
        render=render,
    )


@client_app.command("link")
def link(
    client_ref: str,
    other_ref: str,
    reason: str = typer.Option(
        ..., "--reason", help="How it was established (no personal details: not sealed)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Record that two client references are one person (supervisors, managers): they
    are shown together, never merged; `unlink` undoes it."""
    staff_drive(
        "POST",
        api_path("/api/v1/clients/{}/links", client_ref),
        as_json=as_json,
        body={"other_ref": other_ref, "reason": reason},
    )


@client_app.command("unlink")
def unlink(
    client_ref: str,
    other_ref: str,
    reason: str = typer.Option(..., "--reason", help="Why the link was a mistake."),
    as_json: bool = JsonOption,
) -> None:
    """Undo a link: the two references are two people."""
    staff_drive(
        "POST",
        api_path("/api/v1/clients/{}/links/{}/unlink", client_ref, other_ref),
        as_json=as_json,
        body={"reason": reason},
    )


@client_app.command("reindex")
def reindex(as_json: bool = JsonOption) -> None:
    """Build the client index again from the whole log (an operator, on the servers:
    after restoring a backup, or to check it). It also catches up by itself before
    every search, and rebuilds itself when the current master key changes."""
    from application.clients import index

    applied = call(index.rebuild, as_json)
    emit(
        {"events": applied},
        as_json,
        lambda d: console.print(
            _("client index rebuilt from %(count)s event(s)", count=d["events"])
        ),
    )
