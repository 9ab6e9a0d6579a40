-- The engine's role (created by events/migrations/0003_roles.sql) delivers escalation
-- notifications: it reads, records and marks the outbox rows; it never deletes them.
REVOKE ALL ON notification_outbox FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON notification_outbox TO casework_engine;
