"""The case page's forms for the circle of support and case conferences (issue 16, part 3).

As for every form of the page (casework/console/case_actions.py): the access table
decides who is offered a form, the case's state what makes sense now (a member to update,
a conference whose decisions may be shared), and the rules decide in the end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from cases.state import CaseState
from casework.console.forms import ActionForm, Choice, Input
from casework.console.forms import enum_choices as _choices
from events.vocabulary import ActionOwnerKind, CircleRole, CircleShare

ACTION_ROWS = 2
"""Rows for agreed actions on the conference form (blank rows are left out)."""

CIRCLE_ACTIONS = (
    "add_circle_member",
    "update_circle_member",
    "remove_circle_member",
    "record_circle_consent",
    "share_with_circle",
    "record_conference",
)


def _members(state: CaseState) -> tuple[Choice, ...]:
    return tuple(
        Choice(m.member_id, f"{m.member_id}: {m.details.name} ({m.role.value.replace('_', ' ')})")
        for m in state.circle.values()
        if m.active
    )


def circle_forms(state: CaseState, allowed: Callable[[str], bool]) -> list[ActionForm]:
    """The circle and conference forms `allowed` lets the viewer have (an open case)."""
    forms: list[ActionForm] = []
    members = _members(state)
    pick = (Choice("", "— choose —"), *members)
    if allowed("add_circle_member"):
        forms.append(
            ActionForm(
                "add_circle_member", "Add to the circle of support", "Add",
                (
                    Input("role", "Who they are to the client", "select", _choices(CircleRole)),
                    Input("details.name", "Name", "text"),
                    Input("details.relationship", "Relationship, in the client's words",
                          "text", optional=True),
                    Input("details.organisation", "Organisation (practice, school, agency)",
                          "text", optional=True),
                    Input("details.contact.phone", "Phone", "text", optional=True),
                    Input("details.contact.email", "Email", "text", optional=True),
                    Input("details.contact.address", "Address", "text", optional=True),
                    Input("details.notes", "Notes", "textarea", optional=True),
                ),
                intro="Family, carers, advocates and the professionals around the client. "
                "Nothing is shared with them until the client consents.",
            )
        )  # fmt: skip
    if allowed("update_circle_member") and members:
        forms.append(
            ActionForm(
                "update_circle_member", "Update a member of the circle", "Update",
                (
                    Input("member_id", "Member", "select", pick),
                    Input("role", "Who they are to the client", "select",
                          _choices(CircleRole, "— unchanged —"), optional=True),
                    Input("name", "Name", "text", optional=True),
                    Input("relationship", "Relationship", "text", optional=True),
                    Input("organisation", "Organisation", "text", optional=True),
                    Input("contact.phone", "Phone", "text", optional=True),
                    Input("contact.email", "Email", "text", optional=True),
                    Input("contact.address", "Address", "text", optional=True),
                    Input("notes", "Notes", "textarea", optional=True),
                ),
                intro="Fill in only what changes (new contact details replace the old).",
            )
        )  # fmt: skip
    if allowed("remove_circle_member") and members:
        forms.append(
            ActionForm(
                "remove_circle_member", "Remove a member of the circle", "Remove",
                (Input("member_id", "Member", "select", pick), Input("reason", "Why", "text")),
            )
        )  # fmt: skip
    if allowed("record_circle_consent") and members:
        forms.append(
            ActionForm(
                "record_circle_consent", "Record consent to share with a member",
                "Record consent",
                (
                    Input("member_id", "Member", "select", pick),
                    Input("shared", "What the client agrees to share with them", "checkboxes",
                          _choices(CircleShare, None)),
                    Input("note", "Note", "textarea", optional=True),
                ),
                intro="This replaces what was recorded for the member; tick nothing to "
                "withdraw consent.",
            )
        )  # fmt: skip
    if allowed("share_with_circle") and members:
        conferences = tuple(
            Choice(c.conference_id, f"{c.conference_id} ({c.held_on})")
            for c in state.conferences.values()
        )
        forms.append(
            ActionForm(
                "share_with_circle", "Share with a member of the circle", "Share",
                (
                    Input("member_id", "Member", "select", pick),
                    Input("items", "What to share (within the client's consent)",
                          "checkboxes", _choices(CircleShare, None)),
                    Input("conference_id", "Which conference's decisions", "select",
                          (Choice("", "— the latest —"), *conferences), optional=True),
                    Input("note", "Note", "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_conference"):
        forms.append(_conference_form(state, members))
    return forms


def plan_participant_inputs(state: CaseState) -> tuple[Input, ...]:
    """Who else took part in making the plan: staff ids and circle members."""
    group = "Who else took part in making it"
    plan = state.draft_plan or state.active_plan
    before = plan.participants if plan is not None else None
    return (
        Input("plan.participants.staff", "Staff (staff ids, one a line)", "lines", group=group,
              default="\n".join(before.staff) if before else ""),
        Input("plan.participants.circle", "Members of the client's circle", "checkboxes",
              _members(state), group=group, default=tuple(before.circle) if before else ()),
    )  # fmt: skip


def _conference_form(state: CaseState, members: tuple[Choice, ...]) -> ActionForm:
    plan = state.active_plan or state.draft_plan
    goals = (
        tuple(Choice(g.goal_id, f"{g.goal_id}: {g.objective}") for g in plan.goals) if plan else ()
    )
    rows: list[Input] = []
    for n in range(ACTION_ROWS if goals else 0):
        group = f"Action agreed {n + 1}"
        p = f"conference.actions.{n}"
        rows += [
            Input(f"{p}.goal_id", "For goal", "select", (Choice("", "— choose —"), *goals),
                  group=group),
            Input(f"{p}.description", "What is to be done", "text", group=group),
            Input(f"{p}.owner.kind", "Who does it", "select", _choices(ActionOwnerKind),
                  group=group),
            Input(f"{p}.owner.name", "Their name (a family member)", "text", optional=True,
                  group=group),
            Input(f"{p}.owner.staff_id", "The worker (another worker)", "text",
                  optional=True, group=group),
            Input(f"{p}.due_at", "Due by", "date", group=group,
                  hint="Due at the end of that day (UTC)."),
        ]  # fmt: skip
    return ActionForm(
        "record_conference", "Record a case conference", "Record the conference",
        (
            Input("conference.held_on", "Held on", "date", group="The conference"),
            Input("conference.client_attended", "The client took part", "select",
                  (Choice("false", "no"), Choice("true", "yes")), group="The conference"),
            Input("conference.participants.staff", "Staff who took part (staff ids, one a line)",
                  "lines", group="The conference"),
            Input("conference.participants.circle", "Circle members who took part",
                  "checkboxes", members, group="The conference"),
            Input("conference.decisions", "Decisions (one a line)", "lines",
                  group="The conference"),
            *rows,
            Input("conference.notes", "Notes", "textarea", optional=True),
        ),
        intro="Actions agreed become actions of the plan's goals, with their owner and due date.",
    )  # fmt: skip


def prepare(action: str, data: dict[str, Any]) -> dict[str, Any]:
    """A conference's agreed actions are due at the end of the day the form gives (UTC)."""
    if action != "record_conference":
        return data
    conference = data.get("conference")
    if not isinstance(conference, dict):
        return data
    for item in conference.get("actions") or []:
        due = item.get("due_at") if isinstance(item, dict) else None
        if isinstance(due, str):
            try:
                day = date.fromisoformat(due)
            except ValueError:
                continue  # left as typed: the model names the field
            item["due_at"] = datetime.combine(day, time(23, 59), tzinfo=UTC).isoformat()
    return data
