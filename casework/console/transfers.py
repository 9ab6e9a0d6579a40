"""The transfers inbox: transfers waiting for this worker or this team, accept or reject
with a reason.

The rows are application/transfers `pending_transfers` (the `transfers` read model,
from the receiving side, as `GET /api/v1/transfers` lists them), each with the case's
version in the log. The answer is `ReplyTransfer`, sent for that version and naming
the transfer it answers: if the case moved on meanwhile, or its waiting transfer is
another one by then, nothing is sent, the inbox says so and keeps what was typed. The
case's own rules check the answer again (who may answer, a reason to reject).

A receiving worker may not yet see the case itself, so a conflict does not list the
case's events (the case page does, for those who may read it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from application import transfers as use_cases
from application.case_client import CaseCommandRejected, CaseNotFound, CaseVersionConflict
from application.read_models import MAX_LIMIT, PageRequest
from application.transfers import TransferWaiting
from cases import commands as c
from cases.access import AccessDenied, Action, may
from cases.actors import Actor
from cases.state import CaseState
from casework.console.web import PREFIX, casework_of, check_csrf, page, redirect, signed_in

router = APIRouter(prefix=PREFIX, include_in_schema=False)

CHANGED = "The case changed since this page was shown: nothing was sent. Look again and answer."


@dataclass(frozen=True)
class Typed:
    """What the person sent for one transfer, shown again with an error."""

    decision: str
    reason: str


def _may_answer(actor: Actor, state: CaseState, transfer_id: str) -> bool:
    pending = state.pending_transfer
    return (
        state.is_open
        and pending is not None
        and pending.transfer_id == transfer_id
        and may(actor, Action.TRANSFER_REPLY, team=pending.to_team,
                assigned_worker=pending.to_worker or actor.staff_id)
    )  # fmt: skip


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
        return page(request, "refused.html", title="Not for your role", message=str(exc),
                    status_code=403)  # fmt: skip
    return page(
        request,
        "transfers.html",
        title="Transfers",
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
        return await refused("Choose accept or reject.", 422)
    if decision == "reject" and reason is None:
        return await refused("Say why you reject the transfer.", 422)
    try:
        uuid.UUID(case_id)
        state: CaseState | None = await (await app.cases()).state(case_id)
    except (ValueError, CaseNotFound):
        state = None
    if state is None or not _may_answer(actor, state, transfer_id):
        return await refused("No such transfer waiting for you.", 404)
    if not version.isdigit() or int(version) != state.stream_version:
        return await refused(CHANGED, 409)
    try:
        cmd = c.ReplyTransfer(
            actor=actor, accept=decision == "accept", reason=reason, expected_version=int(version)
        )
        await (await app.cases()).execute(case_id, cmd)
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return await refused(message, 422)
    except CaseVersionConflict:
        return await refused(CHANGED, 409)
    except CaseCommandRejected as exc:
        return await refused(str(exc), 409)
    return redirect(f"{PREFIX}/transfers?done={decision}")
