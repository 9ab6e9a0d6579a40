"""`casework case action …` and `casework actions …`: the actions of a plan's goals.

Each action belongs to a goal of the plan, has an owner (the caseworker, the client, a
family member, a provider, another worker), a due date and a status (open, overdue,
done, dropped with a reason). Like every case command these are requests to the HTTP
API as the signed-in staff member (`POST /api/v1/cases/{id}/commands/<update>`); a
refused command exits 1 with the reason on stderr. What an action says is the
client's personal data: sealed in the log and erased when the client is forgotten.

    casework case action add CASE --goal housing --due 2026-12-04 --owner client \\
        --description "Bring the ID documents to the housing office"
    casework case action done CASE action-1
    casework case action drop CASE action-2 --reason "found a flat"
    casework case action reassign CASE action-3 --owner family=Mona --due 2026-12-11
    casework actions mine [--within 7]
    casework actions overdue [--team north] [--by-team]
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from casework.cli.api_client import api_path
from casework.cli.case_commands import IfVersionOption, command
from casework.cli.context import JsonOption, describe_validation, staff_drive
from casework.cli.exports import ColumnsOption, CsvOption, XlsxOption, exported
from casework.cli.output import console, emit, fail
from casework.cli.projection_commands import _listed, _table
from casework.i18n import N_, _, pgettext

if TYPE_CHECKING:
    from projections.actions import ActionRow

# The models that check an owner (events.vocabulary) and read the API's rows
# (application.actions) are imported by the commands that use them.

case_action_app = typer.Typer(
    help="A plan's actions: add, mark done, drop, reassign.", no_args_is_help=True
)
actions_app = typer.Typer(
    help="Plan actions due this week (yours) and overdue (by team).", no_args_is_help=True
)

OWNER_HELP = (
    "caseworker, client, family[=NAME], provider=PROVIDER_ID or worker=STAFF_ID "
    "(family names are personal data)"
)
DUE_HELP = "YYYY-MM-DD (the end of that day, UTC) or an ISO time with its offset"


def parse_due(value: str, as_json: bool) -> str:
    """`--due` as an aware ISO time: a date is the end of that day (23:59 UTC)."""
    try:
        return datetime.combine(date.fromisoformat(value), time(23, 59), tzinfo=UTC).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            _(
                "--due: %(value)s is not YYYY-MM-DD (the end of that day, UTC) or an ISO time "
                "with its offset",
                value=repr(value),
            ),
            as_json,
            kind="invalid",
            field="--due",
        )
    if moment.tzinfo is None:
        fail(
            _("--due: %(value)s has no UTC offset", value=repr(value)),
            as_json,
            kind="invalid",
            field="--due",
        )
    return moment.isoformat()


def parse_owner(spec: str, as_json: bool) -> dict[str, Any]:
    """`--owner KIND[=VALUE]` as an ActionOwner (checked before it is sent)."""
    from events.vocabulary import ActionOwner, ActionOwnerKind

    kind, _sep, value = spec.partition("=")
    owner: dict[str, Any] = {"kind": kind.strip()}
    key = {"family": "name", "provider": "provider_id", "worker": "staff_id"}.get(kind.strip())
    if key and value.strip():
        owner[key] = value.strip()
    try:
        return ActionOwner.model_validate(owner).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        kinds = ", ".join(k.value for k in ActionOwnerKind)
        fail(
            f"--owner: {spec!r} ({kinds}): {describe_validation(exc)}",
            as_json,
            kind="invalid",
            field="--owner",
        )


@case_action_app.command("add")
def add(
    case_id: str,
    goal: str = typer.Option(..., "--goal", help="The goal of the plan it serves."),
    description: str = typer.Option(..., "--description", help="What is to be done."),
    owner: str = typer.Option("caseworker", "--owner", help=OWNER_HELP),
    due: str = typer.Option(..., "--due", help=DUE_HELP),
    crisis_plan: bool = typer.Option(
        False, "--crisis-plan", help="Part of the crisis plan (escalated when neglected)."
    ),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Add an action to a goal of the plan: what, who, by when."""
    body = {
        "goal_id": goal,
        "description": description,
        "owner": parse_owner(owner, as_json),
        "due_at": parse_due(due, as_json),
        "crisis_plan": crisis_plan,
    }
    command(case_id, "add_action", body, as_json, if_version)


@case_action_app.command("done")
def done(
    case_id: str,
    action_id: str,
    note: str = typer.Option("", "--note"),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Mark an action done (late if after its due date)."""
    command(case_id, "complete_action", {"action_id": action_id, "note": note}, as_json, if_version)


@case_action_app.command("drop")
def drop(
    case_id: str,
    action_id: str,
    reason: str = typer.Option(..., "--reason", help="Why it is no longer to be done."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Drop an action, with the reason."""
    command(case_id, "drop_action", {"action_id": action_id, "reason": reason}, as_json, if_version)


@case_action_app.command("reassign")
def reassign(
    case_id: str,
    action_id: str,
    owner: str = typer.Option(..., "--owner", help=OWNER_HELP),
    due: str | None = typer.Option(None, "--due", help=f"A new due date: {DUE_HELP}"),
    reason: str = typer.Option(..., "--reason"),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Give an action another owner (and a new due date, if given)."""
    body: dict[str, Any] = {
        "action_id": action_id,
        "owner": parse_owner(owner, as_json),
        "reason": reason,
    }
    if due is not None:
        body["due_at"] = parse_due(due, as_json)
    command(case_id, "reassign_action", body, as_json, if_version)


# --- the read model -----------------------------------------------------------------------------


def _owner(row: ActionRow) -> str:
    return row.owner_staff_id or row.owner_provider or row.owner_kind.value


def _rows(rows: list[ActionRow]) -> list[list[Any]]:
    return [
        [
            r.due_at.strftime("%Y-%m-%d %H:%M"),
            r.status + (_(" (crisis plan)") if r.crisis_plan else ""),
            r.case_id,
            r.action_id,
            r.goal_id,
            _owner(r),
            r.client_ref,
            r.worker,
            r.team,
        ]
        for r in rows
    ]


COLUMNS = [
    N_("due"),
    N_("status"),
    N_("case"),
    N_("action"),
    N_("goal"),
    N_("owner"),
    N_("client ref"),
    N_("worker"),
    N_("team"),
]


@actions_app.command("mine")
def mine(
    within: int = typer.Option(7, "--within", help="Due within this many days."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Your open actions due this week (overdue ones first)."""
    if exported("/api/v1/actions/mine", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params={"within": within}):  # fmt: skip
        return
    from projections.actions import ActionRow

    rows = _listed("/api/v1/actions/mine", ActionRow, as_json, within=within)

    def render(_data: Any) -> None:
        title = _("My actions due within %(days)s days", days=within)
        console.print(_table(title, [_(c) for c in COLUMNS], _rows(rows)))

    emit({"actions": [r.model_dump(mode="json") for r in rows]}, as_json, render)


@actions_app.command("overdue")
def overdue(
    team: str | None = typer.Option(None, "--team", help="Only this team's."),
    by_team: bool = typer.Option(False, "--by-team", help="How many per team."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Overdue actions of the teams you see, oldest due first (or counted per team)."""
    path = "/api/v1/actions/overdue/by-team" if by_team else "/api/v1/actions/overdue"
    params = {} if by_team else {"team": team}
    if exported(path, csv=csv, xlsx=xlsx, columns=columns, as_json=as_json, params=params):
        return
    from projections.actions import ActionRow, TeamOverdue

    if by_team:

        def render_counts(data: Any) -> None:
            counts = [TeamOverdue.model_validate(row) for row in data]
            console.print(
                _table(
                    _("Actions overdue by team"),
                    [_("team"), pgettext("column", "overdue"), _("of the crisis plan")],
                    [[t.team, t.overdue, t.critical] for t in counts],
                )
            )

        staff_drive(
            "GET",
            api_path("/api/v1/actions/overdue/by-team"),
            as_json=as_json,
            render=render_counts,
        )
        return
    rows = _listed("/api/v1/actions/overdue", ActionRow, as_json, team=team)

    def render(_data: Any) -> None:
        console.print(_table(_("Overdue actions"), [_(c) for c in COLUMNS], _rows(rows)))

    emit({"actions": [r.model_dump(mode="json") for r in rows]}, as_json, render)
