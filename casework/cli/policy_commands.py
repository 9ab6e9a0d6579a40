"""`casework policy show` / `casework policy apply FILE`: the agency's review policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from casework.cli.case_commands import read_structured
from casework.cli.context import JsonOption, staff_call, staff_drive
from casework.cli.output import console, emit
from casework.i18n import _

policy_app = typer.Typer(help="The agency's review and escalation policy.", no_args_is_help=True)


def _render(data: dict[str, Any]) -> None:
    table = Table(_("setting"), _("value"), title=_("policy v%(version)s", version=data["version"]))
    for risk, interval in data["review_interval"].items():
        table.add_row(_("review interval (%(risk)s)", risk=risk), interval)
    table.add_row(_("grace period"), data["review_grace"])
    table.add_row(_("review spread (per case, from its id)"), data.get("review_spread", "0s"))
    for n, step in enumerate(data["escalation_ladder"], start=1):
        table.add_row(
            _("escalation level %(level)s", level=n),
            _("%(who)s after %(after)s", who=step["notify"], after=step["after"]),
        )
    table.add_row(_("approval deadline"), data["approval_deadline"])
    table.add_row(_("referral reply deadline"), data["referral_reply_deadline"])
    console.print(table)


@policy_app.command("show")
def show(as_json: bool = JsonOption) -> None:
    """The policy in force (the defaults until one is applied)."""
    found = staff_call("GET", "/api/v1/policy", as_json=as_json)
    emit(found["policy"] | {k: found[k] for k in ("version", "label")}, as_json, _render)


@policy_app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="The policy as JSON or YAML (durations: 90d, 30s …)."),
    as_json: bool = JsonOption,
) -> None:
    """Record a new policy version and send it to every open case (admins, managers)."""
    from cases.policy import Policy

    policy = read_structured(file, Policy, as_json).model_dump(mode="json")
    staff_drive("POST", "/api/v1/policy", as_json=as_json, body=policy)
