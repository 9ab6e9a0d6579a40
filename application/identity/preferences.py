"""A staff member's own settings: the language the console speaks to them.

Kept beside the other identity tables (owner-only, application/identity/migrations/
0003): a preference is the person's, not the case's, so it is not an event of any
case's log. Setting it is refused for a language Casework does not ship.
"""

from __future__ import annotations

from datetime import datetime

from application.bootstrap import Casework

__all__ = ["UnknownLanguage", "language_of", "set_language"]


class UnknownLanguage(ValueError):
    """`language`: a language Casework does not ship."""


async def language_of(app: Casework, staff_id: str) -> str | None:
    """The staff member's chosen language (None: the browser decides)."""
    value: str | None = await app.pool.fetchval(
        "SELECT language FROM staff_preferences WHERE staff_id = $1", staff_id
    )
    return value


async def set_language(
    app: Casework, staff_id: str, language: str | None, shipped: tuple[str, ...], *, now: datetime
) -> None:
    """Choose `language` (one of `shipped`) for the staff member, or None to follow the
    browser again."""
    if language is not None and language not in shipped:
        raise UnknownLanguage(f"language: {language!r} is not one of {', '.join(shipped)}")
    await app.pool.execute(
        """
        INSERT INTO staff_preferences (staff_id, language, updated_at) VALUES ($1, $2, $3)
        ON CONFLICT (staff_id) DO UPDATE SET language = $2, updated_at = $3
        """,
        staff_id,
        language,
        now,
    )
