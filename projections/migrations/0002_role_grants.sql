-- Read-model privileges for the roles of events/migrations/0003_roles.sql.
--
-- The projector writes only read models and their checkpoints (it reads the event log
-- through its SELECT grant there); readers only read read models. These grants live in
-- the projections' own sequence because the tables are created here, after the event
-- store's migrations. A migration that adds a read-model table grants it the same way
-- (tests/security/test_db_roles.py checks every table of every projection).
GRANT SELECT, INSERT, UPDATE, DELETE ON
    projection_checkpoints, projection_rebuilds,
    case_summary, case_summary_open_referrals, case_summary_open_escalations, approvals,
    referrals, case_reviews,
    case_escalations, outcome_cases, outcome_plan_goals, outcome_goal_evaluations,
    outcome_closures, outcome_plan_approvals, case_timeline
    TO casework_projector;

GRANT SELECT ON
    projection_checkpoints,
    case_summary, case_summary_open_referrals, case_summary_open_escalations, approvals,
    referrals, case_reviews,
    case_escalations, outcome_cases, outcome_plan_goals, outcome_goal_evaluations,
    outcome_closures, outcome_plan_approvals, case_timeline
    TO casework_reader;

-- `casework projections rebuild` (run as the owner) builds shadow tables in schema
-- casework_rebuild and moves them into public; a table's privileges move with it, so
-- tables the owner creates there get the same grants by default.
ALTER DEFAULT PRIVILEGES IN SCHEMA casework_rebuild
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO casework_projector;
ALTER DEFAULT PRIVILEGES IN SCHEMA casework_rebuild
    GRANT SELECT ON TABLES TO casework_reader;
