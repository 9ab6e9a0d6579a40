"""The client's language as the console shows it: the language's name in the page's
language, from CLDR through Babel (`Portuguese (Brazil)`, `portugués (Brasil)`), the tag
itself for a language CLDR does not name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from babel import Locale, UnknownLocaleError

from application.bootstrap import Casework
from application.client_language import client_languages
from application.read_models import CaseSummary
from casework import i18n


@cache
def _named(tag: str, language: str) -> str:
    try:
        viewer = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        viewer = Locale.parse(i18n.DEFAULT)
    primary, *rest = tag.split("-")
    name = viewer.languages.get(primary)
    if not name:
        return tag
    details = [
        viewer.scripts.get(part) or viewer.territories.get(part) or part
        for part in rest
        if not part.islower() or len(part) <= 3  # scripts, regions, extlangs; not variants
    ]
    return f"{name} ({', '.join(details)})" if details else str(name)


def language_label(tag: str | None) -> str:
    """The name of the language `tag` (a BCP 47 tag in its canonical case) in the
    current language; "" for None."""
    return _named(tag, i18n.current()) if tag else ""


@dataclass(frozen=True)
class LanguageShown:
    name: str
    """The language's name in the page's language ("" when only the interpreter need is
    recorded)."""
    tag: str | None
    interpreter_needed: bool


class _Listed(Protocol):
    @property
    def case(self) -> CaseSummary: ...


async def languages_shown(app: Casework, rows: Sequence[_Listed]) -> dict[str, LanguageShown]:
    """The client's language of each row of a list of the caller's cases (the caseload's
    rows shown), by case id, read from the log (application/client_language.py)."""
    found = await client_languages(app, [row.case.case_id for row in rows])
    return {
        case_id: LanguageShown(
            language_label(language.preferred_language),
            language.preferred_language,
            language.interpreter_needed,
        )
        for case_id, language in found.items()
    }
