"""Documents on a case, one use case per thing staff do, for every entry point (the API's
upload and download, the case page, the CLI through the API).

**Attach** (`attach`): the caller is admitted like any command (application/
case_commands.py `admit`: the access table's `work`, the access log), the details are
checked (`DocumentDetails`: kind, title, a file name that is no path), the case must have
room (`MAX_DOCUMENTS_PER_CASE`) and a living client key; then the bytes are read as they
arrive: the type judged from the first bytes (checks.py), the size counted against
CASEWORK_DOCUMENT_MAX_BYTES, each block sealed with the client's data key and stored
staged (store.py), and, when CASEWORK_CLAMD_ADDRESS is set, streamed to clamd at the same
time. Only a complete, clean upload is sent to the case as `attach_document` (its SHA-256,
size and type; the rules decide); any refusal, a cut-off upload or a fault deletes what
was staged, so nothing is kept of a refused upload. A retried request (same
Idempotency-Key, same file) answers with the document the first one attached and keeps no
second copy.

**List** and **download** (`documents`, `open_document`) are reads of the case
(`Query.DOCUMENTS`: the case's team, managers, auditors, break-the-glass), recorded in the
access log, each download as `document get <document id>`.

**Withdraw** is the command `withdraw_document` (cases/features/documents.py) sent like
any other; `withdraw` then deletes the bytes (the read model's projector does it too,
should this process die first).

**The plan for signature** (`attach_plan`): the approved plan rendered as PDF
(application/plan_document.py) and attached as a document of kind `plan`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from application import case_commands
from application.access_log import View
from application.bootstrap import Casework
from application.case_client import CaseNotFound
from application.case_commands import Admitted, Invalid, RuleRefused
from application.case_reads import authorise
from application.documents import checks
from application.documents.store import (
    DocumentCorrupt,
    DocumentStore,
    DocumentUnreadable,
    DocumentWriter,
)
from application.forget import field_cipher
from cases.actors import Actor
from cases.features.documents import (
    MAX_DOCUMENTS_PER_CASE,
    DocumentDetails,
)
from cases.state import CaseState, Document, stream_id_for
from events.choices import DocumentKind
from events.keys import DataKey
from infrastructure.environment import EnvironmentProblem
from infrastructure.logs import get_logger
from infrastructure.virus_scan import ScanSession, scanner_for
from workflows.case import CommandResult


def _log() -> Any:
    """The use cases' logger, as logging is configured now (a logger bound at import
    would keep the configuration of that moment, not the one the operator set)."""
    return get_logger(component="documents")


ATTACH = "attach_document"
WITHDRAW = "withdraw_document"


class UploadCutOff(Exception):
    """The entry point's body ended before its end (the client went away, or sent less
    than its Content-Length): raised by the chunks the use case reads."""


@dataclass(frozen=True)
class UploadRefused:
    """The upload's bytes were refused (checks.py): nothing was kept."""

    refusal: checks.Refusal


@dataclass(frozen=True)
class ScannerDown:
    """The virus scanner is configured but did not answer: nothing was kept."""

    reason: str


class DocumentNotFound(LookupError):
    """The case has no such document."""


class DocumentView(BaseModel):
    """A document as lists show it."""

    document_id: str
    kind: DocumentKind
    title: str
    filename: str
    media_type: str
    size: int
    sha256: str
    goal_id: str | None
    referral_id: str | None
    conference_id: str | None
    added_by: str
    added_at: datetime
    withdrawn: bool
    withdrawn_by: str | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, document: Document) -> DocumentView:
        data = document.model_dump(exclude={"withdrawn_reason"})
        return cls(**data, withdrawn=not document.readable)


@dataclass(frozen=True)
class Attached:
    """The document the case recorded (a retried request: the first one's)."""

    document: DocumentView
    result: CommandResult


AttachAnswer = Attached | case_commands.Refusal | UploadRefused | ScannerDown


def store_of(app: Casework) -> DocumentStore:
    return DocumentStore(app.pool)


async def _client_key(app: Casework, case_id: str) -> DataKey | None:
    return await field_cipher(app.store).keys.for_stream(app.pool, stream_id_for(case_id))


async def _held(app: Casework, case_id: str) -> int:
    """Documents the case holds now (attached, not withdrawn), from the log."""
    count = await app.pool.fetchval(
        """SELECT count(*) FILTER (WHERE event_type = 'DocumentAttached')
                - count(*) FILTER (WHERE event_type = 'DocumentWithdrawn')
             FROM events
            WHERE stream_id = $1 AND event_type IN ('DocumentAttached', 'DocumentWithdrawn')""",
        stream_id_for(case_id),
    )
    return int(count or 0)


async def _recorded(app: Casework, case_id: str, version: int) -> DocumentView | None:
    """The document attached by the event at `version` of the case (a command's result)."""
    for event in await app.store.read_stream(stream_id_for(case_id), version, 1):
        if event.event_type == "DocumentAttached":
            data = event.data
            return DocumentView(
                document_id=data["document_id"],
                kind=DocumentKind(data["kind"]),
                title=data["title"],
                filename=data["filename"],
                media_type=data["media_type"],
                size=int(data["size"]),
                sha256=data["sha256"],
                goal_id=data.get("goal_id"),
                referral_id=data.get("referral_id"),
                conference_id=data.get("conference_id"),
                added_by=event.metadata.actor_id,
                added_at=event.occurred_at,
                withdrawn=False,
                withdrawn_by=None,
                withdrawn_at=None,
            )
    return None


async def _read_upload(
    app: Casework,
    writer: DocumentWriter,
    chunks: AsyncIterable[bytes],
    scan: ScanSession | None,
) -> checks.Refusal | str:
    """Read the upload into `writer`: its type, or the refusal."""
    limit = app.settings.document_max_bytes
    head = bytearray()
    media_type: str | None = None
    async for chunk in chunks:
        if not chunk:
            continue
        if writer.size + len(head) + len(chunk) > limit:
            return checks.too_large(limit)
        if media_type is None:
            head += chunk
            if len(head) < checks.SNIFF_BYTES:
                continue
            judged = checks.type_refusal(bytes(head))
            if isinstance(judged, checks.Refusal):
                return judged
            media_type = judged
            chunk, head = bytes(head), bytearray()
        if scan is not None:
            await scan.feed(chunk)
        await writer.write(chunk)
    if media_type is None:  # the whole file is shorter than the sniffed head
        if not head:
            return checks.EMPTY
        judged = checks.type_refusal(bytes(head))
        if isinstance(judged, checks.Refusal):
            return judged
        media_type = judged
        if scan is not None:
            await scan.feed(bytes(head))
        await writer.write(bytes(head))
    return media_type


async def attach(
    app: Casework,
    actor: Actor,
    case_id: str,
    details: Mapping[str, Any],
    chunks: AsyncIterable[bytes],
    *,
    expected_version: int | None,
    idempotency_key: str | None = None,
    admitted: Admitted | None = None,
) -> AttachAnswer:
    """Keep the uploaded document on the case (see the module docstring)."""
    if admitted is None:
        admission = await case_commands.admit(app, actor, case_id, ATTACH)
        if not isinstance(admission, Admitted):
            return admission
        admitted = admission
    try:
        checked = DocumentDetails.model_validate(dict(details))
    except ValidationError as exc:
        return Invalid(exc)
    if await _held(app, case_id) >= MAX_DOCUMENTS_PER_CASE:
        return RuleRefused(
            f"documents: the case already holds {MAX_DOCUMENTS_PER_CASE} documents, the most "
            "a case may hold; withdraw one first"
        )
    key = await _client_key(app, case_id)
    if key is None or key.destroyed:
        return RuleRefused(
            "file: the client was forgotten; documents can no longer be kept on this case"
        )
    store = store_of(app)
    await store.sweep_staged()
    document_id = uuid.uuid4().hex
    writer = await store.stage(document_id, case_id, key)
    kept = False
    try:
        answer = await _upload_and_send(
            app, actor, case_id, checked, chunks, writer,
            expected_version=expected_version, idempotency_key=idempotency_key,
            admitted=admitted,
        )  # fmt: skip
        kept = isinstance(answer, Attached) and answer.document.document_id == document_id
        if kept:
            await store.attached(document_id)
        return answer
    finally:
        if not kept:
            await asyncio.shield(store.delete(document_id))


async def _upload_and_send(
    app: Casework,
    actor: Actor,
    case_id: str,
    details: DocumentDetails,
    chunks: AsyncIterable[bytes],
    writer: DocumentWriter,
    *,
    expected_version: int | None,
    idempotency_key: str | None,
    admitted: Admitted,
) -> AttachAnswer:
    try:
        scanner = scanner_for(app.settings)
        if scanner is None:
            judged = await _read_upload(app, writer, chunks, None)
            verdict = None
        else:
            async with scanner.scan() as scan:
                judged = await _read_upload(app, writer, chunks, scan)
                verdict = None if isinstance(judged, checks.Refusal) else await scan.verdict()
    except UploadCutOff:
        _log().warning("documents.upload_cut_off", case_id=case_id, received=writer.size)
        return UploadRefused(checks.CUT_OFF)
    except EnvironmentProblem as exc:
        _log().error("documents.scanner_unavailable", case_id=case_id, error=str(exc))
        return ScannerDown(str(exc))
    if isinstance(judged, checks.Refusal):
        _log().info("documents.upload_refused", case_id=case_id, refusal=judged.text)
        return UploadRefused(judged)
    if verdict is not None and not verdict.clean:
        _log().warning(
            "documents.infected_refused",
            case_id=case_id,
            actor_id=actor.staff_id,
            signature=verdict.signature,
            size=writer.size,
        )
        return UploadRefused(
            checks.Refusal(
                "file", f"refused by the virus scan: it carries {verdict.signature}", 422
            )
        )
    stored = await writer.finish(judged)
    fields = details.model_dump(mode="json", exclude_none=True)
    data = {
        **fields,
        "document_id": stored.document_id,
        "media_type": judged,
        "size": stored.size,
        "sha256": stored.sha256,
    }
    result = await case_commands.send(
        app, actor, case_id, ATTACH, data,
        expected_version=expected_version, idempotency_key=idempotency_key,
        key_body={**fields, "sha256": stored.sha256, "size": stored.size},
        admitted=admitted,
    )  # fmt: skip
    if not isinstance(result, CommandResult):
        return result
    recorded = await _recorded(app, case_id, result.stream_version)
    if recorded is None:  # cannot be: the command's last event attaches the document
        raise RuntimeError(f"case {case_id}: no DocumentAttached at {result.stream_version}")
    _log().info(
        "documents.attached",
        case_id=case_id,
        actor_id=actor.staff_id,
        document_id=recorded.document_id,
        size=recorded.size,
        media_type=recorded.media_type,
        retried=recorded.document_id != stored.document_id,
    )
    return Attached(recorded, result)


# --- reading ------------------------------------------------------------------------------


async def _state(app: Casework, case_id: str) -> CaseState | None:
    try:
        uuid.UUID(case_id)
        return await (await app.cases()).state(case_id)
    except (ValueError, CaseNotFound):
        return None


async def documents(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> list[DocumentView]:
    """The case's documents, newest first, withdrawn ones marked (a recorded read)."""
    state = await _state(app, case_id)
    await authorise(
        app, actor, case_id, View.DOCUMENTS, state, reason=reason, break_glass=break_glass
    )
    assert state is not None
    listed = sorted(
        state.documents.values(), key=lambda d: (d.added_at, d.document_id), reverse=True
    )
    return [DocumentView.of(d) for d in listed]


@dataclass(frozen=True)
class Opened:
    """A document to send: what it is and its bytes as they are opened."""

    document: DocumentView
    content: AsyncIterator[bytes]
    case_id: str = ""

    async def sent(self) -> AsyncIterator[bytes]:
        """The bytes, a corrupt block logged where the operator looks before the answer
        is cut off (the status line has gone out by then)."""
        try:
            async for block in self.content:
                yield block
        except DocumentCorrupt as exc:
            _log().error(
                "documents.corrupt",
                case_id=self.case_id,
                document_id=self.document.document_id,
                error=str(exc),
            )
            raise

    def headers(self) -> dict[str, str]:
        """What a download's answer says of it: its length, its name (as an attachment,
        never shown inline) and its SHA-256 (which `case document get` checks)."""
        return {
            "Content-Length": str(self.document.size),
            "Content-Disposition": checks.content_disposition(self.document.filename),
            "Casework-Document-SHA256": self.document.sha256,
            "ETag": f'"{self.document.sha256}"',
        }


async def open_document(
    app: Casework,
    actor: Actor,
    case_id: str,
    document_id: str,
    *,
    reason: str | None = None,
    break_glass: str | None = None,
) -> Opened:
    """The document's bytes (a recorded read, `document get <id>`). Raises what reads
    raise (CaseNotVisible, AccessDenied, BreakGlassRefused), DocumentNotFound, or
    DocumentUnreadable for a withdrawn document or a forgotten client's."""
    state = await _state(app, case_id)
    await authorise(
        app, actor, case_id, View.DOCUMENT, state,
        reason=reason, break_glass=break_glass, subject=document_id[:32],
    )  # fmt: skip
    assert state is not None
    document = state.documents.get(document_id)
    if document is None:
        raise DocumentNotFound(document_id)
    if not document.readable:
        raise DocumentUnreadable(
            f"document {document_id} was withdrawn on {document.withdrawn_at:%Y-%m-%d}"
        )
    if state.forgotten:
        raise DocumentUnreadable(f"document {document_id}: the client was forgotten")
    key = await _client_key(app, case_id)
    content = await store_of(app).read(document_id, key, document.sha256)
    return Opened(DocumentView.of(document), content, case_id)


async def withdraw(
    app: Casework,
    actor: Actor,
    case_id: str,
    document_id: str,
    reason: str,
    *,
    expected_version: int | None,
    idempotency_key: str | None = None,
) -> CommandResult | case_commands.Refusal:
    """Withdraw the document and delete its bytes (the read model deletes them too)."""
    result = await case_commands.send(
        app, actor, case_id, WITHDRAW, {"document_id": document_id, "reason": reason},
        expected_version=expected_version, idempotency_key=idempotency_key,
    )  # fmt: skip
    if isinstance(result, CommandResult):
        await store_of(app).delete(document_id)
    return result


# --- the plan for signature ---------------------------------------------------------------


async def attach_plan(
    app: Casework,
    actor: Actor,
    case_id: str,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    printed_at: datetime | None = None,
) -> AttachAnswer:
    """Render the case's approved plan as PDF and attach it (kind `plan`)."""
    from application.plan_document import PlanNotApproved, render_plan_pdf
    from directory.service import load_staff_directory

    admission = await case_commands.admit(app, actor, case_id, ATTACH)
    if not isinstance(admission, Admitted):
        return admission
    state = await _state(app, case_id)
    if state is None:
        return case_commands.NotFound(case_id)
    staff = await load_staff_directory(app.store)
    names = {m.staff_id: m.display_name for m in staff.members.values()}
    try:
        pdf = await asyncio.to_thread(
            render_plan_pdf,
            state,
            client_name=state.client.name,
            staff_names=names,
            printed_at=printed_at or datetime.now(UTC),
        )
    except PlanNotApproved as exc:
        return RuleRefused(str(exc))
    version = state.plan_versions
    details = {
        "kind": DocumentKind.PLAN.value,
        "title": f"Support plan, version {version}, for signature",
        "filename": f"support-plan-v{version}.pdf",
    }

    async def one_piece() -> AsyncIterator[bytes]:
        yield pdf

    return await attach(
        app, actor, case_id, details, one_piece(),
        expected_version=expected_version, idempotency_key=idempotency_key,
        admitted=admission,
    )  # fmt: skip
