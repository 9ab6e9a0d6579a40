"""The case page: where the case stands, and every action the viewer may take as a form.

The page is organised for work (issue 33): what needs attention first
(cases/attention.py over the state and the page's clock), a compact summary with the
client's preferred language, the navigation between the sections (the case and the
client, plan and actions, referrals and advocacy, contacts and progress, circle and
conferences, documents, timeline), each section's actions closed in a `<details>` until
chosen (no script: the strict CSP is unchanged; `?open=<action>` renders one open, and
a form sent back with an error or a conflict is open with what the person typed), and
the timeline last, a page at a time.

Reading the page is a read of the case's details: allowed by the access table and
recorded in the access log (application/case_view `view_case`, as application/case_reads
`read_case`), or refused with the same page whether the case does not exist or is out of
the viewer's scope. A staff member whose role may break the glass is then asked for the
reason first; the emergency read is recorded, marked, and the case's supervisors are told.

The page shows the state the case's workflow holds (one Temporal Query: the client's
personal details are sealed in the log and read only through the cipher), the details
of the events it lists (assessment, contacts, progress, reports …: only those events
read from the log), and the timeline a page at a time from the timeline read model
(`TIMELINE_SHOWN` events, the newest first; application/case_view). A long case is
therefore never read and decrypted whole to render its page.

A form sends the case's version the page was rendered with. The case workflow refuses
a command sent for an older version (application/case_client `CaseVersionConflict`):
the page then says so, lists what changed since (the events after that version), and
shows the form again with what the person typed, ready to send against the new
version once they have looked.

A form is sent through the command use case (application/case_commands), as the HTTP
API's command routes are: the caller is admitted first (the access table by the command
table's `action`, each refusal in the access log as `command <update>`: out of scope,
the not-found page; in scope but not for them, 403), then the form is read and the
command sent. The route itself only reads the form and renders the answer.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from application import case_commands, case_view
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_view import Line as Line  # re-exported: casework/console/approvals.py
from application.identity import Principal
from cases.access import (
    BREAK_GLASS_ROLES,
    AccessDenied,
    BreakGlassRefused,
    CaseNotVisible,
)
from cases.actors import Actor
from cases.attention import needs_attention
from cases.command_table import BY_UPDATE
from cases.evolve import fold
from cases.state import CaseState
from casework.console import circle_forms
from casework.console.case_actions import forms_for
from casework.console.client_language import language_label
from casework.console.forms import (
    ActionForm,
    Filled,
    add_rule_refusal,
    add_validation_errors,
    parse,
    values_of,
)
from casework.console.web import (
    PREFIX,
    casework_of,
    check_csrf,
    now_of,
    page,
    redirect,
    signed_in,
)
from casework.i18n import N_, _
from directory import ResourceDirectory, load_resource_directory
from events.fields import Identifier, LongText
from events.vocabulary import SharedField
from workflows.case import CommandResult

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)

TIMELINE_SHOWN = 100
"""The timeline shows the case's events a page at a time, this many, the newest first
(`?timeline_before=V`: the page of events before version V, with links to the older and
newer pages); the audit view shows every event with its hash."""

TIMELINE_BEFORE = "timeline_before"
"""The query parameter naming the version the timeline's page ends before."""

OPEN = "open"
"""The query parameter naming the action whose form the page shows open."""

ATTENTION_SHOWN = 6
"""What needs attention, listed at the top; the rest behind a disclosure."""

SECTION_OF: dict[str, str] = {
    **dict.fromkeys(
        ("draft_plan", "submit_plan", "add_action", "complete_action", "drop_action",
         "reassign_action", "evaluate"),
        "plan",
    ),
    **dict.fromkeys(
        ("refer", "referral_reply", "withdraw_referral", "provider_report", "open_advocacy",
         "advocacy_step", "conclude_advocacy"),
        "referrals",
    ),
    **dict.fromkeys(("log_contact", "record_progress", "record_feedback", "record_note"),
                    "contacts"),
    **dict.fromkeys(
        ("add_circle_member", "update_circle_member", "remove_circle_member",
         "record_circle_consent", "share_with_circle", "record_conference"),
        "circle",
    ),
}  # fmt: skip
"""The page's section whose actions each form is listed with; any other form (the
case's own: consent, assessment, assignment, hold, closure, approvals …) goes with the
case and the client."""

CASE_SECTION = "case"

DOCUMENT_FORMS = frozenset({"attach_document", "withdraw_document", "plan_for_signature"})
"""The documents' forms (casework/console/documents.py): the documents' part of the page
is shown open when one of them is sent back or was just used, or the case has documents."""

TITLES = {
    "not_found": N_("Case not found"),
    "glass_refused": N_("Emergency access refused"),
    "role": N_("Not for your role"),
    "not_permitted": N_("Not permitted"),
}


def _documents_open(
    state: CaseState, asked: str, done: str | None, filled: dict[str, Filled]
) -> bool:
    """Whether the documents' part of the page is shown open."""
    used = {asked, done or "", *filled}
    return bool(state.documents) or asked == "documents" or bool(DOCUMENT_FORMS & used)


def forms_by_section(forms: list[ActionForm]) -> dict[str, list[ActionForm]]:
    """The forms grouped by the page's section they are listed in, in their order."""
    grouped: dict[str, list[ActionForm]] = {}
    for form in forms:
        grouped.setdefault(SECTION_OF.get(form.action, CASE_SECTION), []).append(form)
    return grouped


class ReferForm(BaseModel):
    """A referral as the form sends it: the provider's channel comes from the resource
    directory (application/referrals), the rest are `cases.commands.Refer`'s fields."""

    model_config = ConfigDict(extra="forbid")

    provider_id: Identifier
    service_id: Identifier
    goal_id: Identifier
    shared_fields: list[SharedField] = Field(default_factory=list)
    note: LongText = ""


@dataclass(frozen=True)
class Conflict:
    """A write sent for a version the case had moved on from."""

    seen_version: int
    changes: list[Line]
    kept: list[tuple[str, str]]
    """What the person typed into a form the case no longer offers (label, value)."""
    still_offered: bool


def _timeline_before(request: Request) -> int | None:
    """The `?timeline_before=` version asked for (None: the newest page; anything but a
    whole number is taken as no page asked for)."""
    raw = request.query_params.get(TIMELINE_BEFORE, "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


async def changes_since(app: Casework, case_id: str, version: int) -> list[Line]:
    """The events after `version`: what changed while the person was typing."""
    events = await app.store.read_stream(f"case-{case_id}", from_version=version + 1)
    return case_view.lines_of(app, events)


def _valid_id(case_id: str) -> str | None:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        return None


def not_visible(request: Request, principal: Principal, case_id: str) -> Response:
    """The same page for a case that does not exist and one out of scope."""
    return page(
        request,
        "case_not_visible.html",
        title=_(TITLES["not_found"]),
        case_id=case_id,
        may_break_glass=principal.actor.role in BREAK_GLASS_ROLES,
        status_code=404,
    )


async def render_case(
    request: Request,
    principal: Principal,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
    submitted: tuple[str, Filled] | None = None,
    conflict: Conflict | None = None,
    status_code: int = 200,
) -> Response:
    app = casework_of(request)
    try:
        state = await case_view.view_case(
            app, principal.actor, case_id, reason=reason, break_glass=break_glass
        )
    except CaseNotVisible:
        return not_visible(request, principal, case_id)
    except BreakGlassRefused as exc:
        return page(request, "refused.html", title=_(TITLES["glass_refused"]),
                    message=str(exc), status_code=403)  # fmt: skip
    except AccessDenied as exc:
        return page(request, "refused.html", title=_(TITLES["role"]), message=str(exc),
                    status_code=403)  # fmt: skip
    # Independent reads, each on a connection of its own: the resource directory (for
    # the forms), the details of the events the page lists, one page of the timeline.
    resources, details, timeline = await asyncio.gather(
        load_resource_directory(app.store),
        case_view.case_details(app, case_id, state.stream_version),
        case_view.timeline_page(
            app, case_id, state.stream_version, size=TIMELINE_SHOWN,
            before=_timeline_before(request),
        ),
    )  # fmt: skip
    forms = [] if break_glass else forms_for(state, principal.actor, resources)
    filled: dict[str, Filled] = {}
    if submitted is not None:
        filled[submitted[0]] = submitted[1]
    asked = request.query_params.get(OPEN, "")
    return page(
        request,
        "case.html",
        title=_("Case %(ref)s", ref=state.client_ref),
        current="caseload",
        attention=needs_attention(state, now_of(request)),
        attention_shown=ATTENTION_SHOWN,
        forms_by_section=forms_by_section,
        open_form=asked if any(f.action == asked for f in forms) else None,
        documents_open=_documents_open(state, asked, request.query_params.get("done"), filled),
        language_name=language_label,  # the client's language in the page's language
        state=state,
        case_id=case_id,
        details=details,
        timeline=timeline,
        forms=forms,
        filled=filled,
        conflict=conflict,
        break_glass=break_glass,
        done=request.query_params.get("done"),
        providers={p.provider_id: p.name for p in resources.providers.values()},
        timeline_before=TIMELINE_BEFORE,
        status_code=status_code,
    )


@router.get("/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    principal = await signed_in(request)
    valid = _valid_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    return await render_case(request, principal, valid)


@router.post("/{case_id}/break-glass")
async def break_glass(request: Request, case_id: str) -> Response:
    """Emergency access: the reason comes first, in the body (never the URL)."""
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    valid = _valid_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return page(
            request, "case_not_visible.html", title=_(TITLES["not_found"]), case_id=valid,
            may_break_glass=principal.actor.role in BREAK_GLASS_ROLES,
            reason_error=_("Say why you must open this case."), status_code=422,
        )  # fmt: skip
    return await render_case(request, principal, valid, break_glass=reason)


def _refused_page(
    request: Request, principal: Principal, case_id: str, refusal: case_commands.Admission
) -> Response:
    """The case page's answer to a command the caller may not send: the not-found page
    (the same as for a case that does not exist), or 403 naming the access table's reason."""
    if isinstance(refusal, case_commands.NotFound):
        return not_visible(request, principal, case_id)
    title = _(TITLES["role"] if refusal.for_role else TITLES["not_permitted"])
    return page(request, "refused.html", title=title, message=refusal.reason, status_code=403)


@router.post("/{case_id}/do/{action}")
async def act(request: Request, case_id: str, action: str) -> Response:
    """A form of the case page, sent through the command use case (application/
    case_commands): it admits the caller (access table, access log) before the form is
    read, then sends the command; this route only reads the form and renders the answer."""
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    app = casework_of(request)
    actor = principal.actor
    valid = _valid_id(case_id)
    if valid is None or action not in BY_UPDATE:
        return not_visible(request, principal, case_id)
    admitted = await case_commands.admit(app, actor, valid, action)
    if not isinstance(admitted, case_commands.Admitted):
        return _refused_page(request, principal, valid, admitted)
    try:
        state = await (await app.cases()).state(valid)
    except CaseNotFound:
        return not_visible(request, principal, valid)
    raw_version = str(form.get("version", ""))
    version = int(raw_version) if raw_version.isdigit() else -1
    resources = await load_resource_directory(app.store)
    spec = _offered(state, actor, resources, action)
    if version != state.stream_version:
        seen = await _state_at(app, valid, version)
        shown = spec or (_offered(seen, actor, resources, action) if seen else None)
        filled = Filled(values=values_of(shown, form)) if shown else Filled()
        return await _conflict(request, principal, valid, version, action, filled, shown,
                               still_offered=spec is not None)  # fmt: skip
    if spec is None:
        filled = Filled(form_errors=[_("This action is not open to you on the case as it stands.")])
        return await render_case(request, principal, valid, submitted=(action, filled),
                                 status_code=409)  # fmt: skip
    filled = Filled(values=values_of(spec, form))
    data, maps = parse(spec, form)
    if action == case_commands.REFER:
        try:
            sent = ReferForm.model_validate(data)
        except ValidationError as exc:
            add_validation_errors(filled, spec, exc, maps)
            return await render_case(request, principal, valid,
                                     submitted=(action, filled), status_code=422)  # fmt: skip
        result = await case_commands.refer(
            app, actor, valid, provider=sent.provider_id, service=sent.service_id,
            goal=sent.goal_id, shared_fields=sent.shared_fields, note=sent.note,
            expected_version=version, admitted=admitted,
        )  # fmt: skip
    else:
        data = circle_forms.prepare(action, data)
        result = await case_commands.send(
            app, actor, valid, action, data, expected_version=version, admitted=admitted
        )
    match result:
        case CommandResult():
            return redirect(f"{PREFIX}/cases/{valid}?done={action}#outcome")
        case case_commands.NotFound() | case_commands.NotPermitted():
            return _refused_page(request, principal, valid, result)
        case case_commands.VersionConflict():
            return await _conflict(request, principal, valid, version, action, filled, spec,
                                   still_offered=True)  # fmt: skip
        case case_commands.Invalid(error=error):
            add_validation_errors(filled, spec, error, maps)
            status = 422
        case case_commands.Rejected(text=text):
            add_rule_refusal(filled, spec, text)
            status = 422
        case (
            case_commands.RuleRefused(reason=reason)
            | case_commands.IdempotencyMismatch(reason=reason)
        ):
            add_rule_refusal(filled, spec, reason)
            status = 409
    return await render_case(request, principal, valid, submitted=(action, filled),
                             status_code=status)  # fmt: skip


def _offered(
    state: CaseState, actor: Actor, resources: ResourceDirectory, action: str
) -> ActionForm | None:
    return next((f for f in forms_for(state, actor, resources) if f.action == action), None)


async def _state_at(app: Casework, case_id: str, version: int) -> CaseState | None:
    """The case as it stood at `version` (the page the person typed into)."""
    if version < 1:
        return None
    events = await app.store.read_stream(f"case-{case_id}", limit=version)
    return fold(events, app.store.registry) if events else None


async def _conflict(
    request: Request,
    principal: Principal,
    case_id: str,
    version: int,
    action: str,
    filled: Filled,
    spec: ActionForm | None,
    *,
    still_offered: bool,
) -> Response:
    """The case moved on: what changed, and what the person typed, kept."""
    app = casework_of(request)
    changed = await changes_since(app, case_id, max(version, 0))
    kept: list[tuple[str, str]] = []
    if spec is not None and not still_offered:
        for item in spec.inputs:
            typed = [v for v in filled.values.get(item.name, []) if v.strip()]
            if typed and item.kind != "hidden":
                kept.append((item.label, ", ".join(typed)))
    return await render_case(
        request,
        principal,
        case_id,
        submitted=(action, filled),
        conflict=Conflict(version, changed, kept, still_offered),
        status_code=409,
    )
