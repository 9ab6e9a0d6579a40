-- Documents' bytes (application/documents/store.py): kept apart from the event log,
-- which holds each document's SHA-256, size and type (DocumentAttached), never its bytes.
-- Each document is sealed in blocks with its client's data key (AES-256-GCM; the block's
-- number, the document and whether it is the last are its associated data), so destroying
-- the key (`casework client forget`) leaves nothing readable; forget deletes the rows too.
--
-- `state`: 'staged' while the upload is checked and the case decides; 'attached' once
-- DocumentAttached is in the log. A staged document whose upload died is swept a day
-- later if the log never recorded it. A withdrawn document's rows are deleted (by the use
-- case and, should it die first, by the `documents` read model's projector).
CREATE TABLE IF NOT EXISTS document_blobs (
    document_id text        PRIMARY KEY CHECK (length(document_id) BETWEEN 1 AND 100),
    case_id     uuid        NOT NULL,
    key_id      text        NOT NULL,
    state       text        NOT NULL DEFAULT 'staged' CHECK (state IN ('staged', 'attached')),
    size        bigint,
    sha256      text,
    media_type  text,
    blocks      integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS document_blobs_case ON document_blobs (case_id);
CREATE INDEX IF NOT EXISTS document_blobs_staged ON document_blobs (created_at)
    WHERE state = 'staged';

CREATE TABLE IF NOT EXISTS document_blocks (
    document_id text    NOT NULL REFERENCES document_blobs ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    sealed      bytea   NOT NULL,
    PRIMARY KEY (document_id, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE document_blocks ALTER COLUMN sealed SET STORAGE EXTERNAL;

-- The projector deletes a withdrawn or forgotten client's documents (projections/documents.py).
REVOKE ALL ON document_blobs, document_blocks FROM PUBLIC;
GRANT SELECT, UPDATE, DELETE ON document_blobs, document_blocks TO casework_projector;
