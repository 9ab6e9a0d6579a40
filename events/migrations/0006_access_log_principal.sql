-- The access log records who proved their identity, how, and from where: the request id
-- (an incoming X-Request-ID when safe, else a new one; the API answers it), the client
-- address, the authentication method (a password session, a personal access token,
-- single sign-on, or an operator command run directly on the servers) and the session or
-- token id (never the secret), and for an operator command the operating-system user.
-- Entries written before this migration have nulls there.
--
-- The codec server's decodes are recorded too: `view` 'codec decode' or 'codec encode',
-- the Temporal namespace, the workflow id when the client named one (its case, when it is
-- a case's workflow), and how many payloads. A payload request need not name a case, so
-- `case_id` may be null, but only for those entries.
ALTER TABLE access_log
    ADD COLUMN IF NOT EXISTS request_id     text CHECK (length(request_id) BETWEEN 1 AND 128),
    ADD COLUMN IF NOT EXISTS client_address text CHECK (length(client_address) BETWEEN 1 AND 100),
    ADD COLUMN IF NOT EXISTS auth_method    text
        CHECK (auth_method IN ('password', 'token', 'oidc', 'operator')),
    ADD COLUMN IF NOT EXISTS credential_id  text CHECK (length(credential_id) BETWEEN 1 AND 100),
    ADD COLUMN IF NOT EXISTS os_user        text CHECK (length(os_user) BETWEEN 1 AND 100),
    ADD COLUMN IF NOT EXISTS workflow_id    text CHECK (length(workflow_id) BETWEEN 1 AND 1000),
    ADD COLUMN IF NOT EXISTS namespace      text CHECK (length(namespace) BETWEEN 1 AND 1000),
    ADD COLUMN IF NOT EXISTS payload_count  integer CHECK (payload_count >= 0);

ALTER TABLE access_log ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE access_log DROP CONSTRAINT IF EXISTS access_log_case_or_payloads;
ALTER TABLE access_log ADD CONSTRAINT access_log_case_or_payloads
    CHECK (case_id IS NOT NULL OR view IN ('codec decode', 'codec encode'));

CREATE INDEX IF NOT EXISTS access_log_payloads ON access_log (accessed_at)
    WHERE view IN ('codec decode', 'codec encode');
