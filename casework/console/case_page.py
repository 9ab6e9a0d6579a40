"""The case page: where the case stands, and every action the viewer may take as a form.

Reading the page is a read of the case's details: allowed by the access table and
recorded in the access log (application/case_reads `read_case`), or refused with the
same page whether the case does not exist or is out of the viewer's scope. A staff
member whose role may break the glass is then asked for the reason first; the emergency
read is recorded, marked, and the case's supervisors are told.

A form sends the case's version the page was rendered with. The case workflow refuses
a command sent for an older version (application/case_client `CaseVersionConflict`):
the page then says so, lists what changed since (the events after that version), and
shows the form again with what the person typed, ready to send against the new
version once they have looked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from application import access_log, referrals
from application.bootstrap import Casework
from application.case_client import CaseCommandRejected, CaseNotFound, CaseVersionConflict
from application.case_reads import read_case
from application.identity import Principal
from application.references import UnknownReference, check_references
from cases import commands as c
from cases.access import (
    BREAK_GLASS_ROLES,
    AccessDenied,
    BreakGlassRefused,
    CaseNotVisible,
    Query,
    decide_read,
)
from cases.actors import Actor
from cases.command_table import BY_UPDATE
from cases.evolve import fold
from cases.state import CaseState
from casework.console import circle_forms
from casework.console.case_actions import forms_for
from casework.console.forms import (
    ActionForm,
    Filled,
    ListMaps,
    add_rule_refusal,
    add_validation_errors,
    parse,
    values_of,
)
from casework.console.web import (
    PREFIX,
    casework_of,
    check_csrf,
    page,
    redirect,
    signed_in,
)
from directory import DirectoryError, ResourceDirectory, load_resource_directory
from events.fields import Identifier, LongText
from events.vocabulary import (
    AdvocacyConcluded,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    AssessmentRecorded,
    ClientFeedbackRecorded,
    ContactLogged,
    GoalProgressRecorded,
    GoalsEvaluated,
    ProviderReportReceived,
    SharedField,
)
from projections.timeline import describe

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)

TIMELINE_SHOWN = 100
"""The timeline shows the case's latest events, this many (`?timeline=all`: every one);
the audit view shows every event with its hash."""


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
class Line:
    """One event as the page shows it: never personal text in `text`."""

    version: int
    type: str
    text: str
    actor: str
    role: str
    at: datetime


@dataclass(frozen=True)
class Conflict:
    """A write sent for a version the case had moved on from."""

    seen_version: int
    changes: list[Line]
    kept: list[tuple[str, str]]
    """What the person typed into a form the case no longer offers (label, value)."""
    still_offered: bool


AdvocacyEvent = AdvocacyOpened | AdvocacyStepRecorded | AdvocacyConcluded


@dataclass
class CaseRecord:
    """What the page shows besides the state: details folded from the case's events."""

    assessment: AssessmentRecorded | None
    contacts: list[tuple[datetime, str, ContactLogged]]
    progress: list[tuple[datetime, str, GoalProgressRecorded]]
    evaluations: list[tuple[datetime, str, GoalsEvaluated]]
    reports: list[tuple[datetime, ProviderReportReceived]]
    timeline: list[Line]
    advocacy: list[tuple[datetime, str, AdvocacyEvent]] = field(default_factory=list)
    """Advocacy events, oldest first (issue 16)."""
    feedback: list[tuple[datetime, str, ClientFeedbackRecorded]] = field(default_factory=list)


async def case_record(app: Casework, case_id: str) -> CaseRecord:
    """The case's events folded for the page (call only once the read is allowed)."""
    events = await app.store.read_stream(f"case-{case_id}")
    record = CaseRecord(None, [], [], [], [], [])
    for recorded in events:
        event = app.store.decode(recorded)
        who = recorded.metadata.actor_id
        at = recorded.occurred_at
        if isinstance(event, AssessmentRecorded):
            record.assessment = event
        elif isinstance(event, ContactLogged):
            record.contacts.append((at, who, event))
        elif isinstance(event, GoalProgressRecorded):
            record.progress.append((at, who, event))
        elif isinstance(event, GoalsEvaluated):
            record.evaluations.append((at, who, event))
        elif isinstance(event, ProviderReportReceived):
            record.reports.append((at, event))
        elif isinstance(event, AdvocacyOpened | AdvocacyStepRecorded | AdvocacyConcluded):
            record.advocacy.append((at, who, event))
        elif isinstance(event, ClientFeedbackRecorded):
            record.feedback.append((at, who, event))
        record.timeline.append(
            Line(recorded.stream_version, recorded.event_type, describe(event), who,
                 recorded.metadata.actor_role, at)
        )  # fmt: skip
    return record


async def changes_since(app: Casework, case_id: str, version: int) -> list[Line]:
    """The events after `version`: what changed while the person was typing."""
    events = await app.store.read_stream(f"case-{case_id}", from_version=version + 1)
    return [
        Line(e.stream_version, e.event_type, describe(app.store.decode(e)),
             e.metadata.actor_id, e.metadata.actor_role, e.occurred_at)
        for e in events
    ]  # fmt: skip


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
        title="Case not found",
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
        data = await read_case(
            app, principal.actor, case_id, reason=reason, break_glass=break_glass
        )
    except CaseNotVisible:
        return not_visible(request, principal, case_id)
    except BreakGlassRefused as exc:
        return page(request, "refused.html", title="Emergency access refused",
                    message=str(exc), status_code=403)  # fmt: skip
    except AccessDenied as exc:
        return page(request, "refused.html", title="Not for your role", message=str(exc),
                    status_code=403)  # fmt: skip
    state = CaseState.model_validate(data)
    resources = await load_resource_directory(app.store)
    forms = [] if break_glass else forms_for(state, principal.actor, resources)
    filled: dict[str, Filled] = {}
    if submitted is not None:
        filled[submitted[0]] = submitted[1]
    return page(
        request,
        "case.html",
        title=f"Case {state.client_ref}",
        current="caseload",
        state=state,
        case_id=case_id,
        record=await case_record(app, case_id),
        forms=forms,
        filled=filled,
        conflict=conflict,
        break_glass=break_glass,
        done=request.query_params.get("done"),
        providers={p.provider_id: p.name for p in resources.providers.values()},
        timeline_all=request.query_params.get("timeline") == "all",
        timeline_shown=TIMELINE_SHOWN,
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
            request, "case_not_visible.html", title="Case not found", case_id=valid,
            may_break_glass=principal.actor.role in BREAK_GLASS_ROLES,
            reason_error="Say why you must open this case.", status_code=422,
        )  # fmt: skip
    return await render_case(request, principal, valid, break_glass=reason)


async def _visible_state(app: Casework, actor: Actor, case_id: str, action: str) -> CaseState:
    """The case as its workflow holds it when the actor may see it; CaseNotVisible
    otherwise, the refused attempt recorded like a refused read (as the API does)."""
    try:
        state = await (await app.cases()).state(case_id)
        decide_read(
            actor, Query.CASE_DETAILS, case_id, team=state.team, worker=state.assigned_worker
        )
    except (CaseNotFound, CaseNotVisible, AccessDenied):
        await access_log.record(app.pool, actor, case_id, f"console {action}", allowed=False)
        raise CaseNotVisible(case_id) from None
    return state


async def _command(
    app: Casework,
    actor: Actor,
    action: str,
    data: dict[str, Any],
    version: int,
    spec: ActionForm,
    filled: Filled,
    maps: ListMaps,
) -> c.Command | None:
    """The command model validated from the form's data (None: errors in `filled`)."""
    entry = BY_UPDATE[action]
    for item in spec.inputs:
        if item.staff and data.get(item.name):
            try:
                data[item.name] = await app.actor(str(data[item.name]))
            except (LookupError, DirectoryError) as exc:
                filled.errors.setdefault(item.name, []).append(str(exc))
    if not filled.ok:
        return None
    try:
        cmd: c.Command = entry.command.model_validate(
            {**data, "actor": actor, "expected_version": version}
        )
    except ValidationError as exc:
        add_validation_errors(filled, spec, exc, maps)
        return None
    return cmd


@router.post("/{case_id}/do/{action}")
async def act(request: Request, case_id: str, action: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    app = casework_of(request)
    actor = principal.actor
    valid = _valid_id(case_id)
    if valid is None or (action not in BY_UPDATE and action != "refer"):
        return not_visible(request, principal, case_id)
    try:
        state = await _visible_state(app, actor, valid, action)
    except CaseNotVisible:
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
        filled = Filled(form_errors=["This action is not open to you on the case as it stands."])
        return await render_case(request, principal, valid, submitted=(action, filled),
                                 status_code=409)  # fmt: skip
    filled = Filled(values=values_of(spec, form))
    data, maps = parse(spec, form)
    try:
        if action == "refer":
            try:
                sent = ReferForm.model_validate(data)
            except ValidationError as exc:
                add_validation_errors(filled, spec, exc, maps)
                return await render_case(request, principal, valid,
                                         submitted=(action, filled), status_code=422)  # fmt: skip
            await referrals.refer(
                app, actor, valid, provider=sent.provider_id, service=sent.service_id,
                goal=sent.goal_id, shared_fields=sent.shared_fields, note=sent.note,
                expected_version=version,
            )  # fmt: skip
        else:
            data = circle_forms.prepare(action, data)
            cmd = await _command(app, actor, action, data, version, spec, filled, maps)
            if cmd is None:
                return await render_case(request, principal, valid,
                                         submitted=(action, filled), status_code=422)  # fmt: skip
            await check_references(app.store, cmd)
            await (await app.cases()).execute(valid, cmd)
    except CaseVersionConflict:
        return await _conflict(request, principal, valid, version, action, filled, spec,
                               still_offered=True)  # fmt: skip
    except (LookupError, DirectoryError) as exc:
        add_rule_refusal(filled, spec, str(exc))
        return await render_case(request, principal, valid, submitted=(action, filled),
                                 status_code=422)  # fmt: skip
    except UnknownReference as exc:
        add_rule_refusal(filled, spec, str(exc))
        return await render_case(request, principal, valid, submitted=(action, filled),
                                 status_code=422)  # fmt: skip
    except CaseCommandRejected as exc:
        add_rule_refusal(filled, spec, str(exc))
        return await render_case(request, principal, valid, submitted=(action, filled),
                                 status_code=409)  # fmt: skip
    return redirect(f"{PREFIX}/cases/{valid}?done={action}#outcome")


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
