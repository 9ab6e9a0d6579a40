-- The append-only event log: the system of record.
CREATE TABLE IF NOT EXISTS events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    previous_hash   bytea,
    hash            bytea       NOT NULL,
    UNIQUE (stream_id, stream_version)
);

-- Readers of the global order walk (transaction_id, global_position): see events/store.py.
CREATE INDEX IF NOT EXISTS events_global_order ON events (transaction_id, global_position);
CREATE INDEX IF NOT EXISTS events_type ON events (event_type);

-- The bytes an event's hash covers. The same layout is recomputed in Python by
-- events/chain.py (casework verify), independently of this function.
CREATE OR REPLACE FUNCTION casework_event_hash(
    previous bytea, p_stream_id text, p_stream_version bigint, p_event_id uuid,
    p_event_type text, p_schema_version integer, p_occurred_at timestamptz,
    p_data jsonb, p_metadata jsonb
) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(
        coalesce(previous, '\x'::bytea) || convert_to(
            p_stream_id || E'\n' || p_stream_version::text || E'\n' || p_event_id::text || E'\n'
            || p_event_type || E'\n' || p_schema_version::text || E'\n'
            || (extract(epoch FROM p_occurred_at) * 1000000)::bigint::text || E'\n'
            || p_data::text || E'\n' || p_metadata::text,
            'UTF8'))
$$;

-- Chain each new event to the previous event of its stream.
CREATE OR REPLACE FUNCTION casework_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stream_version = 1 THEN
        NEW.previous_hash := NULL;
    ELSE
        SELECT e.hash INTO NEW.previous_hash FROM events e
         WHERE e.stream_id = NEW.stream_id AND e.stream_version = NEW.stream_version - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stream % has no version % to follow', NEW.stream_id, NEW.stream_version - 1
                USING ERRCODE = 'serialization_failure';
        END IF;
    END IF;
    NEW.hash := casework_event_hash(NEW.previous_hash, NEW.stream_id, NEW.stream_version,
        NEW.event_id, NEW.event_type, NEW.schema_version, NEW.occurred_at, NEW.data, NEW.metadata);
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION casework_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION casework_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('casework_events', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS events_chain ON events;
CREATE TRIGGER events_chain BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION casework_events_chain();
DROP TRIGGER IF EXISTS events_no_update_delete ON events;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION casework_events_refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION casework_events_refuse_change();
DROP TRIGGER IF EXISTS events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION casework_events_notify();
