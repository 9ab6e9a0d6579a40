-- projection outcomes (projections/outcomes.py): advocacy and the client's feedback ---------
-- (issue 16). Facts only, no personal data: the words of feedback and the details of an
-- advocacy stay in the (encrypted) log.

-- One row per advocacy: the barrier met, the organisation, the actions taken and how it
-- ended. `team` is the team that held the case when the advocacy was opened.
CREATE TABLE IF NOT EXISTS outcome_advocacy (
    case_id         text        NOT NULL,
    advocacy_id     text        NOT NULL,
    team            text        NOT NULL,
    barrier         text        NOT NULL,  -- service_refused | benefit_denied | benefit_stopped | …
    organisation    text        NOT NULL,
    actions         text[]      NOT NULL,  -- request | complaint | appeal | hearing | escalation
    opened_at       timestamptz NOT NULL,
    outcome         text,                  -- null while open; resolved | partly_resolved | …
    concluded_at    timestamptz,
    PRIMARY KEY (case_id, advocacy_id)
);
CREATE INDEX IF NOT EXISTS outcome_advocacy_concluded ON outcome_advocacy (concluded_at);

-- One row per piece of the client's feedback: a rating of a provider's service (directly
-- or through a referral) or of their plan (with whether they agree with it).
CREATE TABLE IF NOT EXISTS outcome_feedback (
    case_id           text        NOT NULL,
    feedback_id       text        NOT NULL,
    team              text        NOT NULL,
    subject           text        NOT NULL,  -- service | referral | plan
    provider_id       text,
    service_id        text,
    plan_version      integer,
    rating            integer     NOT NULL CHECK (rating BETWEEN 1 AND 5),
    agrees_with_plan  boolean,
    recorded_at       timestamptz NOT NULL,
    PRIMARY KEY (case_id, feedback_id)
);
CREATE INDEX IF NOT EXISTS outcome_feedback_recorded ON outcome_feedback (recorded_at);

-- As 0002_role_grants.sql: the projector writes them, readers read them.
GRANT SELECT, INSERT, UPDATE, DELETE ON outcome_advocacy, outcome_feedback TO casework_projector;
GRANT SELECT ON outcome_advocacy, outcome_feedback TO casework_reader;
