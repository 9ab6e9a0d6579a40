"""What an uploaded document must be before it is kept: pure checks, no I/O.

The type is judged from the file's first bytes (`filetype`'s signatures), never from its
name or the type the sender declares: a program renamed `letter.pdf` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import filetype

ALLOWED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/tiff": "TIFF image (scans)",
    "image/webp": "WebP image",
    "image/heic": "HEIC image (phone photos)",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.oasis.opendocument.text": "OpenDocument text",
}
"""The types a case keeps, by what their content is."""

SNIFF_BYTES = 8192
"""How much of the start of a file its type is judged from."""


@dataclass(frozen=True)
class Refusal:
    """Why an upload is refused: the field it names, the reason, the HTTP status."""

    field: str
    reason: str
    status: int

    @property
    def text(self) -> str:
        return f"{self.field}: {self.reason}"


def media_type_of(head: bytes) -> str | None:
    """The type the file's first bytes show, or None when they match no known type."""
    kind = filetype.guess(head[:SNIFF_BYTES])
    return None if kind is None else str(kind.mime)


def type_refusal(head: bytes) -> Refusal | str:
    """The file's type if a case keeps it, else the refusal."""
    media_type = media_type_of(head)
    if media_type in ALLOWED_TYPES:
        return media_type
    allowed = ", ".join(sorted(set(ALLOWED_TYPES.values())))
    found = f"its content is {media_type}" if media_type else "its content is of no known type"
    return Refusal("file", f"{found}; a case keeps {allowed}", 415)


def too_large(max_bytes: int) -> Refusal:
    return Refusal(
        "file",
        f"over {max_bytes:,} bytes, the most a document may be (CASEWORK_DOCUMENT_MAX_BYTES)",
        413,
    )


EMPTY = Refusal("file", "empty: there is nothing to keep", 422)

CUT_OFF = Refusal("file", "the upload was cut off before its end; nothing was kept", 400)


def content_disposition(filename: str) -> str:
    """A download's `Content-Disposition`: `attachment` (never shown inline), the name in
    ASCII (others replaced) and in UTF-8 (RFC 6266)."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
