-- projection kpi (projections/kpi.py, cases/kpi.py): every measure of every case, with
-- its event's place in the log, so a report counts exactly the measures of the events
-- a signed checkpoint covers; their sums by KPI, month, team, worker and subject; and
-- each case's facts the next measures need.
CREATE TABLE IF NOT EXISTS kpi_cases (
    case_id uuid  PRIMARY KEY,
    facts   jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS kpi_measures (
    transaction_id  bigint NOT NULL,
    global_position bigint NOT NULL,
    ordinal         int    NOT NULL,
    case_id         uuid   NOT NULL,
    kpi             text   NOT NULL,
    team            text   NOT NULL,
    worker          text   NOT NULL,
    day             date   NOT NULL,
    subject         text   NOT NULL,
    value           bigint NOT NULL,
    PRIMARY KEY (global_position, ordinal)
);
-- A report subtracts the measures made after its checkpoint's last event from the sums.
CREATE INDEX IF NOT EXISTS kpi_measures_place ON kpi_measures (transaction_id, global_position);

CREATE TABLE IF NOT EXISTS kpi_sums (
    kpi     text   NOT NULL,
    month   date   NOT NULL,
    team    text   NOT NULL,
    worker  text   NOT NULL,
    subject text   NOT NULL,
    count   bigint NOT NULL,
    total   bigint NOT NULL,
    PRIMARY KEY (month, kpi, team, worker, subject)
);

-- As 0002_role_grants.sql: the projector writes them, readers read them.
GRANT SELECT, INSERT, UPDATE, DELETE ON kpi_cases, kpi_measures, kpi_sums TO casework_projector;
GRANT SELECT ON kpi_cases, kpi_measures, kpi_sums TO casework_reader;
