"""Documents on a case over HTTP (application/documents/use_cases.py does the work).

`POST /api/v1/cases/{id}/documents?kind=&title=&filename=` takes the file as the request
body, read as it arrives (never whole in memory); `GET …/documents` lists them;
`GET …/documents/{document_id}` sends one back as it is opened; `POST …/documents/plan`
attaches the approved plan as PDF for the client to sign. Withdrawing is the command
`POST …/commands/withdraw_document`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from application.documents import use_cases
from application.documents.store import DocumentUnreadable
from application.documents.use_cases import (
    AttachAnswer,
    Attached,
    DocumentNotFound,
    DocumentView,
    ScannerDown,
    UploadCutOff,
    UploadRefused,
)
from cases.access import AccessDenied, BreakGlassRefused, CaseNotVisible
from casework.api.auth import Caller, casework_of
from casework.api.cases import (
    COMMAND_REFUSALS,
    READ_REFUSALS,
    BreakGlassHeader,
    IdempotencyKey,
    IfMatch,
    ReasonHeader,
    _read_refused,
    etag,
    expected_version,
    not_found,
    refused,
)
from casework.api.problems import ApiProblem, FieldProblem, speak
from casework.i18n import N_, _

router = APIRouter(prefix="/api/v1/cases", tags=["documents"])

UPLOAD_REFUSALS = {
    **COMMAND_REFUSALS,
    400: {"description": "The upload was cut off before its end"},
    413: {"description": "Over the largest document a case keeps"},
    415: {"description": "A type a case does not keep (judged by the content)"},
    422: {"description": "Bad details, an empty file, or refused by the virus scan"},
    503: {"description": "The virus scanner did not answer"},
}

Text = Annotated[str | None, Query()]


def _upload_answer(case_id: str, answer: AttachAnswer, response: Response) -> DocumentView:
    match answer:
        case Attached(document=document, result=result):
            response.headers["ETag"] = etag(result.stream_version)
            response.headers["Location"] = (
                f"/api/v1/cases/{case_id}/documents/{document.document_id}"
            )
            return document
        case UploadRefused(refusal=refusal):
            raise ApiProblem(
                refusal.status,
                N_("Document refused"),
                _("%(refusal)s; nothing was kept", refusal=speak(refusal.text)),
                kind="document-refused",
                errors=[FieldProblem(field=refusal.field, message=refusal.reason)],
            )
        case ScannerDown(reason=reason):
            raise ApiProblem(
                503, N_("Virus scanner unavailable"),
                _("%(refusal)s; nothing was kept", refusal=speak(reason)),
                kind="scanner-unavailable",
            )  # fmt: skip
    raise refused(case_id, answer)


@router.post(
    "/{case_id}/documents",
    status_code=201,
    response_model=DocumentView,
    summary="Attach a document: the file is the request body",
    description=(
        "The file's bytes as the body (any Content-Type: the type is judged from the "
        "content). Kept only if complete, of a type a case keeps, no larger than "
        "CASEWORK_DOCUMENT_MAX_BYTES and clean by the virus scan when one is configured."
    ),
    responses=UPLOAD_REFUSALS,
)
async def upload(
    case_id: str,
    request: Request,
    response: Response,
    caller: Caller,
    kind: Text = None,
    title: Text = None,
    filename: Text = None,
    goal_id: Text = None,
    referral_id: Text = None,
    conference_id: Text = None,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> DocumentView:
    app = casework_of(request)
    details = {
        name: value
        for name, value in (
            ("kind", kind), ("title", title), ("filename", filename), ("goal_id", goal_id),
            ("referral_id", referral_id), ("conference_id", conference_id),
        )
        if value is not None
    }  # fmt: skip
    header = request.headers.get("content-length")
    declared = int(header) if header is not None and header.isdigit() else None

    async def body() -> AsyncIterator[bytes]:
        received = 0
        try:
            async for chunk in request.stream():
                received += len(chunk)
                yield chunk
        except ClientDisconnect:
            raise UploadCutOff from None
        if declared is not None and received < declared:
            raise UploadCutOff

    answer = await use_cases.attach(
        app, caller.actor, case_id, details, body(),
        expected_version=expected_version(if_match), idempotency_key=idempotency_key,
    )  # fmt: skip
    return _upload_answer(case_id, answer, response)


@router.post(
    "/{case_id}/documents/plan",
    status_code=201,
    response_model=DocumentView,
    summary="Attach the approved plan as a PDF for the client to sign",
    responses=COMMAND_REFUSALS,
)
async def plan(
    case_id: str,
    request: Request,
    response: Response,
    caller: Caller,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> DocumentView:
    app = casework_of(request)
    answer = await use_cases.attach_plan(
        app, caller.actor, case_id,
        expected_version=expected_version(if_match), idempotency_key=idempotency_key,
    )  # fmt: skip
    return _upload_answer(case_id, answer, response)


@router.get(
    "/{case_id}/documents",
    summary="The case's documents, newest first (recorded in the access log)",
    responses=READ_REFUSALS,
)
async def list_documents(
    case_id: str,
    request: Request,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> list[DocumentView]:
    app = casework_of(request)
    try:
        return await use_cases.documents(
            app, caller.actor, case_id, reason=reason, break_glass=break_glass
        )
    except (CaseNotVisible, AccessDenied, BreakGlassRefused) as exc:
        raise _read_refused(case_id, exc) from None


@router.get(
    "/{case_id}/documents/{document_id}",
    summary="One document's bytes (each download is recorded in the access log)",
    responses={
        **READ_REFUSALS,
        410: {"description": "Withdrawn, or its client was forgotten"},
        200: {"content": {"application/octet-stream": {}}},
    },
    response_class=StreamingResponse,
)
async def download(
    case_id: str,
    document_id: str,
    request: Request,
    caller: Caller,
    reason: ReasonHeader = None,
    break_glass: BreakGlassHeader = None,
) -> StreamingResponse:
    app = casework_of(request)
    try:
        uuid.UUID(case_id)
        opened = await use_cases.open_document(
            app, caller.actor, case_id, document_id, reason=reason, break_glass=break_glass
        )
    except ValueError:
        raise not_found(case_id) from None
    except (CaseNotVisible, AccessDenied, BreakGlassRefused) as exc:
        raise _read_refused(case_id, exc) from None
    except DocumentNotFound:
        raise ApiProblem(
            404, N_("No such document"),
            _("the case has no document %(document_id)s", document_id=document_id),
            kind="document-not-found",
        ) from None  # fmt: skip
    except DocumentUnreadable as exc:
        raise ApiProblem(410, N_("Document gone"), str(exc), kind="document-gone") from None

    return StreamingResponse(
        opened.sent(), media_type=opened.document.media_type, headers=opened.headers()
    )
