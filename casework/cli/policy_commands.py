"""`casework policy show` / `casework policy apply FILE`: the agency's review policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from application.bootstrap import Casework
from application.policies import PolicyRefused, apply_policy, current_policy
from cases.actors import Actor
from cases.policy import Policy
from casework.cli.case_commands import read_structured
from casework.cli.context import AsOption, JsonOption, call, drive
from casework.cli.output import console, emit, fail

policy_app = typer.Typer(help="The agency's review and escalation policy.", no_args_is_help=True)


def _render(data: dict[str, Any]) -> None:
    table = Table("setting", "value", title=f"policy v{data['version']}")
    for risk, interval in data["review_interval"].items():
        table.add_row(f"review interval ({risk})", interval)
    table.add_row("grace period", data["review_grace"])
    for n, step in enumerate(data["escalation_ladder"], start=1):
        table.add_row(f"escalation level {n}", f"{step['notify']} after {step['after']}")
    table.add_row("approval deadline", data["approval_deadline"])
    table.add_row("referral reply deadline", data["referral_reply_deadline"])
    console.print(table)


@policy_app.command("show")
def show(as_json: bool = JsonOption) -> None:
    """The policy in force (the defaults until one is applied)."""

    async def work(app: Casework) -> Policy:
        return await current_policy(app.store)

    emit(call(work, as_json).model_dump(mode="json"), as_json, _render)


@policy_app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="The policy as JSON or YAML (durations: 90d, 30s …)."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a new policy version and send it to every open case."""

    async def action(s: Casework, actor: Actor) -> Any:
        policy = read_structured(file, Policy)
        try:
            report = await apply_policy(s.store, (await s.cases()).client, actor, policy)
        except PolicyRefused as exc:
            fail(str(exc), as_json)
        return {
            "version": report.version,
            "cases_updated": report.cases_updated,
            "cases_failed": report.cases_failed,
        }

    drive(as_json, staff_id, action)
