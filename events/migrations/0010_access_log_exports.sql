-- Exports of a list as a file (CSV or XLSX, application/exports.py) are recorded in the
-- access log like any read: `view` 'export <list> <format>' (for example
-- 'export caseload csv'), the list's filters and the export's options (`columns`,
-- `section`) in `filters`, and for the export of one case's list (its timeline, its
-- access log) that case in `case_id`. An export of a list over many cases names none,
-- so `case_id` may now be null for exports too.
--
-- The entry is written when the export starts, before its first byte is sent, so an
-- export that fails or is cut off is on record all the same. The access log stays
-- append-only: how the export ended is a row of its own in `access_log_export_ends`,
-- written when the last row is sent (or the export fails, or the client goes away):
-- how many rows it held and whether it was complete, cut at CASEWORK_EXPORT_MAX_ROWS,
-- aborted or failed. An export entry without such a row was stopped before it could
-- say (the process ended).
ALTER TABLE access_log
    ADD COLUMN IF NOT EXISTS filters jsonb
        CHECK (filters IS NULL OR (jsonb_typeof(filters) = 'object'
                                   AND length(filters::text) <= 10000));

ALTER TABLE access_log DROP CONSTRAINT IF EXISTS access_log_case_or_payloads;
ALTER TABLE access_log ADD CONSTRAINT access_log_case_or_payloads
    CHECK (case_id IS NOT NULL OR view IN ('codec decode', 'codec encode')
           OR view LIKE 'export %');

CREATE INDEX IF NOT EXISTS access_log_exports ON access_log (access_id)
    WHERE view LIKE 'export %';

-- `access_id` names the export's entry in access_log (no foreign key: a TRUNCATE of the
-- access log must meet its own refusal, not the key's).
CREATE TABLE IF NOT EXISTS access_log_export_ends (
    access_id bigint      PRIMARY KEY,
    ended_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    row_count bigint      NOT NULL CHECK (row_count >= 0),
    outcome   text        NOT NULL CHECK (outcome IN ('complete', 'cut', 'aborted', 'failed'))
);

-- Append-only like the access log itself (the function of 0005_access_log.sql).
DROP TRIGGER IF EXISTS access_log_export_ends_no_update_delete ON access_log_export_ends;
CREATE TRIGGER access_log_export_ends_no_update_delete
    BEFORE UPDATE OR DELETE ON access_log_export_ends
    FOR EACH ROW EXECUTE FUNCTION casework_access_log_refuse_change();
DROP TRIGGER IF EXISTS access_log_export_ends_no_truncate ON access_log_export_ends;
CREATE TRIGGER access_log_export_ends_no_truncate BEFORE TRUNCATE ON access_log_export_ends
    FOR EACH STATEMENT EXECUTE FUNCTION casework_access_log_refuse_change();

-- Privileges as the access log's: the engine records and reads, nobody else anything.
REVOKE ALL ON access_log_export_ends FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'casework_engine') THEN
        REVOKE ALL ON access_log_export_ends FROM casework_engine;
        GRANT SELECT, INSERT ON access_log_export_ends TO casework_engine;
    END IF;
END
$$;
