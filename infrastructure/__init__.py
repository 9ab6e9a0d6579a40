"""Infrastructure: settings, logging, metrics, database pools, the embedded PostgreSQL,
the Temporal connection and its payload codec. Imports only the event log (`events/`)."""
