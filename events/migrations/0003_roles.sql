-- Database roles: least privilege for the engine, the projector and readers.
--
--   casework_engine     the worker: SELECT and INSERT on the event log, nothing else
--                       there (no UPDATE, DELETE, TRUNCATE); the notification outbox
--                       (activities/migrations/0002_engine_grants.sql).
--   casework_projector  the projector: SELECT on the event log; all DML on the read
--                       models and their checkpoints
--                       (projections/migrations/0002_role_grants.sql).
--   casework_reader     query-only users (reporting, the API): SELECT on the read models.
--
-- These are NOLOGIN group roles: a deployment creates its own LOGIN roles and grants
-- membership (GRANT casework_engine TO casework_worker_login), then points
-- CASEWORK_ENGINE_DATABASE_URL / CASEWORK_PROJECTOR_DATABASE_URL at them. Migrations
-- keep running as the tables' owner (DATABASE_URL), which holds every privilege.
--
-- Roles are cluster-wide and GRANTs are per database: the roles are created only if
-- missing (another database of the same cluster, or another concurrent migration,
-- may have created them first), and the grants below run in every database. A
-- migrating user without CREATEROLE works too once a DBA has created the three roles.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['casework_engine', 'casework_projector', 'casework_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by a migration of another database
            END;
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO casework_engine, casework_projector, casework_reader',
                   current_schema());
END
$$;

-- The event log: nobody but its owner has any privilege unless granted here.
REVOKE ALL ON events FROM PUBLIC;
REVOKE ALL ON events FROM casework_engine, casework_projector, casework_reader;
GRANT SELECT, INSERT ON events TO casework_engine;
GRANT SELECT ON events TO casework_projector;

-- The identity sequence behind global_position (INSERT on an identity column does not
-- need it, but nextval from the engine must never be refused).
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO casework_engine',
                   pg_get_serial_sequence('events', 'global_position'));
END
$$;

-- schema_migrations is the owner's business only.
REVOKE ALL ON schema_migrations FROM PUBLIC;
