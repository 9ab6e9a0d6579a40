-- projection plan_actions (projections/actions.py) ------------------------------------------
-- A row per action of a plan's goals: who owns it (kind and, for a worker or a provider,
-- their id; never a name: read models hold no personal data), when it is due, and its
-- status open → overdue → done | dropped. What it says is personal: the case shows it.
CREATE TABLE IF NOT EXISTS plan_actions (
    case_id         text        NOT NULL,
    action_id       text        NOT NULL,
    goal_id         text        NOT NULL,
    owner_kind      text        NOT NULL,                -- caseworker | client | family | provider | worker
    owner_staff_id  text,                                -- kind worker: the worker who owns it
    owner_provider  text,                                -- kind provider
    crisis_plan     boolean     NOT NULL DEFAULT false,
    conference_id   text,
    due_at          timestamptz NOT NULL,
    status          text        NOT NULL,                -- open | overdue | done | dropped
    late            boolean     NOT NULL DEFAULT false,  -- done after its due date
    added_by        text        NOT NULL,
    added_at        timestamptz NOT NULL,
    reminded_at     timestamptz,
    overdue_at      timestamptz,
    closed_at       timestamptz,
    PRIMARY KEY (case_id, action_id)
);
CREATE INDEX IF NOT EXISTS plan_actions_open_due
    ON plan_actions (due_at) WHERE status IN ('open', 'overdue');

-- As 0002_role_grants.sql: the projector writes it, readers read it.
GRANT SELECT, INSERT, UPDATE, DELETE ON plan_actions TO casework_projector;
GRANT SELECT ON plan_actions TO casework_reader;
