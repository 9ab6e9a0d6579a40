"""The identity tables' migrations (application/identity/migrations/), kept free of
heavy imports for application/migrations.py."""

from __future__ import annotations

from pathlib import Path

from events.migrate import Migration, load_migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

TABLES = (
    "staff_credentials",
    "staff_invitations",
    "staff_sessions",
    "staff_access_tokens",
    "staff_totp",
    "staff_preferences",
)


def identity_migrations() -> list[Migration]:
    """The secrets' tables (run after the event store's migrations).

    Raises if the SQL files are missing (an install that left out the package data),
    rather than letting `casework migrate` succeed without the tables.
    """
    migrations = load_migrations("identity", MIGRATIONS_DIR)
    if not migrations:
        raise FileNotFoundError(
            f"no identity migrations in {MIGRATIONS_DIR}: the package was installed "
            "without its SQL files"
        )
    return migrations
