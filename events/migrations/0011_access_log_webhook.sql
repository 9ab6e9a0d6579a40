-- A provider's signed reply (POST /api/v1/providers/<id>/replies, docs/providers.md) acts
-- with no session or token: the Standard Webhooks signature made with the provider's
-- secret is the credential. Its access-log entries say so: auth_method 'webhook', the
-- credential id being the request's webhook-id (never the secret).
ALTER TABLE access_log DROP CONSTRAINT IF EXISTS access_log_auth_method_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_auth_method_check
    CHECK (auth_method IN ('password', 'token', 'oidc', 'operator', 'webhook'));
