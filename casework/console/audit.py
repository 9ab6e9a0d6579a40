"""The audit view (auditors, managers): a case's timeline with each event's actor, role,
time, reason and hash; whether the case's hash chain verifies; and the access log —
who read the case, when, through which view and why, emergency reads marked. Its home
lists the latest emergency reads and the latest exports of a list (who, which list,
format, filters, rows, how it ended).

Opening the view is itself a read of the case's history, allowed by the access table
and recorded (application/read_models `case_timeline`). Events are shown as the
projector sees them (projections/base `decode`): personal fields erased, so the audit
trail shows who did what and why, not what the client said. The chain is checked by
application/consistency `verify_case_chain`, the check `casework verify` runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from application import read_models as rm
from application.case_export import export_case
from application.consistency import verify_case_chain
from application.exports import export_entries
from application.read_models import AccessEntry, PageRequest
from cases.access import QUERIES, AccessDenied, BreakGlassRefused, CaseNotVisible, Query
from casework.console.web import (
    PREFIX,
    casework_of,
    not_for_your_role,
    page,
    redirect,
    signed_in,
)
from casework.i18n import _
from projections.base import decode
from projections.timeline import describe

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@dataclass(frozen=True)
class AuditLine:
    version: int
    at: datetime
    actor: str
    role: str
    text: str
    reason: str
    hash: str
    intact: bool


def _reason(event: object) -> str:
    reason = getattr(event, "reason", None)
    reasons = getattr(event, "reasons", None)
    parts = [str(getattr(reason, "value", reason))] if reason else []
    if reasons:
        parts += [str(r) for r in reasons]
    return "; ".join(parts).replace("_", " ")


@router.get("/audit")
async def audit_home(request: Request, case: str = "") -> Response:
    principal = await signed_in(request)
    if case.strip():
        return redirect(f"{PREFIX}/audit/{case.strip()}")
    app = casework_of(request)
    try:
        glass = await rm.break_glass_entries(app, principal.actor, PageRequest(limit=50))
        exported = await export_entries(app, principal.actor, PageRequest(limit=20))
    except AccessDenied as exc:
        return not_for_your_role(request, exc)
    return page(request, "audit_home.html", title=_("Audit"), current="audit",
                break_glass=glass.items, exports=exported.items)  # fmt: skip


@router.get("/audit/{case_id}/export")
async def audit_export(request: Request, case_id: str, personal: bool = True) -> Response:
    """The case file an auditor verifies alone (`casework case export`), as a download:
    allowed by the access table's `case_export` row and recorded in the access log."""
    principal = await signed_in(request)
    app = casework_of(request)
    try:
        valid = str(uuid.UUID(case_id))
        content = await export_case(app, principal.actor, valid, personal=personal)
    except (ValueError, CaseNotVisible):
        return page(request, "refused.html", title=_("Case not found"),
                    message=_("No case %(case)s visible to you.", case=case_id),
                    status_code=404)  # fmt: skip
    except (AccessDenied, BreakGlassRefused) as exc:
        return not_for_your_role(request, exc)
    return Response(
        content,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="case-{valid}.json"'},
    )


@router.get("/audit/{case_id}")
async def audit_case(request: Request, case_id: str) -> Response:
    principal = await signed_in(request)
    app = casework_of(request)
    actor = principal.actor
    try:
        valid = str(uuid.UUID(case_id))
        # The read of the case's history, checked and recorded first.
        await rm.case_timeline(app, actor, valid, PageRequest(limit=1))
        access: list[AccessEntry] = (
            await rm.access_log_entries(app, actor, valid, PageRequest(limit=rm.MAX_LIMIT))
        ).items
        # The events shown, then their chain checked: every event shown is vouched for.
        events = await app.store.read_stream(f"case-{valid}")
        chain = await verify_case_chain(app, actor, valid)
    except (ValueError, CaseNotVisible):
        return page(request, "refused.html", title=_("Case not found"),
                    message=_("No case %(case)s visible to you.", case=case_id),
                    status_code=404)  # fmt: skip
    except (AccessDenied, BreakGlassRefused) as exc:
        return not_for_your_role(request, exc)
    lines = []
    for recorded in events:
        event = decode(recorded)
        lines.append(
            AuditLine(
                version=recorded.stream_version,
                at=recorded.occurred_at,
                actor=recorded.metadata.actor_id,
                role=recorded.metadata.actor_role,
                text=describe(event),
                reason=_reason(event),
                hash=recorded.hash.hex(),
                intact=chain.intact(recorded.stream_version),
            )
        )
    return page(
        request,
        "audit.html",
        title=_("Audit of case %(case)s", case=valid[:8]),
        current="audit",
        case_id=valid,
        lines=lines,
        chain=chain,
        access=access,
        may_export=actor.role in QUERIES[Query.CASE_EXPORT],
    )
