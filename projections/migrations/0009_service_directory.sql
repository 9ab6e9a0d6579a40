-- projection service_directory (projections/service_directory.py): the resource
-- directory's providers and services with their HSDS profiles, for the HSDS publication
-- (GET /api/v1/hsds/services) and the service filters when referring.
CREATE TABLE IF NOT EXISTS directory_providers (
    provider_id text    PRIMARY KEY,
    name        text    NOT NULL,
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS directory_services (
    provider_id text        NOT NULL,
    service_id  text        NOT NULL,
    name        text        NOT NULL,
    domains     text[]      NOT NULL,
    languages   text[]      NOT NULL DEFAULT '{}',
    area_codes  text[]      NOT NULL DEFAULT '{}',
    schedule    jsonb       NOT NULL DEFAULT '[]',
    profile     jsonb,
    active      boolean     NOT NULL DEFAULT true,
    modified_at timestamptz NOT NULL,
    position    bigint      NOT NULL,
    PRIMARY KEY (provider_id, service_id)
);
CREATE INDEX IF NOT EXISTS directory_services_modified
    ON directory_services (modified_at, provider_id, service_id);

-- As 0002_role_grants.sql: the projector writes them, readers read them.
GRANT SELECT, INSERT, UPDATE, DELETE ON directory_providers, directory_services
    TO casework_projector;
GRANT SELECT ON directory_providers, directory_services TO casework_reader;
