-- projection timeline (projections/timeline.py): each line also as a message, to say in
-- the reader's language (issue 33). `description_said` is the line's msgid and values
-- (cases/said.py `to_json`: codes, ids, dates and counts, never personal text), written
-- with `description` (the same line in English) by the projector and by a rebuild alike.
-- Rows recorded before this migration keep NULL (the case page then shows their English
-- `description`) until `casework projections rebuild timeline` fills them; `casework
-- verify` reports those rows as differing from a rebuild until then.
ALTER TABLE case_timeline ADD COLUMN IF NOT EXISTS description_said jsonb;

-- The table's grants (0002_role_grants.sql) cover its new column: nothing to grant.
