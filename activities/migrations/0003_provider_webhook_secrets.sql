-- Providers' webhook signing secrets (docs/providers.md "Signed webhooks"), sealed like
-- staff_totp: `key_id` names the master key the sealing key derives from,
-- `secret_sealed` is nonce ‖ AES-GCM ciphertext (provider id and secret id are the
-- associated data). A secret is live from `created_at` until `retires_at` (set when a
-- rotation replaces it, after the overlap) or `revoked_at`, whichever comes first.
-- Events about secrets name `secret_id` only, never the secret.
CREATE TABLE IF NOT EXISTS provider_webhook_secrets (
    provider_id   text        NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 100),
    secret_id     text        NOT NULL CHECK (length(secret_id) BETWEEN 1 AND 100),
    key_id        text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    retires_at    timestamptz,
    revoked_at    timestamptz,
    PRIMARY KEY (provider_id, secret_id)
);
CREATE INDEX IF NOT EXISTS provider_webhook_secrets_live
    ON provider_webhook_secrets (provider_id) WHERE revoked_at IS NULL;

-- The engine signs what it sends: it reads the sealed secrets, never changes them.
REVOKE ALL ON provider_webhook_secrets FROM PUBLIC;
GRANT SELECT ON provider_webhook_secrets TO casework_engine;
