"""Projections: the projector runner, read-model tables and their queries.

`projection_migrations()` is kept here, free of heavy imports, for application/migrations.py.
"""

from __future__ import annotations

from pathlib import Path

from events.migrate import Migration, load_migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def projection_migrations() -> list[Migration]:
    """The read-model tables and checkpoints (run after the event store's migrations)."""
    return load_migrations("projections", MIGRATIONS_DIR)
