"""The catalogs are complete: every string marked for translation in the console, the
API and the command line (and every vocabulary word a page shows) has a Spanish
translation with the same placeholders, translated once (devtools/i18n.py extracts
them with Babel's extractors, as `python -m devtools.i18n missing es` does)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from casework import i18n
from devtools import i18n as catalog_tools


def test_every_marked_string_has_a_spanish_translation() -> None:
    problems = catalog_tools.check("es")
    missing = [f"{m.msgid!r} ({m.places[0][0]}:{m.places[0][1]})" for m in problems.missing]
    assert not missing, f"{len(missing)} strings without Spanish:\n" + "\n".join(missing[:60])
    assert not problems.placeholders, "\n".join(problems.placeholders)
    assert not problems.conflicts, "\n".join(problems.conflicts)
    assert not problems.fuzzy, "\n".join(problems.fuzzy)


def test_the_extraction_sees_templates_python_and_the_vocabulary() -> None:
    marked = catalog_tools.extract()
    places = {path for entry in marked.values() for path, _line in entry.places}
    assert any(p.endswith(".html") for p in places)
    assert any(p.startswith("casework/api/") for p in places)
    assert any(p.startswith("casework/cli/") for p in places)
    assert any(p.startswith("casework/console/") and p.endswith(".py") for p in places)
    assert "closure reason" not in marked  # a field name, not a value
    assert "goals met" in marked  # ClosureReason.GOALS_MET as the page shows it


def test_a_missing_translation_is_found(tmp_path: pytest.TempPathFactory) -> None:
    stub = catalog_tools.stubs([catalog_tools.Marked("A string nobody translated", None, [])])
    assert 'msgid "A string nobody translated"' in stub
    assert catalog_tools.placeholders("%(n)s of {total}") == {"n", "total"}


@pytest.mark.parametrize(
    ("header", "preferred", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", None, "es"),
        ("fr, es;q=0.5, en;q=0.9", None, "en"),
        ("fr, es;q=0.5", None, "es"),
        ("de", None, "en"),
        ("", None, "en"),
        (None, None, "en"),
        ("es;q=0, en", None, "en"),
        ("es;q=nonsense", None, "en"),
        ("en", "es", "es"),
        ("es", "klingon", "es"),
    ],
)
def test_the_language_is_negotiated(
    header: str | None, preferred: str | None, expected: str
) -> None:
    assert i18n.negotiate(header, preferred) == expected


def test_the_command_line_language_comes_from_the_environment() -> None:
    assert i18n.from_environment({"CASEWORK_LANGUAGE": "es", "LANG": "en_US.UTF-8"}) == "es"
    assert i18n.from_environment({"LANG": "es_ES.UTF-8"}) == "es"
    assert i18n.from_environment({"LANGUAGE": "fr:es", "LANG": "en_US.UTF-8"}) == "es"
    assert i18n.from_environment({"LC_ALL": "C", "LANG": "es_ES.UTF-8"}) == "en"
    assert i18n.from_environment({}) == "en"


def test_dates_and_numbers_follow_the_locale() -> None:
    moment = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    assert i18n.format_when(moment, "en") == "2026-03-02 14:05 UTC"
    assert i18n.format_when(moment, "es") == "2 mar 2026, 14:05 UTC"
    assert i18n.format_day(date(2026, 3, 2), "es") == "2 mar 2026"
    assert i18n.format_number(12345.5, "en") == "12,345.5"
    assert i18n.format_number(12345.5, "es") == "12.345,5"


def test_translations_follow_the_context() -> None:
    with i18n.speaking("es"):
        assert i18n.gettext("Sign out") == "Cerrar sesión"
        assert i18n.gettext("team %(team)s", team="north") == "equipo north"
        assert i18n.direction() == "ltr"
    assert i18n.gettext("Sign out") == "Sign out"
    assert i18n.direction("ar") == "rtl"
