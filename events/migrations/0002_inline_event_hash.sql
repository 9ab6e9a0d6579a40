-- casework_event_hash was declared IMMUTABLE, but its body calls convert_to() and
-- extract(epoch FROM timestamptz), which are STABLE. PostgreSQL does not inline a
-- SQL function whose body is more volatile than its declaration, so the chain
-- trigger ran it as a separate SQL-function call whose body was parsed and planned
-- afresh in every transaction: about 50 µs of each append. Declared STABLE (what
-- it is), it is inlined into the trigger's cached plan. The bytes it hashes, and so
-- every hash in the log, are unchanged.
ALTER FUNCTION casework_event_hash(bytea, text, bigint, uuid, text, integer, timestamptz, jsonb, jsonb)
    STABLE;
