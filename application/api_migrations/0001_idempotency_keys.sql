-- Idempotency keys of the HTTP API: a retried request with the same key and the same
-- body gets the first answer (the key is also the Temporal update id); the same key
-- with another body is refused. Keys are per principal (staff id).
CREATE TABLE IF NOT EXISTS api_idempotency_keys (
    staff_id     text        NOT NULL,
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text        NOT NULL,
    target       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (staff_id, key)
);
