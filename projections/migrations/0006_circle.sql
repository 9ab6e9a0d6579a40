-- projection circle (projections/circle.py) ---------------------------------------------------
-- The circle of support of each case and its case conferences, without personal data
-- (read models hold none): a member's id, role, what the client consents to share with
-- them and how often something was shared; a conference's date, who took part (staff
-- ids, circle member ids, whether the client attended), how many decisions and which
-- actions were agreed. Names, contact details and decisions stay in the case.
CREATE TABLE IF NOT EXISTS circle_members (
    case_id             text        NOT NULL,
    member_id           text        NOT NULL,
    role                text        NOT NULL,
    consent             text[]      NOT NULL DEFAULT '{}',  -- what may be shared with them
    consent_recorded_at timestamptz,
    shared_count        integer     NOT NULL DEFAULT 0,
    last_shared_at      timestamptz,
    added_by            text        NOT NULL,
    added_at            timestamptz NOT NULL,
    removed_at          timestamptz,
    PRIMARY KEY (case_id, member_id)
);

CREATE TABLE IF NOT EXISTS case_conferences (
    case_id         text        NOT NULL,
    conference_id   text        NOT NULL,
    held_on         date        NOT NULL,
    client_attended boolean     NOT NULL,
    staff           text[]      NOT NULL,
    circle          text[]      NOT NULL,
    decisions       integer     NOT NULL,
    action_ids      text[]      NOT NULL,
    recorded_by     text        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    PRIMARY KEY (case_id, conference_id)
);
CREATE INDEX IF NOT EXISTS case_conferences_held_on ON case_conferences (held_on);

-- As 0002_role_grants.sql: the projector writes them, readers read them.
GRANT SELECT, INSERT, UPDATE, DELETE ON circle_members, case_conferences TO casework_projector;
GRANT SELECT ON circle_members, case_conferences TO casework_reader;
