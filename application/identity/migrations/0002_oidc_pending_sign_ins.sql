-- Single sign-on in the staff console: the authorization requests started and not yet
-- finished (application/identity/pending_sign_ins.py).
--
-- Between the redirect to the identity provider and its redirect back, the console
-- keeps the request's state, nonce and PKCE code verifier here, never in a URL. The
-- browser holds a random key in an HttpOnly cookie; this table holds only its SHA-256
-- digest. A row is used once (deleted when the provider's answer arrives) and is
-- refused after `expires_at` (ten minutes); rows past it are deleted as new ones come.
--
-- Times are the application's clock (the use cases' `now`), not the database's.

CREATE TABLE IF NOT EXISTS oidc_pending_sign_ins (
    key_hash      bytea       PRIMARY KEY CHECK (length(key_hash) = 32),
    url           text        NOT NULL CHECK (length(url) <= 8192),
    state         text        NOT NULL CHECK (length(state) BETWEEN 16 AND 200),
    nonce         text        NOT NULL CHECK (length(nonce) BETWEEN 16 AND 200),
    code_verifier text        NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    redirect_uri  text        NOT NULL CHECK (length(redirect_uri) BETWEEN 1 AND 2000),
    next_path     text        CHECK (length(next_path) <= 2000),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS oidc_pending_sign_ins_expiry ON oidc_pending_sign_ins (expires_at);

-- Only the owner (the application's DATABASE_URL login) touches it, as the other
-- identity tables.
REVOKE ALL ON oidc_pending_sign_ins FROM PUBLIC;
