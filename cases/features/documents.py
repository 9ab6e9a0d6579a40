"""Documents on a case: the consent form the client signed, an ID, a benefits letter, a
provider's report, the approved plan printed for the client to sign.

The slice: its events `DocumentAttached` and `DocumentWithdrawn` (events/vocabulary/
documents.py: the SHA-256, size and type, never the bytes), its commands and rules, its
folds and timeline lines here; the bytes are kept apart, encrypted with the client's data
key, by application/documents/ (the upload's checks, the store, the use cases); the
read model projections/documents.py deletes a withdrawn document's bytes; the entry
points are `casework case document add|list|get|withdraw|plan`,
`/api/v1/cases/{id}/documents` and the case page's section "Documents".

A document is attached only once its bytes are stored and checked (application/documents/
use_cases.py `attach`), so `attach_document` has a route of its own (the upload), not the
generic command route. Withdrawing goes through `POST …/commands/withdraw_document`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.feature import CaseCommand, Feature, stateful
from cases.said import N_, Said, Word, say
from cases.state import CaseState, Document, FoldError
from events.fields import Identifier, ShortText
from events.registry import DomainEvent
from events.vocabulary import DocumentAttached, DocumentKind, DocumentWithdrawn
from events.vocabulary.documents import Sha256

MAX_DOCUMENTS_PER_CASE = 100
"""Documents a case may hold at once (withdrawn ones do not count), as Primero allows a
record. A constant of the rule, not a setting: a running case must replay the same."""

KIND_NAMES: dict[DocumentKind, str] = {
    DocumentKind.CONSENT_FORM: "consent form",
    DocumentKind.IDENTITY: "identity document",
    DocumentKind.LETTER: "letter",
    DocumentKind.REPORT: "report",
    DocumentKind.PLAN: "plan for signature",
    DocumentKind.OTHER: "document",
}


def _file_name(value: str) -> str:
    """A file's name as people see it, never a path: no separators, not `.` or `..`."""
    if "/" in value or "\\" in value:
        raise ValueError("a file name, not a path: no / or \\")
    if value in (".", ".."):
        raise ValueError("a file name, not . or ..")
    return value


FileName = Annotated[ShortText, AfterValidator(_file_name)]
"""The document's file name (1–200 characters, no control characters, no path)."""


class DocumentDetails(BaseModel):
    """What staff say about a document they upload, checked before its bytes are read."""

    model_config = ConfigDict(extra="forbid")

    kind: DocumentKind
    title: ShortText
    filename: FileName
    goal_id: Identifier | None = None
    referral_id: Identifier | None = None
    conference_id: Identifier | None = None


class AttachDocument(c.Command):
    """Attach a document whose bytes are stored and checked (application/documents/)."""

    document_id: Identifier
    kind: DocumentKind
    title: ShortText
    filename: FileName
    media_type: ShortText
    size: int = Field(ge=1)
    sha256: Sha256
    goal_id: Identifier | None = None
    referral_id: Identifier | None = None
    conference_id: Identifier | None = None


class WithdrawDocument(c.Command):
    """Withdraw a document, saying why: its bytes are deleted, the record of it stays."""

    document_id: Identifier
    reason: ShortText = Field(min_length=1)


def readable_documents(state: CaseState) -> list[Document]:
    """The case's documents not withdrawn, newest first."""
    documents = [d for d in state.documents.values() if d.readable]
    return sorted(documents, key=lambda d: (d.added_at, d.document_id), reverse=True)


def _goal_ids(state: CaseState) -> set[str]:
    plans = [p for p in (state.active_plan, state.draft_plan) if p is not None]
    return {goal.goal_id for plan in plans for goal in plan.goals}


def decide_attach_document(state: CaseState, cmd: AttachDocument) -> list[DomainEvent]:
    permit_open(state, cmd, Action.WORK, "attaching a document")
    if cmd.document_id in state.documents:
        raise CommandRejected(f"document_id: the case already has a document {cmd.document_id}")
    if len(readable_documents(state)) >= MAX_DOCUMENTS_PER_CASE:
        raise CommandRejected(
            f"documents: the case already holds {MAX_DOCUMENTS_PER_CASE} documents, the "
            "most a case may hold; withdraw one first"
        )
    if cmd.goal_id is not None and cmd.goal_id not in _goal_ids(state):
        raise CommandRejected(f"goal_id: the case's plan has no goal {cmd.goal_id}")
    if cmd.referral_id is not None and cmd.referral_id not in state.referrals:
        raise CommandRejected(f"referral_id: the case has no referral {cmd.referral_id}")
    if cmd.conference_id is not None and cmd.conference_id not in state.conferences:
        raise CommandRejected(f"conference_id: the case has no conference {cmd.conference_id}")
    return [
        DocumentAttached(
            document_id=cmd.document_id,
            kind=cmd.kind,
            title=cmd.title,
            filename=cmd.filename,
            media_type=cmd.media_type,
            size=cmd.size,
            sha256=cmd.sha256,
            goal_id=cmd.goal_id,
            referral_id=cmd.referral_id,
            conference_id=cmd.conference_id,
        )
    ]


def decide_withdraw_document(state: CaseState, cmd: WithdrawDocument) -> list[DomainEvent]:
    permit_open(state, cmd, Action.WORK, "withdrawing a document")
    document = state.documents.get(cmd.document_id)
    if document is None:
        raise CommandRejected(f"document_id: the case has no document {cmd.document_id}")
    if not document.readable:
        raise CommandRejected(f"document_id: {cmd.document_id} was withdrawn already")
    return [DocumentWithdrawn(document_id=cmd.document_id, reason=cmd.reason)]


def attached(state: CaseState, event: DocumentAttached, actor_id: str, at: datetime) -> None:
    if event.document_id in state.documents:
        raise FoldError(f"document {event.document_id} attached twice")
    state.documents[event.document_id] = Document(
        document_id=event.document_id,
        kind=event.kind,
        title=event.title,
        filename=event.filename,
        media_type=event.media_type,
        size=event.size,
        sha256=event.sha256,
        goal_id=event.goal_id,
        referral_id=event.referral_id,
        conference_id=event.conference_id,
        added_by=actor_id,
        added_at=at,
    )


def withdrawn(state: CaseState, event: DocumentWithdrawn, actor_id: str, at: datetime) -> None:
    document = state.documents.get(event.document_id)
    if document is None:
        raise FoldError(f"no document {event.document_id}")
    document.withdrawn_by = actor_id
    document.withdrawn_at = at
    document.withdrawn_reason = event.reason


def size_text(size: int) -> str:
    """A size as people read it: 980 bytes, 12.3 KB, 4.5 MB (powers of 1,000)."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


def _size_said(size: int) -> Said:
    """`size_text` as a message (its unit translated)."""
    if size < 1000:
        return say(N_("%(size)s bytes"), size=size)
    if size < 1_000_000:
        return say(N_("%(size)s KB"), size=f"{size / 1000:.1f}")
    return say(N_("%(size)s MB"), size=f"{size / 1_000_000:.1f}")


def _attached_line(event: DocumentAttached) -> Said:
    return say(
        N_("Document %(document)s attached (%(kind)s, %(media_type)s, %(size)s)"),
        document=event.document_id,
        kind=Word(KIND_NAMES[event.kind]),
        media_type=event.media_type,
        size=_size_said(event.size),
    )


FEATURE = Feature(
    name="documents",
    commands=(
        CaseCommand(
            command=AttachDocument,
            update="attach_document",
            action=Action.WORK,
            decide=stateful(decide_attach_document),
        ),
        CaseCommand(
            command=WithdrawDocument,
            update="withdraw_document",
            action=Action.WORK,
            decide=stateful(decide_withdraw_document),
        ),
    ),
    folds={DocumentAttached: attached, DocumentWithdrawn: withdrawn},
    timeline={
        DocumentAttached: _attached_line,
        DocumentWithdrawn: lambda e: say(
            N_("Document %(document)s withdrawn"), document=e.document_id
        ),
    },
)
