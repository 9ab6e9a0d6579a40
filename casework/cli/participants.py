"""`--participant`: who took part in a case conference or in making a plan."""

from __future__ import annotations

from typing import Any

import typer

from casework.cli.output import fail
from casework.i18n import _

ParticipantOption = typer.Option(
    [],
    "--participant",
    help="Who took part (repeatable): `client`, a staff id (or `staff:ID`), a circle "
    "member id (`member-N`, or `circle:member-N`).",
)


def participants(values: list[str], as_json: bool, field: str) -> tuple[bool, dict[str, Any]]:
    """`--participant` values as (the client attended, {"staff": [...], "circle": [...]})."""
    client = False
    staff: list[str] = []
    circle: list[str] = []
    for value in values:
        kind, colon, ident = value.partition(":")
        if value == "client":
            client = True
        elif colon and kind == "staff" and ident:
            staff.append(ident)
        elif colon and kind == "circle" and ident:
            circle.append(ident)
        elif not colon and value.startswith("member-"):
            circle.append(value)
        elif not colon and value:
            staff.append(value)
        else:
            message = _(
                "%(field)s: %(value)s is not client, staff:ID or circle:member-N",
                field=field,
                value=repr(value),
            )
            fail(message, as_json, kind="invalid", field=field)
    return client, {"staff": staff, "circle": circle}
