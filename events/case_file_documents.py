"""The documents a verified case file lists, and checking document files handed beside it.

A case file (events/case_file.py) holds each document's `DocumentAttached` event: its
SHA-256, size and type, within the signed checkpoint like every event. A document file
handed to the auditor beside the file (`casework case export --documents DIR` writes them
as `<document id>-<file name>`) is checked offline against that record: same digest and
size, or it was changed. Pure but for reading the files handed over.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from events.case_file_report import CaseFileReport

_ID = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._@-]{0,99}?)(?:-|\.|$)")


@dataclass(frozen=True)
class ListedDocument:
    """A document as the case file records it."""

    document_id: str
    kind: str
    media_type: str
    size: int
    sha256: str
    attached_at_version: int
    notarised: bool
    withdrawn: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "kind": self.kind,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
            "version": self.attached_at_version,
            "notarised": self.notarised,
            "withdrawn": self.withdrawn,
        }


def listed_documents(report: CaseFileReport) -> list[ListedDocument]:
    """Every document the case file's events attach, in order, withdrawn ones marked."""
    withdrawn = {
        str(e.data.get("document_id"))
        for e in report.events
        if e.event_type == "DocumentWithdrawn" and isinstance(e.data, dict)
    }
    return [
        ListedDocument(
            document_id=str(e.data["document_id"]),
            kind=str(e.data.get("kind")),
            media_type=str(e.data.get("media_type")),
            size=int(e.data["size"]),
            sha256=str(e.data["sha256"]),
            attached_at_version=e.stream_version,
            notarised=e.notarised,
            withdrawn=str(e.data["document_id"]) in withdrawn,
        )
        for e in report.events
        if e.event_type == "DocumentAttached" and isinstance(e.data, dict)
    ]


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_documents(report: CaseFileReport, files: Iterable[Path]) -> None:
    """Check each file against the document its name (or else its digest) points to, and
    add what it proves, or the problem, to the report."""
    documents = {d.document_id: d for d in listed_documents(report)}
    by_digest = {d.sha256: d for d in documents.values()}
    checked: set[str] = set()
    for path in sorted(files):
        try:
            sha256, size = _digest(path)
        except OSError as exc:
            report.problems.append(f"document file {path.name}: cannot read it ({exc.strerror})")
            continue
        match = _ID.match(path.name)
        named = documents.get(match.group(1)) if match else None
        if named is None:
            named = next((d for i, d in documents.items() if path.name.startswith(i)), None)
        if named is not None and (named.sha256, named.size) != (sha256, size):
            report.problems.append(
                f"document {named.document_id}: the file {path.name} ({size} bytes, SHA-256 "
                f"{sha256[:16]}…) differs from the case file's record ({named.size} bytes, "
                f"SHA-256 {named.sha256[:16]}…): it was changed"
            )
            checked.add(named.document_id)
            continue
        document = named or by_digest.get(sha256)
        if document is None:
            report.problems.append(
                f"document file {path.name}: not a document of this case file (its SHA-256 "
                f"{sha256[:16]}… is recorded nowhere in it)"
            )
            continue
        checked.add(document.document_id)
        within = (
            "within the signed checkpoint"
            if document.notarised
            else "not within the signed checkpoint"
        )
        report.proven.append(
            f"document {document.document_id} ({document.kind}, {path.name}): its bytes are "
            f"the ones the case recorded at version {document.attached_at_version} "
            f"(SHA-256 and size match; the record is {within})"
        )
    for document in documents.values():
        if document.document_id not in checked and not document.withdrawn:
            report.not_proven.append(
                f"document {document.document_id} ({document.kind}): no file was handed over "
                "to check against its record"
            )
