-- The access log: every read of a case's details or history — who, when, which view,
-- which case, why — and every refused attempt. Append-only like the event log: the
-- triggers below refuse UPDATE, DELETE and TRUNCATE for every role, owner included.
--
-- `break_glass` marks emergency access by someone outside the case's scope; it always
-- carries a reason. `allowed` is false for a refused read (out of scope, no such case,
-- a role that reads no case data), so attempts are on record too.
CREATE TABLE IF NOT EXISTS access_log (
    access_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accessed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    staff_id    text        NOT NULL CHECK (length(staff_id) BETWEEN 1 AND 100),
    role        text        NOT NULL,
    team        text,
    case_id     text        NOT NULL CHECK (length(case_id) BETWEEN 1 AND 200),
    view        text        NOT NULL CHECK (length(view) BETWEEN 1 AND 50),
    reason      text        CHECK (length(reason) <= 2000),
    break_glass boolean     NOT NULL DEFAULT false,
    allowed     boolean     NOT NULL,
    CHECK (NOT break_glass OR length(btrim(coalesce(reason, ''))) > 0)
);
CREATE INDEX IF NOT EXISTS access_log_case ON access_log (case_id, access_id);
CREATE INDEX IF NOT EXISTS access_log_staff ON access_log (staff_id, access_id);
CREATE INDEX IF NOT EXISTS access_log_break_glass ON access_log (accessed_at)
    WHERE break_glass;

CREATE OR REPLACE FUNCTION casework_access_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS access_log_no_update_delete ON access_log;
CREATE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION casework_access_log_refuse_change();
DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log;
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION casework_access_log_refuse_change();

-- Privileges (the roles of 0003_roles.sql, where they exist): the engine records and
-- reads entries; nobody but the owner has anything else, and the triggers refuse
-- changes even to the owner.
REVOKE ALL ON access_log FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'casework_engine') THEN
        REVOKE ALL ON access_log FROM casework_engine;
        GRANT SELECT, INSERT ON access_log TO casework_engine;
    END IF;
END
$$;
