"""`casework case circle …` and `casework case conference …`: the client's circle of
support (family, carers, advocates, the GP, a teacher, a probation officer, another
agency's worker), what the client consents to share with each, and case conferences.

Like every case command these are requests to the HTTP API as the signed-in staff
member (`POST /api/v1/cases/{id}/commands/<update>`); a refused command exits 1 with the
reason on stderr. Members' names and contact details are the client's personal data:
sealed in the log with the client's key and erased when the client is forgotten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from casework.cli.action_commands import DUE_HELP, OWNER_HELP, parse_due, parse_owner
from casework.cli.api_client import api_path
from casework.cli.case_commands import IfVersionOption, command, read_structured
from casework.cli.choices import CircleRole, CircleShare
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    read_headers,
    staff_drive,
)
from casework.cli.exports import ColumnsOption, CsvOption, XlsxOption, exported
from casework.cli.output import console, emit, fail
from casework.cli.participants import ParticipantOption, participants
from casework.cli.projection_commands import _listed, _table
from casework.i18n import _

circle_app = typer.Typer(
    help="The client's circle of support: people and professionals around them, and what "
    "the client consents to share with each.",
    no_args_is_help=True,
)
conference_app = typer.Typer(
    help="Case conferences: who took part, decisions, actions agreed.", no_args_is_help=True
)

# --- the circle ------------------------------------------------------------------------------


@circle_app.command("add")
def add(
    case_id: str,
    role: CircleRole = typer.Option(..., help="How they stand to the client."),
    name: str = typer.Option(..., help="Their name (personal data)."),
    relationship: str | None = typer.Option(None, help="In the client's words: 'older sister'."),
    organisation: str | None = typer.Option(None, help="Their practice, school, agency."),
    phone: str | None = typer.Option(None),
    email: str | None = typer.Option(None),
    address: str | None = typer.Option(None),
    notes: str = typer.Option("", help="Anything to know (personal data)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a person or professional to the client's circle of support (member-N)."""
    details = {
        "name": name,
        "relationship": relationship,
        "organisation": organisation,
        "contact": {"phone": phone, "email": email, "address": address},
        "notes": notes,
    }
    body = {"role": role.value, "details": details}
    command(case_id, "add_circle_member", body, as_json, if_version)


@circle_app.command("update")
def update(
    case_id: str,
    member_id: str,
    role: CircleRole | None = typer.Option(None),
    name: str | None = typer.Option(None),
    relationship: str | None = typer.Option(None),
    organisation: str | None = typer.Option(None),
    phone: str | None = typer.Option(None),
    email: str | None = typer.Option(None),
    address: str | None = typer.Option(None),
    notes: str | None = typer.Option(None),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Change a member's role or details: the options given replace what was recorded
    (any of --phone/--email/--address replaces the whole contact)."""
    contact = (
        {"phone": phone, "email": email, "address": address}
        if any(v is not None for v in (phone, email, address))
        else None
    )
    body = {
        "member_id": member_id,
        "role": role.value if role else None,
        "name": name,
        "relationship": relationship,
        "organisation": organisation,
        "contact": contact,
        "notes": notes,
    }
    command(case_id, "update_circle_member", body, as_json, if_version)


@circle_app.command("remove")
def remove(
    case_id: str,
    member_id: str,
    reason: str = typer.Option(..., help="Why they leave the circle."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove a member from the circle (kept on record; nothing is shared with them)."""
    body = {"member_id": member_id, "reason": reason}
    command(case_id, "remove_circle_member", body, as_json, if_version)


@circle_app.command("consent")
def consent(
    case_id: str,
    member_id: str,
    share: list[CircleShare] = typer.Option(
        [], "--share", help="What the client consents to share with them (repeatable)."
    ),
    withdraw: bool = typer.Option(False, help="Withdraw all consent for this member."),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record what the client consents to share with one member (replaces what was
    recorded); nothing is shared with a member beyond it."""
    if bool(share) == withdraw:
        fail(
            _("--share: give what may be shared, or --withdraw (not both)"),
            as_json,
            kind="invalid",
            field="--share",
        )
    body = {"member_id": member_id, "shared": [s.value for s in share], "note": note}
    command(case_id, "record_circle_consent", body, as_json, if_version)


@circle_app.command("share")
def share(
    case_id: str,
    member_id: str,
    item: list[CircleShare] = typer.Option(..., "--item", help="What to share (repeatable)."),
    conference: str | None = typer.Option(
        None, help="Which conference's decisions (default: the latest)."
    ),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record sharing with a member: refused unless the client consented to each item."""
    body = {
        "member_id": member_id,
        "items": [i.value for i in item],
        "conference_id": conference,
        "note": note,
    }
    command(case_id, "share_with_circle", body, as_json, if_version)


@circle_app.command("list")
def list_circle(
    case_id: str,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The client's circle of support and case conferences (the read is access-logged)."""

    def render(state: dict[str, Any]) -> None:
        table = Table(
            _("member"),
            _("role"),
            _("name"),
            _("relationship"),
            _("consent to share"),
            _("status"),
            title=_("circle of support of case %(case)s", case=case_id),
        )
        for m in state.get("circle", {}).values():
            d = m["details"]
            table.add_row(
                m["member_id"],
                m["role"],
                d["name"],
                d.get("relationship") or d.get("organisation") or "",
                ", ".join(m["consent"]) or _("nothing"),
                _("removed") if m.get("removed_at") else _("active"),
            )
        console.print(table)
        for conf in state.get("conferences", {}).values():
            who = [*conf["participants"]["staff"], *conf["participants"]["circle"]]
            who += [_("client")] if conf["client_attended"] else []
            console.print(
                _(
                    "%(conference)s on %(day)s: %(who)s; %(decisions)s decision(s), "
                    "actions %(actions)s",
                    conference=conf["conference_id"],
                    day=conf["held_on"],
                    who=", ".join(who),
                    decisions=len(conf["decisions"]),
                    actions=", ".join(conf["action_ids"]),
                )
            )

    staff_drive(
        "GET",
        api_path("/api/v1/cases/{}", case_id),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
        render=render,
    )


# --- conferences ---------------------------------------------------------------------------------


def parse_action(spec: str, as_json: bool) -> dict[str, Any]:
    """`GOAL:DUE:OWNER:DESCRIPTION` (DUE and OWNER as `case action add`'s `--due`,
    `--owner`): one action agreed at a conference."""
    parts = spec.split(":", 3)
    if len(parts) != 4 or not all(p.strip() for p in parts):
        message = _("--action: %(value)s is not GOAL:DUE:OWNER:DESCRIPTION", value=repr(spec))
        fail(message, as_json, kind="invalid", field="--action")
    goal, due, owner, description = (p.strip() for p in parts)
    return {
        "goal_id": goal,
        "description": description,
        "owner": parse_owner(owner, as_json),
        "due_at": parse_due(due, as_json),
    }


@conference_app.command("record")
def record(
    case_id: str,
    held_on: str | None = typer.Option(None, "--held-on", help="YYYY-MM-DD (default: today, UTC)."),
    participant: list[str] = ParticipantOption,
    decision: list[str] = typer.Option([], "--decision", help="A decision (repeatable)."),
    action: list[str] = typer.Option(
        [],
        "--action",
        help=f"An action agreed (repeatable): GOAL:DUE:OWNER:DESCRIPTION; DUE {DUE_HELP}; "
        f"OWNER {OWNER_HELP}.",
    ),
    notes: str = "",
    file: Path | None = typer.Option(None, help="The whole conference as JSON/YAML instead."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a case conference: who took part, decisions, and the actions agreed (they
    become actions of the case, with owners and due dates)."""
    if file is not None:
        from cases import commands as c

        conference = read_structured(file, c.ConferenceInput, as_json).model_dump(mode="json")
    else:
        client, people = participants(participant, as_json, "--participant")
        conference = {
            "held_on": held_on or datetime.now(UTC).date().isoformat(),
            "client_attended": client,
            "participants": people,
            "decisions": decision,
            "actions": [parse_action(a, as_json) for a in action],
            "notes": notes,
        }
    command(case_id, "record_conference", {"conference": conference}, as_json, if_version)


@conference_app.command("list")
def list_conferences(
    within: int | None = typer.Option(None, min=0, help="Held within this many days."),
    csv: str | None = CsvOption,
    xlsx: str | None = XlsxOption,
    columns: str | None = ColumnsOption,
    as_json: bool = JsonOption,
) -> None:
    """Case conferences of the cases you see, the latest first: who took part, how many
    decisions, the actions agreed (names and decisions are in `case show`)."""
    if exported("/api/v1/conferences", csv=csv, xlsx=xlsx, columns=columns, as_json=as_json,
                params={"within": within}):  # fmt: skip
        return
    from projections.circle import ConferenceRow

    rows = (
        _listed("/api/v1/conferences", ConferenceRow, as_json)
        if within is None
        else _listed("/api/v1/conferences", ConferenceRow, as_json, within=within)
    )
    if as_json:
        emit([r.model_dump(mode="json") for r in rows], as_json)
        return
    console.print(
        _table(
            _("case conferences"),
            [_("held on"), _("case"), _("conference"), _("team"), _("staff"), _("circle"),
             _("client"), _("decisions"), _("actions")],
            [
                [r.held_on, r.client_ref, r.conference_id, r.team, ", ".join(r.staff),
                 ", ".join(r.circle), "yes" if r.client_attended else "no", r.decisions,
                 ", ".join(r.action_ids)]
                for r in rows
            ],
        )
    )  # fmt: skip
