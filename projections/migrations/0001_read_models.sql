-- Projections: checkpoints and read models folded from the event log.
--
-- Read models hold no client personal details: a case is known by its id and its
-- pseudonymous client_ref only (CaseOpened.client is never copied here).
-- Every value is derived from events (no now()), so a rebuild from scratch
-- reproduces the tables exactly. Read models have no foreign keys and no views:
-- `casework projections rebuild` builds them aside in schema casework_rebuild
-- (CREATE TABLE … LIKE … INCLUDING ALL) and swaps them in one transaction.

CREATE SCHEMA IF NOT EXISTS casework_rebuild;

-- Where each projection stands in the global order, and why it stopped if it did.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name                  text PRIMARY KEY,
    transaction_id        bigint      NOT NULL DEFAULT 0,
    global_position       bigint      NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    last_error            text,
    error_event_id        uuid,
    error_event_type      text,
    error_global_position bigint,
    error_at              timestamptz
);

-- A rebuild under way: where its shadow tables stand.
CREATE TABLE IF NOT EXISTS projection_rebuilds (
    name            text PRIMARY KEY,
    transaction_id  bigint      NOT NULL DEFAULT 0,
    global_position bigint      NOT NULL DEFAULT 0,
    events_done     bigint      NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- projection case_summary ----------------------------------------------------------
CREATE TABLE IF NOT EXISTS case_summary (
    case_id               text PRIMARY KEY,
    status                text        NOT NULL,          -- open | closed
    client_ref            text        NOT NULL,
    referral_source       text        NOT NULL,
    worker                text        NOT NULL,
    team                  text        NOT NULL,
    risk_level            text,                          -- low | medium | high | crisis
    opened_at             timestamptz NOT NULL,
    consent_recorded      boolean     NOT NULL DEFAULT false,
    last_assessed_at      timestamptz,
    next_review_due       timestamptz,                   -- from ReviewScheduled
    last_contact          date,
    plan_status           text,                          -- drafted | awaiting_approval | returned | active
    draft_plan_id         text,
    draft_plan_version    integer,
    active_plan_id        text,
    active_plan_version   integer,
    pending_approval_kind text,                          -- plan | closure
    open_referrals        integer     NOT NULL DEFAULT 0,
    open_escalations      integer     NOT NULL DEFAULT 0,
    on_hold               boolean     NOT NULL DEFAULT false,
    on_hold_until         timestamptz,
    last_evaluated_at     timestamptz,
    closed_at             timestamptz,
    closure_reason        text,
    last_event_at         timestamptz NOT NULL,
    stream_version        bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS case_summary_open_by_worker
    ON case_summary (worker, risk_level) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS case_summary_open_by_team
    ON case_summary (team, worker) WHERE status = 'open';
-- Reviews due / overdue by scope (next_review_due mirrors case_reviews.due_on).
CREATE INDEX IF NOT EXISTS case_summary_review_due
    ON case_summary (next_review_due) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS case_summary_team_review_due
    ON case_summary (team, next_review_due) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS case_summary_worker_review_due
    ON case_summary (worker, next_review_due) WHERE status = 'open';

-- The referrals of each case still waiting for an outcome (for open_referrals).
CREATE TABLE IF NOT EXISTS case_summary_open_referrals (
    case_id     text NOT NULL,
    referral_id text NOT NULL,
    PRIMARY KEY (case_id, referral_id)
);

-- The escalations of each case still open (for open_escalations).
CREATE TABLE IF NOT EXISTS case_summary_open_escalations (
    case_id       text NOT NULL,
    escalation_id text NOT NULL,
    PRIMARY KEY (case_id, escalation_id)
);

-- projection approvals --------------------------------------------------------------
CREATE TABLE IF NOT EXISTS approvals (
    case_id         text        NOT NULL,
    approval_id     text        NOT NULL,
    kind            text        NOT NULL,                -- plan | closure
    status          text        NOT NULL,                -- pending | granted | returned
    plan_id         text,
    plan_version    integer,
    closure_reason  text,
    requested_by    text        NOT NULL,
    requested_role  text        NOT NULL,
    requested_at    timestamptz NOT NULL,
    decided_by      text,
    decided_role    text,
    decided_at      timestamptz,
    returned_reasons integer    NOT NULL DEFAULT 0,      -- how many reasons (the text stays in the log)
    PRIMARY KEY (case_id, approval_id)
);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (requested_at) WHERE status = 'pending';

-- projection referrals --------------------------------------------------------------
CREATE TABLE IF NOT EXISTS referrals (
    case_id           text        NOT NULL,
    referral_id       text        NOT NULL,
    provider_id       text        NOT NULL,
    service_id        text        NOT NULL,
    goal_id           text        NOT NULL,
    status            text        NOT NULL,  -- made | sent | dispatch_failed | accepted | declined | completed
    made_by           text        NOT NULL,
    made_at           timestamptz NOT NULL,
    dispatched_at     timestamptz,
    dispatch_attempts integer     NOT NULL DEFAULT 0,
    dispatch_error    text,
    responded_at      timestamptz,
    completed_at      timestamptz,
    reports           integer     NOT NULL DEFAULT 0,
    last_report_at    timestamptz,
    follow_up_due_at  timestamptz,            -- ReferralFollowUpDue: no reply in time
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (case_id, referral_id)
);
CREATE INDEX IF NOT EXISTS referrals_by_provider ON referrals (provider_id, status);
CREATE INDEX IF NOT EXISTS referrals_by_status ON referrals (status, made_at);

-- projection reviews: the next review of each open case --------------------------------
CREATE TABLE IF NOT EXISTS case_reviews (
    case_id       text        PRIMARY KEY,
    review_id     text,
    due_on        date        NOT NULL,
    due_at        timestamptz,
    reason        text,                   -- opened | assessed | risk_changed | …
    grace_until   date,
    status        text        NOT NULL,   -- scheduled | due | lapsed | on_hold
    scheduled_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS case_reviews_due ON case_reviews (due_on);

-- projection escalations -------------------------------------------------------------
CREATE TABLE IF NOT EXISTS case_escalations (
    case_id       text        NOT NULL,
    escalation_id text        NOT NULL,
    subject       text,                   -- review | approval | referral
    subject_id    text,
    team          text,
    level         integer     NOT NULL,   -- climbs the ladder
    escalated_to  text,                   -- worker | supervisor | manager (who is notified)
    reason        text        NOT NULL,
    raised_at     timestamptz NOT NULL,
    status        text        NOT NULL,   -- open | resolved
    resolved_at   timestamptz,
    PRIMARY KEY (case_id, escalation_id)
);
CREATE INDEX IF NOT EXISTS case_escalations_open ON case_escalations (level, raised_at)
    WHERE status = 'open';

-- projection outcomes ----------------------------------------------------------------
-- The team each case belongs to now, and its active plan (outcomes are attributed to
-- the team that held the case when the outcome happened).
CREATE TABLE IF NOT EXISTS outcome_cases (
    case_id             text PRIMARY KEY,
    team                text NOT NULL,
    active_plan_id      text,
    active_plan_version integer
);
CREATE TABLE IF NOT EXISTS outcome_plan_goals (
    case_id      text    NOT NULL,
    plan_id      text    NOT NULL,
    plan_version integer NOT NULL,
    goal_id      text    NOT NULL,
    domain       text    NOT NULL,
    PRIMARY KEY (case_id, plan_id, plan_version, goal_id)
);
CREATE TABLE IF NOT EXISTS outcome_goal_evaluations (
    case_id       text        NOT NULL,
    evaluation_id text        NOT NULL,
    goal_id       text        NOT NULL,
    domain        text        NOT NULL,   -- from the active plan's goal ('unknown' if none)
    outcome       text        NOT NULL,   -- met | partly_met | not_met
    team          text        NOT NULL,
    evaluated_at  timestamptz NOT NULL,
    PRIMARY KEY (case_id, evaluation_id, goal_id)
);
CREATE INDEX IF NOT EXISTS outcome_goal_evaluations_when ON outcome_goal_evaluations (evaluated_at);
CREATE TABLE IF NOT EXISTS outcome_closures (
    case_id        text        NOT NULL,
    stream_version bigint      NOT NULL,
    reason         text        NOT NULL,
    team           text        NOT NULL,
    closed_at      timestamptz NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);
CREATE INDEX IF NOT EXISTS outcome_closures_when ON outcome_closures (closed_at);
CREATE TABLE IF NOT EXISTS outcome_plan_approvals (
    case_id      text        NOT NULL,
    approval_id  text        NOT NULL,
    team         text        NOT NULL,
    requested_at timestamptz NOT NULL,
    granted_at   timestamptz,
    returned_at  timestamptz,
    PRIMARY KEY (case_id, approval_id)
);
CREATE INDEX IF NOT EXISTS outcome_plan_approvals_granted ON outcome_plan_approvals (granted_at);

-- projection timeline ----------------------------------------------------------------
CREATE TABLE IF NOT EXISTS case_timeline (
    case_id         text        NOT NULL,
    stream_version  bigint      NOT NULL,
    global_position bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    actor_id        text        NOT NULL,
    actor_role      text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    description     text        NOT NULL,   -- one line, never client names or personal details
    PRIMARY KEY (case_id, stream_version)
);
