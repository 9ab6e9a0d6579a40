-- Providers' signed replies (application/provider_webhooks.py, docs/providers.md).
--
-- `provider_webhook_seen`: every webhook-id a provider's correctly signed, fresh request
-- carried, so the same request replayed is refused (409 "replayed") however often it is
-- sent. Rows older than twice the timestamp tolerance could be dropped: a replay that old
-- is refused as stale anyway.
CREATE TABLE IF NOT EXISTS provider_webhook_seen (
    provider_id text        NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 100),
    webhook_id  text        NOT NULL CHECK (length(webhook_id) BETWEEN 1 AND 200),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider_id, webhook_id)
);

-- `provider_webhook_log`: append-only, one row per request to the replies endpoint,
-- accepted or refused, with the reason; never the body (it may hold a note about a
-- client) nor a header's secret.
CREATE TABLE IF NOT EXISTS provider_webhook_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL,
    provider_id    text        NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 200),
    webhook_id     text        CHECK (length(webhook_id) BETWEEN 1 AND 200),
    outcome        text        NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    reason         text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 100),
    case_id        text        CHECK (length(case_id) BETWEEN 1 AND 100),
    referral_id    text        CHECK (length(referral_id) BETWEEN 1 AND 100),
    client_address text        CHECK (length(client_address) BETWEEN 1 AND 100)
);
CREATE INDEX IF NOT EXISTS provider_webhook_log_provider
    ON provider_webhook_log (provider_id, received_at);

CREATE OR REPLACE FUNCTION provider_webhook_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'provider_webhook_log is append-only';
END;
$$;
DROP TRIGGER IF EXISTS provider_webhook_log_append_only ON provider_webhook_log;
CREATE TRIGGER provider_webhook_log_append_only
    BEFORE UPDATE OR DELETE ON provider_webhook_log
    FOR EACH ROW EXECUTE FUNCTION provider_webhook_log_append_only();

REVOKE ALL ON provider_webhook_seen, provider_webhook_log FROM PUBLIC;
