"""The approvals inbox (supervisors): plans and closures waiting, oldest first, with the
deadline after which they escalate; approve, or return with a reason.

The rows come from the `approvals` read model (application/read_models `approvals`),
scoped to the supervisor's team, with `can_decide` false for an approval the
supervisor requested (the author may not approve). A decision names the approval it
answers: if the case's pending approval is another one by then (returned and
resubmitted meanwhile), nothing is sent and the inbox says so.

Each row's form carries the case's version as the inbox showed it (its version in the
log), as the case page's forms do. The decision is `DecideApproval`, sent for that
version through the command use case (application/case_commands, as the case page and
the API send it): the caller is admitted by the access table's APPROVE row, a refusal
recorded in the access log (403; out of scope, "No such approval"), and the case's rules
check it again, the approval rule among them (the author of the request or of the plan
may not decide it: cases/access.py `approval_refusal`). If the case moved on meanwhile,
nothing is recorded, and the inbox answers 409 with what changed since (the events after that
version, once the read of the case's history is allowed and recorded) and the decision,
reasons and note as typed, under the case's new version, ready to send again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import case_commands
from application import read_models as rm
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_reads import read_history
from application.policies import current_policy
from application.read_models import PageRequest
from cases.access import AccessDenied, CaseNotVisible
from cases.actors import Actor
from casework.console.case_page import Line, changes_since
from casework.console.web import (
    PREFIX,
    casework_of,
    check_csrf,
    not_for_your_role,
    page,
    redirect,
    signed_in,
    translated,
)
from casework.i18n import _
from events.vocabulary import ApprovalKind

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True)
class Typed:
    """What the supervisor sent for one approval, shown again with an error."""

    decision: str
    reason: str
    note: str


@dataclass(frozen=True)
class Changed:
    """The case moved on from the version the inbox showed: what changed since."""

    seen_version: int
    changes: list[Line]


async def _inbox(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    typed: dict[str, Typed] | None = None,
    changed: dict[str, Changed] | None = None,
) -> Response:
    app = casework_of(request)
    actor = request.state.principal.actor
    try:
        waiting = await rm.approvals(app, actor, PageRequest(limit=rm.MAX_LIMIT))
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    # Each case's version in the log, read after the rows (the read model lags the log):
    # a decision on a row the case has since moved on from is refused, never misapplied.
    versions = await app.store.stream_versions([f"case-{a.case_id}" for a in waiting.items])
    deadline: timedelta = (await current_policy(app.store)).approval_deadline
    return page(
        request,
        "approvals.html",
        title=_("Approvals"),
        current="approvals",
        rows=[
            (a, a.requested_at + deadline, versions.get(f"case-{a.case_id}", 0))
            for a in waiting.items
        ],
        errors=errors or {},
        typed=typed or {},
        changed=changed or {},
        done=request.query_params.get("done"),
        status_code=status_code,
    )


@router.get("/approvals")
async def approvals(request: Request) -> Response:
    await signed_in(request)
    return await _inbox(request)


async def _what_changed(app: Casework, actor: Actor, case_id: str, seen: int) -> list[Line]:
    """The events after `seen`, once the read of the case's history is allowed and
    recorded (application/case_reads `read_history`); empty if it is refused."""
    try:
        await read_history(app, actor, case_id)
    except (CaseNotVisible, AccessDenied):
        return []
    return await changes_since(app, case_id, max(seen, 0))


@router.post("/approvals/{case_id}/{approval_id}")
async def decide(request: Request, case_id: str, approval_id: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    app = casework_of(request)
    actor = principal.actor
    key = f"{case_id}/{approval_id}"
    decision = str(form.get("decision", ""))
    raw_reason = str(form.get("reason", ""))
    note = str(form.get("note", ""))
    raw_version = str(form.get("version", ""))
    version = int(raw_version) if raw_version.isdigit() else -1
    reasons = [line.strip() for line in raw_reason.splitlines() if line.strip()]
    typed = {key: Typed(decision, raw_reason, note)}

    async def refused(message: str, status_code: int) -> Response:
        return await _inbox(request, errors={key: message}, status_code=status_code, typed=typed)

    async def conflict() -> Response:
        changes = await _what_changed(app, actor, case_id, version)
        return await _inbox(
            request,
            errors={key: _("The case changed since this page was shown: nothing was sent.")},
            status_code=409, typed=typed, changed={key: Changed(version, changes)},
        )  # fmt: skip

    if decision not in ("approve", "return"):
        return await refused(_("Choose approve or return."), 422)
    if decision == "return" and not reasons:
        return await refused(_("Say why you return it: the author will read it."), 422)
    # Admitted by the command use case: the access table's APPROVE row (not a read
    # permission), each refusal recorded; out of scope reads as no such approval.
    admitted = await case_commands.admit(app, actor, case_id, "decide_approval")
    if isinstance(admitted, case_commands.NotPermitted):
        return await refused(translated(admitted.reason), 403)
    if not isinstance(admitted, case_commands.Admitted):
        return await refused(_("No such approval waiting for you."), 404)
    try:
        state = await (await app.cases()).state(case_id)
    except CaseNotFound:
        return await refused(_("No such approval waiting for you."), 404)
    pending = next((a for a in state.approvals.values() if a.approval_id == approval_id), None)
    if pending is None:
        changes = await _what_changed(app, actor, case_id, version) if version >= 0 else []
        return await _inbox(
            request,
            errors={key: _("This approval is no longer waiting: the case changed meanwhile.")},
            status_code=409, typed=typed,
            changed={key: Changed(version, changes)} if changes else None,
        )  # fmt: skip
    if version != state.stream_version:
        return await conflict()
    sent = {
        "kind": ApprovalKind(pending.kind),
        "approve": decision == "approve",
        "reasons": reasons,
        "note": note,
    }
    result = await case_commands.send(
        app, actor, case_id, "decide_approval", sent, expected_version=version, admitted=admitted
    )
    match result:
        case case_commands.Invalid(error=error):
            return await refused("; ".join(str(e["msg"]) for e in error.errors()), 422)
        case case_commands.VersionConflict():
            return await conflict()
        case case_commands.NotFound():
            return await refused(_("No such approval waiting for you."), 404)
        case case_commands.NotPermitted(reason=reason):
            return await refused(translated(reason), 403)
        case (
            case_commands.RuleRefused(reason=reason)
            | case_commands.Rejected(text=reason)
            | case_commands.IdempotencyMismatch(reason=reason)
        ):
            return await refused(translated(reason), 409)
    return redirect(f"{PREFIX}/approvals?done={decision}")
