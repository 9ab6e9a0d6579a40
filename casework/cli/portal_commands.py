"""`casework portal …`: the provider portal from the command line, as the signed-in
provider member (a client of `/api/v1/portal`, casework/api/portal.py).

    casework portal list [--status S]
    casework portal show CASE_ID REFERRAL_ID
    casework portal accept|complete CASE_ID REFERRAL_ID [--note TEXT]
    casework portal decline CASE_ID REFERRAL_ID --reason TEXT
    casework portal progress CASE_ID REFERRAL_ID --note TEXT

Another provider's referral answers as one that does not exist (exit code of a refusal).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape

from casework.cli.api_client import api_path
from casework.cli.context import JsonOption, staff_call
from casework.cli.output import console, emit
from casework.i18n import _

portal_app = typer.Typer(help="The provider portal: the referrals sent to your organisation.")

CaseArg = typer.Argument(..., help="The case the referral belongs to.")
ReferralArg = typer.Argument(..., help="The referral (e.g. referral-1).")


def _path(case_id: str, referral_id: str, action: str = "") -> str:
    base = api_path("/api/v1/portal/referrals/{}/{}", case_id, referral_id)
    return f"{base}/{action}" if action else base


@portal_app.command("list")
def list_command(
    status: str | None = typer.Option(None, "--status", help="Only referrals with this status."),
    as_json: bool = JsonOption,
) -> None:
    """The referrals sent to your organisation, the newest first."""
    params = {"status": status} if status else None
    data = staff_call("GET", "/api/v1/portal/referrals", as_json=as_json, params=params)

    def render(page: dict[str, Any]) -> None:
        if not page["items"]:
            console.print(_("No referrals have been sent to your organisation."))
        for r in page["items"]:
            console.print(
                f"[bold]{r['case_id']} {escape(r['referral_id'])}[/] {escape(r['service_id'])}"
                f" — {r['status']} ({r['made_at']})"
            )

    emit(data, as_json, render)


@portal_app.command("show")
def show_command(
    case_id: str = CaseArg, referral_id: str = ReferralArg, as_json: bool = JsonOption
) -> None:
    """One referral, with only what the client agreed to share with you."""
    data = staff_call("GET", _path(case_id, referral_id), as_json=as_json)

    def render(r: dict[str, Any]) -> None:
        console.print(
            _(
                "%(referral)s: %(service)s — %(status)s",
                referral=f"[bold]{escape(r['referral_id'])}[/]",
                service=escape(r["service_name"] or r["service_id"]),
                status=r["status"],
            )
        )
        if not r["shared"]:
            console.print(_("The client has not agreed to share any details with you."))
        for key, value in r["shared"].items():
            console.print(f"  {key}: {escape(str(value))}")
        if r["actions"]:
            console.print(_("You may: %(actions)s", actions=", ".join(r["actions"])))

    emit(data, as_json, render)


def _act(action: str, case_id: str, referral_id: str, as_json: bool, **body: str | None) -> None:
    sent = {k: v for k, v in body.items() if v is not None}
    data = staff_call("POST", _path(case_id, referral_id, action), as_json=as_json, body=sent)
    done = {
        "accept": _("accepted %(referral)s", referral=referral_id),
        "decline": _("declined %(referral)s", referral=referral_id),
        "progress": _("reported progress on %(referral)s", referral=referral_id),
        "complete": _("completed %(referral)s", referral=referral_id),
    }[action]
    emit(data, as_json, lambda d: console.print(f"[green]✓[/] {escape(done)}"))


@portal_app.command("accept")
def accept_command(
    case_id: str = CaseArg,
    referral_id: str = ReferralArg,
    note: str | None = typer.Option(None, "--note", help="A note for the caseworker."),
    as_json: bool = JsonOption,
) -> None:
    """Accept a referral."""
    _act("accept", case_id, referral_id, as_json, note=note)


@portal_app.command("decline")
def decline_command(
    case_id: str = CaseArg,
    referral_id: str = ReferralArg,
    reason: str = typer.Option(..., "--reason", help="Why you decline it (required)."),
    as_json: bool = JsonOption,
) -> None:
    """Decline a referral, saying why."""
    _act("decline", case_id, referral_id, as_json, reason=reason)


@portal_app.command("progress")
def progress_command(
    case_id: str = CaseArg,
    referral_id: str = ReferralArg,
    note: str = typer.Option(..., "--note", help="The progress report."),
    as_json: bool = JsonOption,
) -> None:
    """Report progress on a referral you accepted."""
    _act("progress", case_id, referral_id, as_json, note=note)


@portal_app.command("complete")
def complete_command(
    case_id: str = CaseArg,
    referral_id: str = ReferralArg,
    note: str | None = typer.Option(None, "--note", help="How it ended."),
    as_json: bool = JsonOption,
) -> None:
    """Mark a referral's service completed."""
    _act("complete", case_id, referral_id, as_json, note=note)
