"""A case's approved plan as a document the client signs: HTML, then PDF (WeasyPrint).

`plan_html` renders the active (approved) plan of a `CaseState` from
`application/templates/plan_document.html` with Jinja2, autoescaped: one self-contained
page (inline CSS, no scripts, no external resources). It shows the case and the plan
version, the client, each goal (domain, the client's own words, objective, target date)
with its actions (what, who, due by), who took part (the plan's participants, the case
conferences' attendees) and a signature block for the client and the case worker.

`render_plan_pdf` prints that page with WeasyPrint, imported only there (it is slow to
import). The PDF's creation and modification dates are `printed_at` and it has no file
identifier, so the same state printed at the same time gives the same bytes.

Only what the state holds is shown. The state does not keep who approved the plan or
when (ApprovalGranted is not folded into it): the document says the plan is approved,
by its status, and when it was drafted and by whom. Personal text erased when the client
was forgotten reads as the erased marker (events/personal.py), set apart by its style.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from cases.state import ActionStatus, CaseState, CircleMember, PlanAction, PlanStatus, PlanVersion
from events.personal import ERASED_TEXT
from events.vocabulary import ActionOwner, ActionOwnerKind

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "plan_document.html"

StaffName = Callable[[str], str]
"""A staff id to the name printed (the id itself when unknown)."""

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


class PlanNotApproved(ValueError):
    """The case has no approved plan: there is nothing to print for signature."""


@dataclass(frozen=True)
class ActionLine:
    description: str
    owner: str
    due_on: str
    status: str | None
    """None while the action is still to do; otherwise its status in words."""


@dataclass(frozen=True)
class GoalBlock:
    number: int
    goal_id: str
    domain: str
    client_words: str
    objective: str
    target_date: str
    term: str
    actions: tuple[ActionLine, ...]


@dataclass(frozen=True)
class ConferenceLine:
    held_on: str
    client_attended: bool
    staff: tuple[str, ...]
    circle: tuple[str, ...]


@dataclass(frozen=True)
class PlanDocument:
    """What the template shows, already resolved to text (names, ISO dates)."""

    language: str
    title: str
    case_id: str
    client_ref: str
    client_name: str
    plan_id: str
    plan_version: int
    status: str
    drafted_on: str
    drafted_by: str
    submitted_by: str | None
    case_worker: str
    team: str
    printed_on: str
    printed_at_w3c: str
    client_agreed: bool
    crisis_plan: str
    goals: tuple[GoalBlock, ...]
    staff: tuple[str, ...]
    circle: tuple[str, ...]
    conferences: tuple[ConferenceLine, ...]
    forgotten: bool


def plan_html(
    state: CaseState,
    *,
    client_name: str,
    staff_names: Mapping[str, str],
    printed_at: datetime,
    language: str = "en",
) -> str:
    """The case's approved plan as one self-contained HTML page, ready to print.

    `staff_names` resolves staff ids to names (an id not in it is shown as itself);
    `printed_at` (timezone-aware) is the date printed and the document's metadata date.
    Raises PlanNotApproved if the case has no approved plan, ValueError for a naive
    `printed_at` or a `language` that is not a language tag.
    """
    document = plan_document(
        state,
        client_name=client_name,
        staff_names=staff_names,
        printed_at=printed_at,
        language=language,
    )
    return _environment().get_template(TEMPLATE).render(doc=document)


def render_plan_pdf(
    state: CaseState,
    *,
    client_name: str,
    staff_names: Mapping[str, str],
    printed_at: datetime,
    language: str = "en",
) -> bytes:
    """The case's approved plan as PDF bytes (see `plan_html`).

    Deterministic: the same state, names and `printed_at` give the same bytes (with the
    same WeasyPrint and fonts), so the document's hash can be recorded.
    """
    html = plan_html(
        state,
        client_name=client_name,
        staff_names=staff_names,
        printed_at=printed_at,
        language=language,
    )
    import weasyprint  # slow to import: only when printing

    pdf = weasyprint.HTML(string=html, base_url=None).write_pdf(pdf_identifier=False)
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf() without a target
        raise TypeError(f"weasyprint returned {type(pdf).__name__}, not bytes")
    return pdf


def plan_document(
    state: CaseState,
    *,
    client_name: str,
    staff_names: Mapping[str, str],
    printed_at: datetime,
    language: str = "en",
) -> PlanDocument:
    """What the document shows (the template's input), from the state."""
    plan = state.active_plan
    if plan is None or plan.status is not PlanStatus.APPROVED:
        raise PlanNotApproved("plan: the case has no approved plan to print")
    if printed_at.tzinfo is None or printed_at.utcoffset() is None:
        raise ValueError("printed_at: give a timezone-aware time")
    if not _LANGUAGE.match(language):
        raise ValueError(f"language: {language!r} is not a language tag")

    def staff(staff_id: str) -> str:
        return staff_names.get(staff_id, staff_id)

    printed_utc = printed_at.astimezone(UTC)
    return PlanDocument(
        language=language,
        title=f"Support plan v{plan.plan_version} · case {state.case_id}",
        case_id=str(state.case_id),
        client_ref=state.client_ref,
        client_name=client_name,
        plan_id=plan.plan_id,
        plan_version=plan.plan_version,
        status=_words(plan.status.value),
        drafted_on=_iso_date(plan.drafted_at),
        drafted_by=staff(plan.drafted_by),
        submitted_by=staff(plan.submitted_by) if plan.submitted_by else None,
        case_worker=staff(state.assigned_worker),
        team=state.team,
        printed_on=_iso_date(printed_at),
        printed_at_w3c=printed_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        client_agreed=plan.client_agreed,
        crisis_plan=plan.crisis_plan,
        goals=_goals(state, plan, client_name, staff),
        staff=tuple(dict.fromkeys(staff(s) for s in plan.participants.staff)),
        circle=tuple(_member(state, m) for m in plan.participants.circle),
        conferences=tuple(
            ConferenceLine(
                held_on=conference.held_on.isoformat(),
                client_attended=conference.client_attended,
                staff=tuple(dict.fromkeys(staff(s) for s in conference.participants.staff)),
                circle=tuple(_member(state, m) for m in conference.participants.circle),
            )
            for conference in sorted(
                state.conferences.values(), key=lambda c: (c.held_on, c.conference_id)
            )
        ),
        forgotten=state.forgotten,
    )


def _goals(
    state: CaseState, plan: PlanVersion, client_name: str, staff: StaffName
) -> tuple[GoalBlock, ...]:
    blocks = []
    for number, goal in enumerate(plan.goals, start=1):
        actions = sorted(
            (
                a
                for a in state.actions.values()
                if a.goal_id == goal.goal_id and a.status is not ActionStatus.DROPPED
            ),
            key=lambda a: (a.due_at, _action_number(a)),
        )
        blocks.append(
            GoalBlock(
                number=number,
                goal_id=goal.goal_id,
                domain=_words(goal.domain.value),
                client_words=goal.client_words,
                objective=goal.objective,
                target_date=goal.target_date.isoformat(),
                term=_words(goal.term.value),
                actions=tuple(_action(state, a, client_name, staff) for a in actions),
            )
        )
    return tuple(blocks)


def _action(state: CaseState, action: PlanAction, client_name: str, staff: StaffName) -> ActionLine:
    status = None
    if action.status is ActionStatus.DONE:
        status = "done (late)" if action.late else "done"
    elif action.status is ActionStatus.OVERDUE:
        status = "overdue"
    return ActionLine(
        description=action.description,
        owner=_owner(state, action.owner, client_name, staff),
        due_on=_iso_date(action.due_at),
        status=status,
    )


def _owner(state: CaseState, owner: ActionOwner, client_name: str, staff: StaffName) -> str:
    match owner.kind:
        case ActionOwnerKind.WORKER:
            label = staff(owner.staff_id or "")
        case ActionOwnerKind.CASEWORKER:
            label = f"{staff(state.assigned_worker)} (case worker)"
        case ActionOwnerKind.CLIENT:
            label = client_name
        case ActionOwnerKind.FAMILY:
            return owner.name or "a family member"
        case _:
            label = owner.label()  # a provider: "provider <id>"
    return f"{label} ({owner.name})" if owner.name else label


def _member(state: CaseState, member_id: str) -> str:
    member: CircleMember | None = state.circle.get(member_id)
    if member is None:
        return member_id
    details = member.details
    about = details.relationship or details.organisation or _words(member.role.value)
    return f"{details.name} ({about})"


def _action_number(action: PlanAction) -> int:
    """action-<n> → n, so that action-10 follows action-9."""
    _, _, number = action.action_id.rpartition("-")
    return int(number) if number.isdigit() else 0


def _iso_date(value: datetime | date) -> str:
    """YYYY-MM-DD: an aware time's date in UTC (as the console shows times)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def _words(value: str) -> str:
    return value.replace("_", " ")


def _personal(value: str | None) -> Markup:
    """Personal text, escaped; the erased marker set apart (the client was forgotten)."""
    if value == ERASED_TEXT:
        return Markup('<span class="erased">{}</span>').format(ERASED_TEXT)
    return escape(value or "")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["personal"] = _personal
    return env
