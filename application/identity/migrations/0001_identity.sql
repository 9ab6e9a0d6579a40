-- Staff accounts' secrets (application/identity): what proves who a staff member is.
--
-- These tables hold what must never be in the event log, and only in forms that do
-- not let anyone sign in: passwords as argon2id hashes; invitation codes, session
-- tokens and personal access tokens as SHA-256 digests; TOTP secrets sealed with
-- AES-256-GCM under a key derived from the master key (CASEWORK_MASTER_KEYS). What
-- happens to accounts (invitations, passwords set, sign-ins, lockouts, sign-outs,
-- tokens made and revoked) is recorded as events of the `account-<staff_id>` streams.
--
-- Times are the application's clock (the use cases' `now`), not the database's.

CREATE TABLE IF NOT EXISTS staff_credentials (
    staff_id        text        PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 100),
    password_hash   text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    password_set_at timestamptz NOT NULL
);

-- One-time invitations to set a password: single use (used_at), replaced by a newer
-- one (superseded_at), expiring (expires_at).
CREATE TABLE IF NOT EXISTS staff_invitations (
    invitation_id uuid        PRIMARY KEY,
    staff_id      text        NOT NULL CHECK (length(staff_id) BETWEEN 1 AND 100),
    code_hash     bytea       NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    invited_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    superseded_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS staff_invitations_open ON staff_invitations (staff_id)
    WHERE used_at IS NULL AND superseded_at IS NULL;

-- Server-side sessions: the client holds the token, this table its digest.
CREATE TABLE IF NOT EXISTS staff_sessions (
    session_id     uuid        PRIMARY KEY,
    staff_id       text        NOT NULL CHECK (length(staff_id) BETWEEN 1 AND 100),
    token_hash     bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    method         text        NOT NULL CHECK (method IN ('password', 'oidc')),
    second_factor  text        NOT NULL
                               CHECK (second_factor IN ('none', 'totp', 'enrolment_required')),
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text        CHECK (length(revoked_reason) <= 50),
    client         text        CHECK (length(client) <= 200),
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS staff_sessions_live ON staff_sessions (staff_id)
    WHERE revoked_at IS NULL;

-- Personal access tokens for scripts. `second_factor`: made from a session that
-- proved TOTP (or single sign-on), which admins' tokens need where TOTP is required.
CREATE TABLE IF NOT EXISTS staff_access_tokens (
    token_id      uuid        PRIMARY KEY,
    staff_id      text        NOT NULL CHECK (length(staff_id) BETWEEN 1 AND 100),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash    bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    second_factor boolean     NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS staff_access_tokens_owner ON staff_access_tokens (staff_id);

-- TOTP secrets, sealed: `key_id` names the master key the sealing key derives from,
-- `secret_sealed` is nonce ‖ AES-GCM ciphertext (the staff id is associated data).
-- `last_step` is the last accepted 30-second step: a code is accepted once.
CREATE TABLE IF NOT EXISTS staff_totp (
    staff_id      text        PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 100),
    key_id        text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    enabled_at    timestamptz,
    last_step     bigint      NOT NULL DEFAULT 0
);

-- Only the owner (the application's DATABASE_URL login) touches these; none of the
-- group roles of events/migrations/0003_roles.sql is granted anything here.
REVOKE ALL ON staff_credentials, staff_invitations, staff_sessions, staff_access_tokens,
    staff_totp FROM PUBLIC;
