"""Read model `documents`: every document of every case (table `case_documents`, created
by projections/migrations/0007_documents.sql): its kind, type, size and SHA-256, who
attached it and when, and whether it was withdrawn; never its title, name or bytes.

Its projector also keeps the documents' bytes (application/documents/store.py) in step
with the log, so nothing depends on the process that wrote the event surviving to do it:
an attached document is marked kept, a withdrawn one's bytes are deleted, and a forgotten
client's documents are deleted. Each is idempotent (a rebuild runs them again).
"""

from __future__ import annotations

import asyncpg

from events.envelope import RecordedEvent
from events.vocabulary import ClientForgotten, DocumentAttached, DocumentWithdrawn
from projections.base import Projection, case_id_of, handler_map, ignoring_the_rest, on

NAME = "documents"
TABLES = ("case_documents",)
MIGRATIONS = ("0007_documents.sql",)
"""The migrations (projections/migrations/) that create TABLES."""


async def attached(
    conn: asyncpg.Connection, event: DocumentAttached, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """INSERT INTO case_documents (case_id, document_id, kind, media_type, size, sha256,
               goal_id, referral_id, conference_id, added_by, added_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        case_id_of(envelope),
        event.document_id,
        event.kind.value,
        event.media_type,
        event.size,
        event.sha256,
        event.goal_id,
        event.referral_id,
        event.conference_id,
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )
    await conn.execute(
        """UPDATE document_blobs SET state = 'attached'
            WHERE document_id = $1 AND state <> 'attached'""",
        event.document_id,
    )


async def withdrawn(
    conn: asyncpg.Connection, event: DocumentWithdrawn, envelope: RecordedEvent
) -> None:
    await conn.execute(
        """UPDATE case_documents SET withdrawn_by = $3, withdrawn_at = $4
            WHERE case_id = $1 AND document_id = $2""",
        case_id_of(envelope),
        event.document_id,
        envelope.metadata.actor_id,
        envelope.occurred_at,
    )
    await conn.execute("DELETE FROM document_blobs WHERE document_id = $1", event.document_id)


async def forgotten(
    conn: asyncpg.Connection, event: ClientForgotten, envelope: RecordedEvent
) -> None:
    await conn.execute(
        "DELETE FROM document_blobs WHERE case_id = $1::uuid", str(case_id_of(envelope))
    )


HANDLERS = handler_map(
    on(DocumentAttached, attached),
    on(DocumentWithdrawn, withdrawn),
    on(ClientForgotten, forgotten),
)

PROJECTION = Projection(
    name=NAME,
    tables=TABLES,
    handlers=HANDLERS,
    ignores=ignoring_the_rest(HANDLERS),
)
