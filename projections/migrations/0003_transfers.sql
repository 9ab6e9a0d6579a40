-- projection transfers (projections/transfers.py) ------------------------------------
-- A row per transfer request; `status` moves pending → accepted | rejected, or
-- withdrawn when the case closes while the transfer waits (the case forgets it).
CREATE TABLE IF NOT EXISTS transfers (
    case_id         text        NOT NULL,
    transfer_id     text        NOT NULL,
    status          text        NOT NULL,                -- pending | accepted | rejected | withdrawn
    to_worker       text,                                -- null: any caseworker of to_team
    to_team         text        NOT NULL,
    reason          text        NOT NULL,
    requested_by    text        NOT NULL,
    requested_role  text        NOT NULL,
    requested_at    timestamptz NOT NULL,
    answered_by     text,
    answered_role   text,
    answered_at     timestamptz,
    PRIMARY KEY (case_id, transfer_id)
);
CREATE INDEX IF NOT EXISTS transfers_pending
    ON transfers (to_team, requested_at) WHERE status = 'pending';

-- As 0002_role_grants.sql: the projector writes it, readers read it.
GRANT SELECT, INSERT, UPDATE, DELETE ON transfers TO casework_projector;
GRANT SELECT ON transfers TO casework_reader;
