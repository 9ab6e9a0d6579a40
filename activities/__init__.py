"""Activities: everything with side effects that a case workflow does — appending its
events, dispatching referrals, delivering notifications, scoring assessments.

`activity_migrations()` is kept here, free of heavy imports (the notification outbox).
"""

from __future__ import annotations

from pathlib import Path

from events.migrate import Migration, load_migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def activity_migrations() -> list[Migration]:
    """The tables the activities keep (run after the event store's migrations)."""
    return load_migrations("activities", MIGRATIONS_DIR)
