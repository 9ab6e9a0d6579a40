-- Origin proofs (events/origin.py): each event the engine appends carries an HMAC-SHA256
-- made with an origin key that is not in the database. Events written before this
-- migration have none (NULL); which ones those are is recorded once, MACed with the
-- origin key, in origin_cutover by the first signing store.
ALTER TABLE events ADD COLUMN IF NOT EXISTS origin_key text;
ALTER TABLE events ADD COLUMN IF NOT EXISTS origin_mac bytea;
ALTER TABLE events ADD CONSTRAINT events_origin_proof_whole
    CHECK ((origin_key IS NULL) = (origin_mac IS NULL));

CREATE TABLE IF NOT EXISTS origin_cutover (
    singleton              boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    unsigned_events        bigint      NOT NULL CHECK (unsigned_events >= 0),
    last_unsigned_position bigint      NOT NULL,
    unsigned_digest        bytea       NOT NULL,
    origin_key             text        NOT NULL,
    origin_mac             bytea       NOT NULL,
    recorded_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Written once by the engine, never changed (deleting it makes verify report every
-- event without a proof).
DROP TRIGGER IF EXISTS origin_cutover_no_update_delete ON origin_cutover;
CREATE TRIGGER origin_cutover_no_update_delete BEFORE UPDATE OR DELETE ON origin_cutover
    FOR EACH ROW EXECUTE FUNCTION casework_events_refuse_change();

REVOKE ALL ON origin_cutover FROM PUBLIC;
GRANT SELECT, INSERT ON origin_cutover TO casework_engine;
GRANT SELECT ON origin_cutover TO casework_projector;
