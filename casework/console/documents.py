"""Documents on the case page: the list, each download, an upload form, a withdraw form
per document, and the approved plan printed for the client to sign.

The section (`_documents.html`, included by `case.html`) shows the documents the case's
state holds (the page's read is already checked and recorded: application/case_view
`view_case`); `documents_section` is the template's helper. The forms are offered as
the case page offers its others: to those the access table lets take the command
table's `action` of `attach_document` / `withdraw_document` (`work`), on an open case,
never on a page opened by breaking the glass; the case's rules decide in the end.

* **Upload** (`POST /console/cases/{id}/documents`, the path app.py's `UPLOAD_PATHS`
  allows a document's size): a multipart form. Before the body is read: the session
  (its cookie is SameSite=Lax: a cross-site post carries none) and the browser's Fetch
  Metadata (a post another site sent is refused unread). The form is then parsed by
  Starlette, which spools the file to a temporary file, and its CSRF token checked
  before anything else is done; the caller admitted (application/case_commands
  `admit`), the version the page was rendered with compared, and the file streamed
  from the spool in `CHUNK_BYTES` reads to application/documents `attach`, which keeps
  nothing of a refused upload. The browser's file name is the document's.
* **Withdraw** (`…/documents/{document_id}/withdraw`): the command `withdraw_document`
  (application/documents `withdraw`: sent through `case_commands.send`, then the bytes
  deleted).
* **The plan for signature** (`…/documents/plan`): `attach_plan`.
* **Download** (`GET …/documents/{document_id}`): `open_document` streamed with its
  type and `Content-Disposition: attachment` (a recorded read, `document get <id>`).
  On a page opened by breaking the glass each download is a form that sends the
  reason again in the body (`POST …/documents/{document_id}/break-glass`), as opening
  the case did: the reason is never in an address.

Answers as the case page's other forms: recorded, back to the case page (`?done=`);
refused, the case page again with the refusal beside the field it names and what was
typed kept (a file is never kept: it must be chosen again), the conflict page when the
case moved on, the not-found page or 403 when the caller may not.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from application import case_commands
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.documents import checks
from application.documents import use_cases as documents
from application.documents.store import DocumentUnreadable
from application.documents.use_cases import (
    AttachAnswer,
    Attached,
    DocumentNotFound,
    ScannerDown,
    UploadRefused,
)
from application.identity import Principal
from cases.access import (
    BREAK_GLASS_ROLES,
    AccessDenied,
    BreakGlassRefused,
    CaseNotVisible,
    judged_location,
    may,
)
from cases.actors import Actor
from cases.command_table import BY_UPDATE
from cases.features.documents import KIND_NAMES, DocumentDetails, size_text
from cases.state import CaseState, Document, PlanStatus
from casework import i18n
from casework.console.case_page import Conflict, changes_since, not_visible, render_case
from casework.console.forms import ActionForm, Choice, Filled, Input, values_of
from casework.console.numbers import localized
from casework.console.web import (
    PREFIX,
    CsrfRefused,
    casework_of,
    check_csrf,
    page,
    redirect,
    signed_in,
    templates,
)
from casework.i18n import N_, _
from events.choices import DocumentKind
from workflows.case import CommandResult

router = APIRouter(prefix=f"{PREFIX}/cases", include_in_schema=False)

ATTACH = documents.ATTACH
WITHDRAW = documents.WITHDRAW
PLAN = "plan_for_signature"
"""The plan button's name: its errors on the page, its `?done=` when recorded."""

CHUNK_BYTES = 256 * 1024
"""How much of the spooled file is read at a time and handed to `attach`."""

FILE = "file"
"""The upload form's file input (and the field the upload's refusals name)."""

DETAIL_FIELDS = ("kind", "title", "goal_id", "referral_id", "conference_id")
"""The upload form's other inputs: `DocumentDetails`' fields but the file name."""

UPLOAD_FORM_FIELDS = 16
"""The most fields an upload form may carry (it has seven, and the file)."""

CHOOSE_AGAIN = N_("Choose the file again: a file is not kept when its upload is not recorded.")
"""Translated where it is shown (`_(CHOOSE_AGAIN)`)."""

WORDS = (
    N_("identity document"),
    N_("plan for signature"),
    N_("document"),
    N_("PDF"),
    N_("JPEG image"),
    N_("PNG image"),
    N_("TIFF image (scans)"),
    N_("WebP image"),
    N_("HEIC image (phone photos)"),
    N_("Word document"),
    N_("OpenDocument text"),
)
"""The kinds' names (`cases.features.documents.KIND_NAMES`, those that are not the
vocabulary's own words) and the types' (`application.documents.checks.ALLOWED_TYPES`)
as catalog entries: the section shows each in the page's language (`shown`)."""


def shown(name: str) -> str:
    """A kind's or a type's name in the language of the moment."""
    return i18n.raw_gettext(name) if name else name


def size_shown(size: int) -> str:
    """`size_text` (980 bytes, 12.3 KB, 4.5 MB) in the language of the moment."""
    number, _sep, unit = size_text(size).partition(" ")
    if unit == "bytes":
        return _("%(size)s bytes", size=localized(number))
    if unit == "KB":
        return _("%(size)s KB", size=localized(number))
    return _("%(size)s MB", size=localized(number))


# --- the section on the case page ---------------------------------------------------------


@dataclass(frozen=True)
class Row:
    document: Document
    kind: str
    type: str
    size: str
    about: str
    """What on the case it is about (a goal, a referral, a conference), or ""."""
    downloadable: bool


@dataclass(frozen=True)
class Section:
    rows: list[Row]
    upload: ActionForm | None
    """The upload form's inputs but the file (None: not offered)."""
    may_withdraw: bool
    plan_ready: bool
    """The button printing the approved plan for signature is offered."""
    largest: str
    types: str
    unshown: list[str]
    """The refusals of a form of this section sent but not offered on the page now (the
    plan button on a case with no approved plan, a document withdrawn meanwhile …)."""


def _unshown(rows: list[Row], offered: dict[str, bool], filled: Mapping[str, Filled]) -> list[str]:
    """The refusals of the forms of this section sent but not offered now."""
    out: list[str] = []
    for name, shown in offered.items():
        sent = filled.get(name)
        if sent is None:
            continue
        if name == WITHDRAW:  # offered on the document it names, while it is readable
            document_id = (sent.values.get("document_id") or [""])[0]
            shown = shown and any(
                r.document.document_id == document_id and r.document.readable for r in rows
            )
        if not shown:
            out += sent.form_errors
            out += [f"{field}: {e}" for field, errors in sent.errors.items() for e in errors]
    return out


def _allowed(actor: Actor, state: CaseState, update: str) -> bool:
    """The access table's answer for the command table's `action` of `update`, as the
    case page's other forms ask it (casework/console/case_actions.py `forms_for`)."""
    access = BY_UPDATE[update].action
    team, worker = judged_location(actor, access, state)
    return may(actor, access, team=team, assigned_worker=worker)


def _goal_ids(state: CaseState) -> list[str]:
    found: list[str] = []
    for plan in (state.active_plan, state.draft_plan):
        for goal in plan.goals if plan is not None else ():
            if goal.goal_id not in found:
                found.append(goal.goal_id)
    return found


def upload_form(state: CaseState) -> ActionForm:
    """The upload form's inputs but the file: what it is, its title, what it is about."""
    inputs = [
        Input("kind", _("What it is"), "select",
              (Choice("", _("— choose —")),
               *(Choice(k.value, shown(KIND_NAMES[k])) for k in DocumentKind))),
        Input("title", _("Title")),
    ]  # fmt: skip
    goals = _goal_ids(state)
    if goals:
        inputs.append(
            Input("goal_id", _("The goal it is about"), "select",
                  (Choice("", "—"), *(Choice(g, g) for g in goals)), optional=True)
        )  # fmt: skip
    referrals = tuple(
        Choice(
            r.referral_id,
            _("%(referral)s to %(provider)s", referral=r.referral_id, provider=r.provider_id),
        )
        for r in state.referrals.values()
    )
    if referrals:
        inputs.append(
            Input("referral_id", _("The referral it is about"), "select",
                  (Choice("", "—"), *referrals), optional=True)
        )  # fmt: skip
    conferences = tuple(
        Choice(c.conference_id, f"{c.conference_id}, {i18n.format_day(c.held_on)}")
        for c in state.conferences.values()
    )
    if conferences:
        inputs.append(
            Input("conference_id", _("The case conference it is about"), "select",
                  (Choice("", "—"), *conferences), optional=True)
        )  # fmt: skip
    return ActionForm(ATTACH, _("Add a document"), _("Upload the document"), tuple(inputs))


def _about(document: Document) -> str:
    parts = [
        _(label, id=value)
        for label, value in (
            (N_("goal %(id)s"), document.goal_id),
            (N_("referral %(id)s"), document.referral_id),
            (N_("conference %(id)s"), document.conference_id),
        )
        if value
    ]
    return ", ".join(parts)


def documents_section(
    request: Request,
    state: CaseState,
    principal: Principal | None,
    break_glass: str | None,
    filled: Mapping[str, Filled],
) -> Section:
    """What `_documents.html` shows of the case's documents to the signed-in member."""
    listed = sorted(
        state.documents.values(), key=lambda d: (d.added_at, d.document_id), reverse=True
    )
    rows = [
        Row(
            document=d,
            kind=shown(KIND_NAMES.get(d.kind, str(d.kind))),
            type=shown(checks.ALLOWED_TYPES.get(d.media_type, d.media_type)),
            size=size_shown(d.size),
            about=_about(d),
            downloadable=d.readable and not state.forgotten,
        )
        for d in listed
    ]
    actor = principal.actor if principal is not None else None
    works = not break_glass and state.is_open and not state.forgotten
    may_attach = works and actor is not None and _allowed(actor, state, ATTACH)
    may_withdraw = works and actor is not None and _allowed(actor, state, WITHDRAW)
    plan = state.active_plan
    plan_ready = may_attach and plan is not None and plan.status is PlanStatus.APPROVED
    offered = {ATTACH: may_attach, WITHDRAW: may_withdraw, PLAN: plan_ready}
    return Section(
        rows=rows,
        upload=upload_form(state) if may_attach else None,
        may_withdraw=may_withdraw,
        plan_ready=plan_ready,
        largest=size_shown(casework_of(request).settings.document_max_bytes),
        types=", ".join(sorted({shown(t) for t in checks.ALLOWED_TYPES.values()})),
        unshown=_unshown(rows, offered, filled),
    )


templates.env.globals["documents_section"] = documents_section


# --- answers --------------------------------------------------------------------------------


def _case_id(case_id: str) -> str | None:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        return None


def _refused(
    request: Request, principal: Principal, case_id: str, refusal: case_commands.Admission
) -> Response:
    """As the case page answers a command the caller may not send: the not-found page
    (the same as for no such case), or 403 with the access table's reason."""
    if isinstance(refusal, case_commands.NotFound):
        return not_visible(request, principal, case_id)
    title = _("Not for your role") if refusal.for_role else _("Not permitted")
    return page(request, "refused.html", title=title, message=refusal.reason, status_code=403)


async def _state(app: Casework, case_id: str) -> CaseState | None:
    try:
        return await (await app.cases()).state(case_id)
    except CaseNotFound:
        return None


def _version(form: FormData) -> int:
    raw = str(form.get("version", ""))
    return int(raw) if raw.isdigit() and len(raw) <= 18 else -1


def _beside(filled: Filled, names: tuple[str, ...], message: str) -> None:
    """A refusal (`field: reason`) beside the input it names, else above the form."""
    head, sep, rest = message.partition(":")
    name = FILE if head.strip() == "filename" else head.strip()
    if sep and name in names:
        filled.errors.setdefault(name, []).append(rest.strip())
    else:
        filled.form_errors.append(message)


def _invalid(filled: Filled, names: tuple[str, ...], error: ValidationError) -> None:
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if p not in ("actor", "expected_version")]
        message = str(item["msg"]).removeprefix("Value error, ")
        _beside(filled, names, f"{'.'.join(loc) or 'form'}: {message}")


async def _again(
    request: Request,
    principal: Principal,
    case_id: str,
    form_name: str,
    filled: Filled,
    status: int,
    *,
    seen_version: int | None = None,
) -> Response:
    """The case page again with `filled` shown on its form (and, for a version the case
    moved on from, what changed since)."""
    conflict = None
    if seen_version is not None:
        changed = await changes_since(casework_of(request), case_id, max(seen_version, 0))
        conflict = Conflict(seen_version, changed, [], True)
    return await render_case(
        request, principal, case_id, submitted=(form_name, filled), conflict=conflict,
        status_code=status,
    )  # fmt: skip


async def _attach_answer(
    request: Request,
    principal: Principal,
    case_id: str,
    form_name: str,
    answer: AttachAnswer,
    filled: Filled,
    names: tuple[str, ...],
    version: int,
) -> Response:
    """The page's answer to an upload or the plan for signature."""
    status: int
    match answer:
        case Attached():
            return redirect(f"{PREFIX}/cases/{case_id}?done={form_name}#outcome")
        case case_commands.NotFound() | case_commands.NotPermitted():
            return _refused(request, principal, case_id, answer)
        case UploadRefused(refusal=refusal):
            filled.form_errors.append(_("%(refusal)s; nothing was kept", refusal=refusal.text))
            filled.errors.setdefault(refusal.field, []).append(refusal.reason)
            status = refusal.status
        case ScannerDown(reason=reason):
            filled.form_errors.append(
                _("The virus scanner did not answer (%(reason)s); nothing was kept. Try again "
                  "in a few minutes.", reason=reason)
            )  # fmt: skip
            status = 503
        case case_commands.VersionConflict():
            if FILE in names:
                filled.form_errors.append(_(CHOOSE_AGAIN))
            return await _again(request, principal, case_id, form_name, filled, 409,
                                seen_version=version)  # fmt: skip
        case case_commands.Invalid(error=error):
            _invalid(filled, names, error)
            status = 422
        case case_commands.Rejected(text=text):
            _beside(filled, names, text)
            status = 422
        case (
            case_commands.RuleRefused(reason=reason)
            | case_commands.IdempotencyMismatch(reason=reason)
        ):
            _beside(filled, names, reason)
            status = 409
    if FILE in names and not filled.errors.get(FILE):
        filled.errors[FILE] = [_(CHOOSE_AGAIN)]
    return await _again(request, principal, case_id, form_name, filled, status)


# --- upload -----------------------------------------------------------------------------------


def _not_cross_site(request: Request) -> None:
    """Before an upload's body is read: a browser names where the form was sent from
    (Fetch Metadata, `Sec-Fetch-Site`); one sent by another site is refused unread.
    Clients that send no such header are judged by the CSRF token, after the form."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise CsrfRefused()


def _file_name(upload: UploadFile) -> str:
    """The name the browser sent, without any folder an old browser put before it."""
    return (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    """The spooled file, `CHUNK_BYTES` at a time."""
    await upload.seek(0)
    while block := await upload.read(CHUNK_BYTES):
        yield block


@router.post("/{case_id}/documents")
async def upload(request: Request, case_id: str) -> Response:
    """The upload form (see the module docstring for the order of the checks)."""
    principal = await signed_in(request)
    _not_cross_site(request)
    async with request.form(max_files=1, max_fields=UPLOAD_FORM_FIELDS) as form:
        check_csrf(request, form)
        return await _upload(request, principal, case_id, form)


async def _upload(request: Request, principal: Principal, case_id: str, form: FormData) -> Response:
    app = casework_of(request)
    actor = principal.actor
    valid = _case_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    admitted = await case_commands.admit(app, actor, valid, ATTACH)
    if not isinstance(admitted, case_commands.Admitted):
        return _refused(request, principal, valid, admitted)
    state = await _state(app, valid)
    if state is None:
        return not_visible(request, principal, valid)
    spec = upload_form(state)
    names = (FILE, *DETAIL_FIELDS)
    filled = Filled(values=values_of(spec, form))
    version = _version(form)
    if version != state.stream_version:
        filled.form_errors.append(_(CHOOSE_AGAIN))
        return await _again(request, principal, valid, ATTACH, filled, 409,
                            seen_version=version)  # fmt: skip
    details: dict[str, str] = {}
    for name in DETAIL_FIELDS:
        value = str(form.get(name) or "").strip()
        if value:
            details[name] = value
    sent = form.get(FILE)
    if not isinstance(sent, UploadFile) or not _file_name(sent):
        filled.errors[FILE] = [_("Choose the file to attach.")]
        try:
            DocumentDetails.model_validate({**details, "filename": "file"})
        except ValidationError as exc:
            _invalid(filled, names, exc)
        return await _again(request, principal, valid, ATTACH, filled, 422)
    details["filename"] = _file_name(sent)
    answer = await documents.attach(
        app, actor, valid, details, _chunks(sent), expected_version=version, admitted=admitted
    )
    return await _attach_answer(request, principal, valid, ATTACH, answer, filled, names, version)


# --- the plan for signature -------------------------------------------------------------------


@router.post("/{case_id}/documents/plan")
async def plan_for_signature(request: Request, case_id: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    valid = _case_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    version = _version(form)
    answer = await documents.attach_plan(
        casework_of(request), principal.actor, valid, expected_version=version
    )
    return await _attach_answer(request, principal, valid, PLAN, answer, Filled(), (), version)


# --- withdraw ---------------------------------------------------------------------------------


@router.post("/{case_id}/documents/{document_id}/withdraw")
async def withdraw(request: Request, case_id: str, document_id: str) -> Response:
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    app = casework_of(request)
    actor = principal.actor
    valid = _case_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    admitted = await case_commands.admit(app, actor, valid, WITHDRAW)
    if not isinstance(admitted, case_commands.Admitted):
        return _refused(request, principal, valid, admitted)
    state = await _state(app, valid)
    if state is None:
        return not_visible(request, principal, valid)
    reason = str(form.get("reason") or "").strip()
    filled = Filled(values={"document_id": [document_id], "reason": [reason]})
    version = _version(form)
    if version != state.stream_version:
        return await _again(request, principal, valid, WITHDRAW, filled, 409,
                            seen_version=version)  # fmt: skip
    if not reason:
        filled.errors["reason"] = [_("Say why it is withdrawn.")]
        return await _again(request, principal, valid, WITHDRAW, filled, 422)
    # application/documents `withdraw`: the command through `case_commands.send` (which
    # admits the caller again), then the document's bytes deleted.
    result = await documents.withdraw(
        app, actor, valid, document_id, reason, expected_version=version
    )
    names = ("reason",)
    status: int
    match result:
        case CommandResult():
            return redirect(f"{PREFIX}/cases/{valid}?done={WITHDRAW}#outcome")
        case case_commands.NotFound() | case_commands.NotPermitted():
            return _refused(request, principal, valid, result)
        case case_commands.VersionConflict():
            return await _again(request, principal, valid, WITHDRAW, filled, 409,
                                seen_version=version)  # fmt: skip
        case case_commands.Invalid(error=error):
            _invalid(filled, names, error)
            status = 422
        case case_commands.Rejected(text=text):
            _beside(filled, names, text)
            status = 422
        case case_commands.RuleRefused(reason=why) | case_commands.IdempotencyMismatch(reason=why):
            _beside(filled, names, why)
            status = 409
    return await _again(request, principal, valid, WITHDRAW, filled, status)


# --- download ---------------------------------------------------------------------------------


@router.get("/{case_id}/documents/{document_id}")
async def download(request: Request, case_id: str, document_id: str) -> Response:
    principal = await signed_in(request)
    return await _download(request, principal, case_id, document_id)


@router.post("/{case_id}/documents/{document_id}/break-glass")
async def download_in_emergency(request: Request, case_id: str, document_id: str) -> Response:
    """A download from a page opened by breaking the glass: the reason again, in the body."""
    principal = await signed_in(request)
    form = await request.form()
    check_csrf(request, form)
    reason = str(form.get("reason", "")).strip()
    valid = _case_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    if not reason:
        return page(
            request, "case_not_visible.html", title=_("Case not found"), case_id=valid,
            may_break_glass=principal.actor.role in BREAK_GLASS_ROLES,
            reason_error=_("Say why you must open this case."), status_code=422,
        )  # fmt: skip
    return await _download(request, principal, valid, document_id, break_glass=reason)


async def _download(
    request: Request,
    principal: Principal,
    case_id: str,
    document_id: str,
    *,
    break_glass: str | None = None,
) -> Response:
    valid = _case_id(case_id)
    if valid is None:
        return not_visible(request, principal, case_id)
    try:
        opened = await documents.open_document(
            casework_of(request), principal.actor, valid, document_id, break_glass=break_glass
        )
    except CaseNotVisible:
        return not_visible(request, principal, valid)
    except BreakGlassRefused as exc:
        return page(request, "refused.html", title=_("Emergency access refused"),
                    message=str(exc), status_code=403)  # fmt: skip
    except AccessDenied as exc:
        return page(request, "refused.html", title=_("Not for your role"), message=str(exc),
                    status_code=403)  # fmt: skip
    except DocumentNotFound:
        return page(request, "refused.html", title=_("No such document"),
                    message=_("The case has no document %(document)s.", document=document_id),
                    status_code=404)  # fmt: skip
    except DocumentUnreadable as exc:
        return page(request, "refused.html", title=_("Document gone"), message=f"{exc}.",
                    status_code=410)  # fmt: skip

    return StreamingResponse(
        opened.sent(), media_type=opened.document.media_type, headers=opened.headers()
    )
