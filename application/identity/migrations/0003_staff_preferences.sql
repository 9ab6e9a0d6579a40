-- A staff member's own settings (application/identity/preferences.py): for now the
-- language the console speaks to them. No row: the browser's Accept-Language decides.
--
-- Times are the application's clock (the use cases' `now`), not the database's.

CREATE TABLE IF NOT EXISTS staff_preferences (
    staff_id   text        PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 100),
    language   text        CHECK (language ~ '^[a-z]{2,3}$'),
    updated_at timestamptz NOT NULL
);

-- Only the owner (the application's DATABASE_URL login) touches it, as the other
-- identity tables.
REVOKE ALL ON staff_preferences FROM PUBLIC;
