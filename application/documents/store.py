"""Documents' bytes, sealed with the client's data key, in PostgreSQL (tables of
application/documents/migrations/0001_documents.sql).

A document is written as it arrives (`DocumentWriter`): its bytes are cut into blocks of
`BLOCK_BYTES`, each sealed with AES-256-GCM under the client's data key with a random
nonce and, as associated data, the document's id, the block's number and whether it is
the last, so a block moved to another document or place, a block dropped from the end
or one appended, fails to open. One block is held back until the next arrives (the
last must be marked), so at most two blocks sit in memory whatever the size.

Reading (`read`) opens block by block in order and yields each as it is opened; the
SHA-256 of what was read is checked against the one recorded when the last block is
reached, and a difference raises `DocumentCorrupt` (the bytes were changed in the
database beside their seals, which only the key's holder can make).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.keys import DataKey
from infrastructure.logs import get_logger


def _log() -> Any:
    """A logger as logging is configured now (one bound at import keeps that moment's)."""
    return get_logger(component="documents")


BLOCK_BYTES = 1 << 20
"""A sealed block's plaintext (1 MiB): a 20 MB document is 20 rows."""

NONCE_BYTES = 12

STAGED_FOR = "1 day"
"""How long a staged document whose upload died is kept before it is swept (if the log
never recorded it)."""


class DocumentUnreadable(LookupError):
    """The document's bytes are gone: withdrawn, or its client was forgotten."""


class DocumentCorrupt(ValueError):
    """A block failed to open, or the bytes read differ from the recorded SHA-256."""


def _aad(document_id: str, seq: int, last: bool) -> bytes:
    return f"casework/document/v1|{document_id}|{seq}|{'last' if last else 'more'}".encode()


@dataclass(frozen=True)
class Stored:
    """What a finished write stored."""

    document_id: str
    size: int
    sha256: str
    blocks: int


class DocumentWriter:
    """Seals and stores one document's bytes as they arrive; `finish` or `discard`."""

    def __init__(self, pool: asyncpg.Pool, document_id: str, key: DataKey) -> None:
        assert key.key is not None, "a destroyed key seals nothing"
        self._pool = pool
        self.document_id = document_id
        self._aead = AESGCM(key.key)
        self._hash = hashlib.sha256()
        self.size = 0
        self._pending = bytearray()
        self._seq = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def _store(self, block: bytes, last: bool) -> None:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, block, _aad(self.document_id, self._seq, last))
        await self._pool.execute(
            "INSERT INTO document_blocks (document_id, seq, sealed) VALUES ($1, $2, $3)",
            self.document_id,
            self._seq,
            sealed,
        )
        self._seq += 1

    async def write(self, chunk: bytes) -> None:
        """Add bytes; full blocks beyond the one held back are sealed and stored."""
        if not chunk:
            return
        self._hash.update(chunk)
        self.size += len(chunk)
        self._pending += chunk
        # Keep more than a block pending: the block stored now is certainly not the last.
        while len(self._pending) > BLOCK_BYTES:
            block = bytes(self._pending[:BLOCK_BYTES])
            del self._pending[:BLOCK_BYTES]
            await self._store(block, last=False)

    async def finish(self, media_type: str) -> Stored:
        """Store the last block and the document's size, digest and type (still staged)."""
        await self._store(bytes(self._pending), last=True)
        self._pending.clear()
        await self._pool.execute(
            """UPDATE document_blobs SET size = $2, sha256 = $3, media_type = $4, blocks = $5
                WHERE document_id = $1""",
            self.document_id,
            self.size,
            self.sha256,
            media_type,
            self._seq,
        )
        return Stored(self.document_id, self.size, self.sha256, self._seq)


class DocumentStore:
    """The `document_blobs` and `document_blocks` tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def stage(self, document_id: str, case_id: str, key: DataKey) -> DocumentWriter:
        """Begin a document (staged until `attached`)."""
        await self.pool.execute(
            "INSERT INTO document_blobs (document_id, case_id, key_id) VALUES ($1, $2, $3)",
            document_id,
            case_id,
            key.key_id,
        )
        return DocumentWriter(self.pool, document_id, key)

    async def attached(self, document_id: str) -> None:
        """The log recorded the document: it is kept."""
        await self.pool.execute(
            "UPDATE document_blobs SET state = 'attached' WHERE document_id = $1", document_id
        )

    async def delete(self, document_id: str) -> bool:
        """Delete a document's bytes (discarded, withdrawn); True if there were any."""
        deleted = await self.pool.fetchval(
            "DELETE FROM document_blobs WHERE document_id = $1 RETURNING 1", document_id
        )
        return deleted is not None

    async def delete_case(self, case_id: str) -> int:
        """Delete every document of a case (its client was forgotten); how many."""
        rows = await self.pool.fetch(
            "DELETE FROM document_blobs WHERE case_id = $1::uuid RETURNING 1", case_id
        )
        return len(rows)

    async def sweep_staged(self) -> int:
        """Delete staged documents older than STAGED_FOR that the log never recorded
        (their upload or its process died); how many."""
        rows = await self.pool.fetch(
            f"""DELETE FROM document_blobs b
                 WHERE b.state = 'staged' AND b.created_at < now() - interval '{STAGED_FOR}'
                   AND NOT EXISTS (
                       SELECT 1 FROM events e
                        WHERE e.stream_id = 'case-' || b.case_id::text
                          AND e.event_type = 'DocumentAttached'
                          AND e.data->>'document_id' = b.document_id)
             RETURNING b.document_id"""
        )
        if rows:
            _log().info("documents.staged_swept", count=len(rows))
        return len(rows)

    async def read(
        self, document_id: str, key: DataKey | None, sha256: str
    ) -> AsyncIterator[bytes]:
        """The document's bytes, block by block; DocumentUnreadable if they are gone or
        the key was destroyed, DocumentCorrupt if a block or the whole does not check."""
        row = await self.pool.fetchrow(
            """SELECT key_id, blocks FROM document_blobs
                WHERE document_id = $1 AND blocks IS NOT NULL""",
            document_id,
        )
        if row is None or key is None or key.key is None or key.key_id != row["key_id"]:
            raise DocumentUnreadable(document_id)
        return self._blocks(document_id, AESGCM(key.key), int(row["blocks"]), sha256)

    async def _blocks(
        self, document_id: str, aead: AESGCM, blocks: int, sha256: str
    ) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        for seq in range(blocks):
            sealed = await self.pool.fetchval(
                "SELECT sealed FROM document_blocks WHERE document_id = $1 AND seq = $2",
                document_id,
                seq,
            )
            if sealed is None:
                raise DocumentCorrupt(f"document {document_id}: block {seq} is missing")
            sealed = bytes(sealed)
            try:
                block = aead.decrypt(
                    sealed[:NONCE_BYTES],
                    sealed[NONCE_BYTES:],
                    _aad(document_id, seq, seq == blocks - 1),
                )
            except InvalidTag:
                raise DocumentCorrupt(
                    f"document {document_id}: block {seq} does not open"
                ) from None
            digest.update(block)
            if seq == blocks - 1 and digest.hexdigest() != sha256:
                raise DocumentCorrupt(
                    f"document {document_id}: its bytes differ from the SHA-256 in the log"
                )
            yield block
