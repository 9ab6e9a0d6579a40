-- projection documents (projections/documents.py): every document of every case, what
-- it is and who attached or withdrew it, never its title, name or bytes.
CREATE TABLE IF NOT EXISTS case_documents (
    case_id       uuid        NOT NULL,
    document_id   text        NOT NULL,
    kind          text        NOT NULL,
    media_type    text        NOT NULL,
    size          bigint      NOT NULL,
    sha256        text        NOT NULL,
    goal_id       text,
    referral_id   text,
    conference_id text,
    added_by      text        NOT NULL,
    added_at      timestamptz NOT NULL,
    withdrawn_by  text,
    withdrawn_at  timestamptz,
    PRIMARY KEY (case_id, document_id)
);

-- As 0002_role_grants.sql: the projector writes it, readers read it.
GRANT SELECT, INSERT, UPDATE, DELETE ON case_documents TO casework_projector;
GRANT SELECT ON case_documents TO casework_reader;
