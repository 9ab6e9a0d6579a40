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
from casework import i18n
from casework.console.forms import CHOOSE, ActionForm, Choice, Input, words
from casework.console.forms import enum_choices as _choices
from casework.i18n import N_, _
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
        Choice(m.member_id, f"{m.member_id}: {m.details.name} ({words(m.role)})")
        for m in state.circle.values()
        if m.active
    )


def circle_forms(state: CaseState, allowed: Callable[[str], bool]) -> list[ActionForm]:
    """The circle and conference forms `allowed` lets the viewer have (an open case)."""
    forms: list[ActionForm] = []
    members = _members(state)
    pick = (Choice("", _(CHOOSE)), *members)
    if allowed("add_circle_member"):
        forms.append(
            ActionForm(
                "add_circle_member", _("Add to the circle of support"), _("Add"),
                (
                    Input("role", _("Who they are to the client"), "select",
                          _choices(CircleRole)),
                    Input("details.name", _("Name"), "text"),
                    Input("details.relationship", _("Relationship, in the client's words"),
                          "text", optional=True),
                    Input("details.organisation", _("Organisation (practice, school, agency)"),
                          "text", optional=True),
                    Input("details.contact.phone", _("Phone"), "text", optional=True),
                    Input("details.contact.email", _("Email"), "text", optional=True),
                    Input("details.contact.address", _("Address"), "text", optional=True),
                    Input("details.notes", _("Notes"), "textarea", optional=True),
                ),
                intro=_("Family, carers, advocates and the professionals around the client. "
                        "Nothing is shared with them until the client consents."),
            )
        )  # fmt: skip
    if allowed("update_circle_member") and members:
        forms.append(
            ActionForm(
                "update_circle_member", _("Update a member of the circle"), _("Update"),
                (
                    Input("member_id", _("Member"), "select", pick),
                    Input("role", _("Who they are to the client"), "select",
                          _choices(CircleRole, N_("— unchanged —")), optional=True),
                    Input("name", _("Name"), "text", optional=True),
                    Input("relationship", _("Relationship"), "text", optional=True),
                    Input("organisation", _("Organisation"), "text", optional=True),
                    Input("contact.phone", _("Phone"), "text", optional=True),
                    Input("contact.email", _("Email"), "text", optional=True),
                    Input("contact.address", _("Address"), "text", optional=True),
                    Input("notes", _("Notes"), "textarea", optional=True),
                ),
                intro=_("Fill in only what changes (new contact details replace the old)."),
            )
        )  # fmt: skip
    if allowed("remove_circle_member") and members:
        forms.append(
            ActionForm(
                "remove_circle_member", _("Remove a member of the circle"), _("Remove"),
                (Input("member_id", _("Member"), "select", pick),
                 Input("reason", _("Why"), "text")),
            )
        )  # fmt: skip
    if allowed("record_circle_consent") and members:
        forms.append(
            ActionForm(
                "record_circle_consent", _("Record consent to share with a member"),
                _("Record consent"),
                (
                    Input("member_id", _("Member"), "select", pick),
                    Input("shared", _("What the client agrees to share with them"),
                          "checkboxes", _choices(CircleShare, None)),
                    Input("note", _("Note"), "textarea", optional=True),
                ),
                intro=_("This replaces what was recorded for the member; tick nothing to "
                        "withdraw consent."),
            )
        )  # fmt: skip
    if allowed("share_with_circle") and members:
        conferences = tuple(
            Choice(c.conference_id, f"{c.conference_id} ({i18n.format_day(c.held_on)})")
            for c in state.conferences.values()
        )
        forms.append(
            ActionForm(
                "share_with_circle", _("Share with a member of the circle"), _("Share"),
                (
                    Input("member_id", _("Member"), "select", pick),
                    Input("items", _("What to share (within the client's consent)"),
                          "checkboxes", _choices(CircleShare, None)),
                    Input("conference_id", _("Which conference's decisions"), "select",
                          (Choice("", _("— the latest —")), *conferences), optional=True),
                    Input("note", _("Note"), "textarea", optional=True),
                ),
            )
        )  # fmt: skip
    if allowed("record_conference"):
        forms.append(_conference_form(state, members))
    return forms


def plan_participant_inputs(state: CaseState) -> tuple[Input, ...]:
    """Who else took part in making the plan: staff ids and circle members."""
    group = _("Who else took part in making it")
    plan = state.draft_plan or state.active_plan
    before = plan.participants if plan is not None else None
    return (
        Input("plan.participants.staff", _("Staff (staff ids, one a line)"), "lines",
              group=group, default="\n".join(before.staff) if before else ""),
        Input("plan.participants.circle", _("Members of the client's circle"), "checkboxes",
              _members(state), group=group, default=tuple(before.circle) if before else ()),
    )  # fmt: skip


def _conference_form(state: CaseState, members: tuple[Choice, ...]) -> ActionForm:
    plan = state.active_plan or state.draft_plan
    goals = (
        tuple(Choice(g.goal_id, f"{g.goal_id}: {g.objective}") for g in plan.goals) if plan else ()
    )
    rows: list[Input] = []
    for n in range(ACTION_ROWS if goals else 0):
        group = _("Action agreed %(n)s", n=n + 1)
        p = f"conference.actions.{n}"
        rows += [
            Input(f"{p}.goal_id", _("For goal"), "select", (Choice("", _(CHOOSE)), *goals),
                  group=group),
            Input(f"{p}.description", _("What is to be done"), "text", group=group),
            Input(f"{p}.owner.kind", _("Who does it"), "select", _choices(ActionOwnerKind),
                  group=group),
            Input(f"{p}.owner.name", _("Their name (a family member)"), "text", optional=True,
                  group=group),
            Input(f"{p}.owner.staff_id", _("The worker (another worker)"), "text",
                  optional=True, group=group),
            Input(f"{p}.due_at", _("Due by"), "date", group=group,
                  hint=_("Due at the end of that day (UTC).")),
        ]  # fmt: skip
    held = _("The conference")
    return ActionForm(
        "record_conference", _("Record a case conference"), _("Record the conference"),
        (
            Input("conference.held_on", _("Held on"), "date", group=held),
            Input("conference.client_attended", _("The client took part"), "select",
                  (Choice("false", _("no")), Choice("true", _("yes"))), group=held),
            Input("conference.participants.staff",
                  _("Staff who took part (staff ids, one a line)"), "lines", group=held),
            Input("conference.participants.circle", _("Circle members who took part"),
                  "checkboxes", members, group=held),
            Input("conference.decisions", _("Decisions (one a line)"), "lines", group=held),
            *rows,
            Input("conference.notes", _("Notes"), "textarea", optional=True),
        ),
        intro=_("Actions agreed become actions of the plan's goals, with their owner and "
                "due date."),
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
