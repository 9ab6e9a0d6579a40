"""The transfers inbox: transfers waiting for this worker or this team, accept or reject
with a reason.

The rows are application/transfers `pending_transfers` (the `transfers` read model,
from the receiving side, as `GET /api/v1/transfers` lists them), each with the case's
version in the log. The answer is `ReplyTransfer`, sent for that version and naming
the transfer it answers: if the case moved on meanwhile, or its waiting transfer is
another one by then, nothing is sent, the inbox says so and keeps what was typed. The
answer goes through the command use case (application/case_commands, as the case page
and the API send it: the access table's transfer_reply row, a refusal recorded in the
access log), and the case's own rules check it again (who may answer, a reason to
reject).

A receiving worker may not yet see the case itself, so a conflict does not list the
case's events (the case page does, for those who may read it).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import case_commands
from application import transfers as use_cases
from application.case_client import CaseNotFound
from application.read_models import MAX_LIMIT, PageRequest
from application.transfers import TransferWaiting
from cases.access import AccessDenied, Action, judged_location, may
from cases.actors import Actor
from cases.state import CaseState
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
from casework.i18n import N_, _

router = APIRouter(prefix=PREFIX, include_in_schema=False)

CHANGED = N_("The case changed since this page was shown: nothing was sent. Look again and answer.")


@dataclass(frozen=True)
class Typed:
    """What the person sent for one transfer, shown again with an error."""

    decision: str
    reason: str


def _may_answer(actor: Actor, state: CaseState, transfer_id: str) -> bool:
    """The transfer the form names is the one waiting, and the actor is on its
    receiving side (the access table, cases/access.py `judged_location`)."""
    pending = state.pending_transfer
    if not state.is_open or pending is None or pending.transfer_id != transfer_id:
        return False
    team, worker = judged_location(actor, Action.TRANSFER_REPLY, state)
    return may(actor, Action.TRANSFER_REPLY, team=team, assigned_worker=worker)


async def waiting_for(request: Request, actor: Actor) -> list[TransferWaiting]:
    waiting = await use_cases.pending_transfers(
        casework_of(request), actor, PageRequest(limit=MAX_LIMIT)
    )
    return waiting.items


async def _inbox(
    request: Request,
    actor: Actor,
    errors: dict[str, str] | None = None,
    status: int = 200,
    typed: dict[str, Typed] | None = None,
) -> Response:
    try:
        rows = await waiting_for(request, actor)
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    return page(
        request,
        "transfers.html",
        title=_("Transfers"),
        current="transfers",
        rows=rows,
        errors=errors or {},
        typed=typed or {},
        done=request.query_params.get("done"),
        status_code=status,
    )


@router.get("/transfers")
async def transfers(request: Request) -> Response:
    principal = await signed_in(request)
    return await _inbox(request, principal.actor)


@router.post("/transfers/{case_id}")
async def answer(request: Request, case_id: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    app = casework_of(request)
    actor = principal.actor
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", "")).strip() or None
    version = str(form.get("version", ""))
    transfer_id = str(form.get("transfer_id", ""))
    typed = {case_id: Typed(decision, reason or "")}

    async def refused(message: str, status: int) -> Response:
        return await _inbox(request, actor, {case_id: message}, status, typed)

    if decision not in ("accept", "reject"):
        return await refused(_("Choose accept or reject."), 422)
    if decision == "reject" and reason is None:
        return await refused(_("Say why you reject the transfer."), 422)
    # Admitted by the command use case (the access table's transfer_reply row, from the
    # receiving side; each refusal recorded): a refused one reads as no such transfer.
    admitted = await case_commands.admit(app, actor, case_id, "reply_transfer")
    if not isinstance(admitted, case_commands.Admitted):
        return await refused(_("No such transfer waiting for you."), 404)
    try:
        state: CaseState | None = await (await app.cases()).state(case_id)
    except CaseNotFound:
        state = None
    if state is None or not _may_answer(actor, state, transfer_id):
        return await refused(_("No such transfer waiting for you."), 404)
    if not version.isdigit() or int(version) != state.stream_version:
        return await refused(_(CHANGED), 409)
    sent = {"accept": decision == "accept", "reason": reason}
    result = await case_commands.send(
        app, actor, case_id, "reply_transfer", sent, expected_version=int(version),
        admitted=admitted,
    )  # fmt: skip
    match result:
        case case_commands.Invalid(error=error):
            message = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            return await refused(message, 422)
        case case_commands.VersionConflict():
            return await refused(_(CHANGED), 409)
        case case_commands.NotFound() | case_commands.NotPermitted():
            return await refused(_("No such transfer waiting for you."), 404)
        case (
            case_commands.RuleRefused(reason=why)
            | case_commands.Rejected(text=why)
            | case_commands.IdempotencyMismatch(reason=why)
        ):
            return await refused(translated(why), 409)
    return redirect(f"{PREFIX}/transfers?done={decision}")
