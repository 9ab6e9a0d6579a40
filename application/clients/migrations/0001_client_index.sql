-- The client index (application/clients/index.py): who the person behind a client_ref is,
-- searchable while their details stay sealed. Kept by the processes that hold the
-- master keys (the API), caught up from the log (CaseOpened, ClientForgotten and the
-- client links), never by the projector, which cannot read personal fields.
--
-- client_index_terms: keyed blind indexes, HMAC-SHA256 (truncated to 16 bytes) of each
--   normalised term of the client's details (name parts, nicknames, phonetic codes,
--   date of birth, phone, email, identifiers) under a key derived from the current
--   master key: no term can be read back, nor tested without the key.
-- client_index_cases: each case of each client as opened (its team and worker then;
--   the case summary has them as they stand).
-- client_links: clients a supervisor found to be one person (never merged).
-- client_index_state: where the catch-up stands in the log, and which key built it.
CREATE TABLE IF NOT EXISTS client_index_terms (
    token      bytea NOT NULL CHECK (length(token) = 16),
    client_ref text  NOT NULL,
    PRIMARY KEY (token, client_ref)
);
CREATE INDEX IF NOT EXISTS client_index_terms_client ON client_index_terms (client_ref);

CREATE TABLE IF NOT EXISTS client_index_cases (
    case_id    text        PRIMARY KEY,
    client_ref text        NOT NULL,
    team       text        NOT NULL,
    worker     text        NOT NULL,
    opened_at  timestamptz NOT NULL,
    forgotten  boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS client_index_cases_client ON client_index_cases (client_ref);

CREATE TABLE IF NOT EXISTS client_links (
    client_ref text        NOT NULL,
    other_ref  text        NOT NULL,
    linked_by  text        NOT NULL,
    linked_at  timestamptz NOT NULL,
    reason     text        NOT NULL,
    PRIMARY KEY (client_ref, other_ref),
    CHECK (client_ref < other_ref)
);
CREATE INDEX IF NOT EXISTS client_links_other ON client_links (other_ref);

CREATE TABLE IF NOT EXISTS client_index_state (
    id              integer PRIMARY KEY CHECK (id = 1),
    transaction_id  xid8    NOT NULL DEFAULT '0',
    global_position bigint  NOT NULL DEFAULT 0,
    key_id          text
);
INSERT INTO client_index_state (id) VALUES (1) ON CONFLICT DO NOTHING;

REVOKE ALL ON client_index_terms, client_index_cases, client_links, client_index_state FROM PUBLIC;
