-- The Merkle tree over the global log (events/merkle.py, events/notary.py), kept by
-- the notary (`casework notary`, and a service of `casework up`), never by an append:
-- appending stays one INSERT.
--
--   merkle_leaves  one row per notarised event, in the global order readers see it
--                  (transaction id, then global position): leaf_index is the event's
--                  leaf in the tree, leaf_hash = SHA-256(0x00 || its stored bytes).
--   merkle_nodes   the hash of every complete subtree of 2^level leaves, level >= 4,
--                  starting at leaf node_index * 2^level; lower levels are hashed from
--                  merkle_leaves (16 leaves at most). Any proof needs O(log n) rows.
--
-- Both are derived data: `casework verify` rebuilds the tree from the log and checks it
-- against the signed checkpoints in the sink outside the database. Nothing here is a
-- secret, and no key is ever stored in the database.
CREATE TABLE IF NOT EXISTS merkle_leaves (
    leaf_index      bigint PRIMARY KEY CHECK (leaf_index >= 0),
    global_position bigint NOT NULL,
    transaction_id  bigint NOT NULL,  -- events.transaction_id (xid8) as a number
    leaf_hash       bytea  NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX IF NOT EXISTS merkle_leaves_position ON merkle_leaves (global_position);

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level      smallint NOT NULL CHECK (level BETWEEN 4 AND 62),
    node_index bigint   NOT NULL CHECK (node_index >= 0),
    hash       bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
);

-- casework_notary: reads the log, appends to the tree. It never sees client keys, and
-- the checkpoint signing key is a file of the notary's host, not a row anywhere. The
-- engine and the projector get nothing here. Readers (the export, `verify`) SELECT.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'casework_notary') THEN
        BEGIN
            CREATE ROLE casework_notary NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created concurrently by a migration of another database
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO casework_notary', current_schema());
END
$$;

REVOKE ALL ON merkle_leaves, merkle_nodes FROM PUBLIC;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['casework_engine', 'casework_projector', 'casework_reader'] LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON merkle_leaves, merkle_nodes FROM %I', r);
        END IF;
    END LOOP;
END
$$;
GRANT SELECT ON events TO casework_notary;
GRANT SELECT, INSERT ON merkle_leaves, merkle_nodes TO casework_notary;
