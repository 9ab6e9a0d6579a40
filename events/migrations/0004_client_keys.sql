-- Personal data: one data key per client (envelope encryption, see events/keys.py).
-- A data key is stored only wrapped by a master key from settings; `master_key_id`
-- names that key so master keys can rotate. Forgetting a client sets `wrapped_key`
-- to NULL and records when and why: the events stay, their personal fields read as
-- erased. The key id is what a sealed field names ("enc:v1:<key_id>:…").
CREATE TABLE IF NOT EXISTS client_keys (
    client_ref       text        PRIMARY KEY CHECK (length(client_ref) BETWEEN 1 AND 100),
    key_id           text        NOT NULL UNIQUE CHECK (length(key_id) BETWEEN 1 AND 64),
    wrapped_key      bytea,
    master_key_id    text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    destroyed_at     timestamptz,
    destroyed_reason text,
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

-- Which client a stream belongs to: written with the stream's CaseOpened, in the
-- same statement as the event (events/store.py).
CREATE TABLE IF NOT EXISTS stream_clients (
    stream_id  text        PRIMARY KEY,
    client_ref text        NOT NULL REFERENCES client_keys (client_ref),
    linked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stream_clients_client ON stream_clients (client_ref);

-- Privileges (the roles of 0003_roles.sql, where they exist): the engine makes data
-- keys and links streams (SELECT, INSERT); destroying or re-wrapping a key (UPDATE)
-- is the owner's, through `casework client forget` and `casework client rewrap`. The
-- projector and readers never see the keys.
REVOKE ALL ON client_keys, stream_clients FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'casework_engine') THEN
        REVOKE ALL ON client_keys, stream_clients FROM casework_engine;
        GRANT SELECT, INSERT ON client_keys, stream_clients TO casework_engine;
    END IF;
END
$$;
