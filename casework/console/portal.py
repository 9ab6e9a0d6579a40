"""The provider portal in the console: a provider's staff see the referrals sent to their
organisation and answer them (accept, decline with a reason, report progress, complete).

Pages over application/provider_portal.py, as `/api/v1/portal` is: the list
(`/console/portal`), one referral with only what the client consented to share
(`/console/portal/{case_id}/{referral_id}`) and its forms, each answer posted to
`/console/portal/{case_id}/{referral_id}/{action}` and sent through the command use case
(application/case_commands `send`: admission, its refusals on record). Another provider's
referral reads as one that does not exist (404).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import case_commands
from application import provider_portal as portal
from application.paging import MAX_LIMIT, PageRequest
from application.provider_portal import PortalAction
from cases.access import AccessDenied
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
from workflows.case import CommandResult

router = APIRouter(prefix=PREFIX, include_in_schema=False)

DONE = {
    "accept": N_("Referral accepted."),
    "decline": N_("Referral declined."),
    "progress": N_("Progress report sent."),
    "complete": N_("Referral completed."),
}
ACTION_LABELS = {
    "accept": N_("Accept"),
    "decline": N_("Decline"),
    "progress": N_("Report progress"),
    "complete": N_("Complete"),
}
MISSING = N_("No such referral for your organisation.")


@router.get("/portal")
async def referrals(request: Request) -> Response:
    principal = await signed_in(request)
    cursor = request.query_params.get("cursor")
    try:
        found = await portal.list_referrals(
            casework_of(request), principal.actor, PageRequest(limit=MAX_LIMIT, cursor=cursor)
        )
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    return page(
        request, "portal.html", title=_("Our referrals"), current="portal", rows=found.items,
        next_cursor=found.next_cursor,
    )  # fmt: skip


async def _referral_page(
    request: Request,
    case_id: str,
    referral_id: str,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    principal = await signed_in(request)
    try:
        shown = await portal.show_referral(
            casework_of(request), principal.actor, case_id, referral_id
        )
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    except portal.PortalNotFound:
        return _missing(request)
    done = request.query_params.get("done", "")
    return page(
        request, "portal_referral.html", title=_("Referral %(id)s", id=referral_id),
        current="portal", r=shown, labels=ACTION_LABELS, error=error, typed=typed or {},
        done=_(DONE[done]) if done in DONE else None, status_code=status_code,
    )  # fmt: skip


def _missing(request: Request) -> Response:
    return page(
        request, "refused.html", title=_("No such referral"), message=_(MISSING), status_code=404
    )


@router.get("/portal/{case_id}/{referral_id}")
async def referral(request: Request, case_id: str, referral_id: str) -> Response:
    return await _referral_page(request, case_id, referral_id)


@router.post("/portal/{case_id}/{referral_id}/{action}")
async def answer(request: Request, case_id: str, referral_id: str, action: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    if action not in PortalAction.__members__.values():
        return _missing(request)
    note = str(form.get("note", ""))
    reason = str(form.get("reason", "")) or None
    result = await portal.act(
        casework_of(request), principal.actor, case_id, referral_id, PortalAction(action),
        note=note, reason=reason,
    )  # fmt: skip
    typed = {"action": action, "note": note, "reason": reason or ""}
    match result:
        case CommandResult():
            return redirect(f"{PREFIX}/portal/{case_id}/{referral_id}?done={action}")
        case case_commands.NotFound():
            return _missing(request)
        case case_commands.NotPermitted(reason=why):
            return page(request, "refused.html", title=_("Not permitted"),
                        message=translated(why), status_code=403)  # fmt: skip
        case case_commands.Rejected(field="reason"):
            message, status = _("Say why you decline the referral."), 422
        case case_commands.Rejected(field="note"):
            message, status = _("Write the progress report."), 422
        case case_commands.Invalid(error=error):
            message = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            status = 422
        case (
            case_commands.RuleRefused(reason=why)
            | case_commands.Rejected(text=why)
            | case_commands.IdempotencyMismatch(reason=why)
            | case_commands.VersionConflict(reason=why)
        ):
            message, status = translated(why), 409
    return await _referral_page(
        request, case_id, referral_id, error=message, typed=typed, status_code=status
    )
