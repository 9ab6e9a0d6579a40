"""The languages Casework speaks: every string a person reads in the console, in the
API's problem documents and in the command line's messages goes through here.

Source strings are English (the msgids); a language's translations are gettext
catalogs under `casework/i18n/locale/<lang>/LC_MESSAGES/*.po`, kept by area
(`console.po`, `case_page.po`, `api.po`, `cli.po` …) and read straight from the
`.po` files at start (Babel), merged into one catalog per language: nothing is
compiled by hand and a fresh clone speaks every language it ships.

The language of the moment is a context variable: the console sets it per request
(the staff member's setting, else the browser's `Accept-Language`), the API per
request (`Accept-Language`), the command line once (`CASEWORK_LANGUAGE`, else
`LANGUAGE`/`LC_ALL`/`LC_MESSAGES`/`LANG`). `_()` reads it, so a message made while a
request is served is in that request's language. Strings defined at import (tables,
labels) are marked with `N_` and translated where they are shown (`_(label)`).

`tests/test_i18n_catalog.py` extracts every marked string (Babel's extractors over
Python and the Jinja2 templates, `devtools/i18n.py`) and fails on one that has no
Spanish translation, on a translation whose placeholders differ from its source,
and on two areas translating one string differently.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar, Token
from datetime import UTC, date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "_",
    "catalog_files",
    "current",
    "direction",
    "format_day",
    "format_number",
    "format_when",
    "from_environment",
    "gettext",
    "language_name",
    "negotiate",
    "ngettext",
    "pgettext",
    "raw_gettext",
    "raw_ngettext",
    "raw_pgettext",
    "speaking",
    "supported",
    "translations",
    "use",
]

LOCALE_DIR = Path(__file__).parent / "locale"

DEFAULT = "en"
"""The source language: the msgids are English, so English is always complete."""

LANGUAGES: tuple[str, ...] = ("en", "es")
"""The languages shipped, each complete (tests/test_i18n_catalog.py)."""

_current: ContextVar[str] = ContextVar("casework_language", default=DEFAULT)


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it now (a table made at
    import); translate it where it is shown with `_()`."""
    return message


def supported(language: str | None) -> str | None:
    """The shipped language a tag names (`es-MX` → `es`), or None."""
    if not language:
        return None
    primary = language.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The language to answer in: the staff member's setting when it is one Casework
    speaks, else the best of the `Accept-Language` header's (RFC 9110 quality values;
    a malformed entry is skipped), else English."""
    chosen = supported(preferred)
    if chosen:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        lang = supported(tag) if tag.strip() != "*" else DEFAULT
        if lang:
            ranked.append((-quality, index, lang))
    return sorted(ranked)[0][2] if ranked else DEFAULT


def from_environment(environ: dict[str, str] | None = None) -> str:
    """The command line's language: `CASEWORK_LANGUAGE`, else the POSIX locale
    variables in their order of precedence (`LANGUAGE` may list several: the first
    Casework speaks wins); `C`/`POSIX` and anything unknown mean English."""
    env = os.environ if environ is None else environ
    explicit = supported(env.get("CASEWORK_LANGUAGE"))
    if explicit:
        return explicit
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if not value:
            continue
        for candidate in value.split(":"):
            lang = supported(candidate.split(".")[0])
            if lang:
                return lang
        if name != "LANGUAGE":
            return DEFAULT
    return DEFAULT


def current() -> str:
    return _current.get()


def use(language: str) -> Token[str]:
    """Speak `language` in this context from now on (a request, the command line)."""
    return _current.set(supported(language) or DEFAULT)


@contextlib.contextmanager
def speaking(language: str) -> Iterator[str]:
    """Speak `language` inside the block."""
    token = use(language)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def catalog_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


def read_catalogs(language: str) -> list[tuple[Path, Catalog]]:
    out = []
    for path in catalog_files(language):
        with path.open("rb") as handle:
            out.append((path, read_po(handle, locale=language)))
    return out


@cache
def translations(language: str) -> Translations:
    """The language's catalogs merged into one (read once per process)."""
    merged = Catalog(locale=language, domain="messages")
    catalogs = read_catalogs(language)
    if catalogs:  # the files' Plural-Forms (CLDR's `es` counts three forms, the files two)
        merged.mime_headers = catalogs[0][1].mime_headers
    for _path, catalog in catalogs:
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                merged[message.id] = message
    buffer = BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(buffer)


def gettext(message: str, /, **params: object) -> str:
    """`message` in the current language; `params` fill its `%(name)s` placeholders."""
    language = _current.get()
    text = message if language == DEFAULT else translations(language).gettext(message)
    return text % params if params else text


_ = gettext


def raw_gettext(message: str) -> str:
    """`message` in the current language, placeholders left for the caller (Jinja2's
    new-style gettext fills them, escaping the values)."""
    language = _current.get()
    return message if language == DEFAULT else translations(language).gettext(message)


def pgettext(context: str, message: str, /, **params: object) -> str:
    """`message` as used in `context` (a word with two senses: "open" as a case's
    status and "open" as a column of counts), in the current language."""
    language = _current.get()
    text = (
        message if language == DEFAULT else str(translations(language).pgettext(context, message))
    )
    return text % params if params else text


def raw_pgettext(context: str, message: str) -> str:
    language = _current.get()
    if language == DEFAULT:
        return message
    return str(translations(language).pgettext(context, message))


def raw_ngettext(singular: str, plural: str, n: int) -> str:
    language = _current.get()
    if language == DEFAULT:
        return singular if n == 1 else plural
    return translations(language).ngettext(singular, plural, n)


def ngettext(singular: str, plural: str, n: int, /, **params: object) -> str:
    """The singular or plural of a message by `n`, in the current language; `n` is
    also given to the placeholders as `num`."""
    language = _current.get()
    if language == DEFAULT:
        text = singular if n == 1 else plural
    else:
        text = translations(language).ngettext(singular, plural, n)
    return text % {"num": n, **params}


@cache
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


def direction(language: str | None = None) -> str:
    """`rtl` or `ltr`: the page's `dir` for the language."""
    return (
        "rtl" if _locale(language or _current.get()).character_order == "right-to-left" else "ltr"
    )


def language_name(language: str) -> str:
    """The language's name in itself (`Español`): how a language picker lists it."""
    locale = _locale(language)
    name = locale.get_display_name(locale) or language
    return name[:1].upper() + name[1:]


def format_when(value: datetime | None, language: str | None = None) -> str:
    """A moment as staff read it, in UTC: `2026-03-02 14:05 UTC` in English (the
    agency's records' own format), the locale's medium date and time elsewhere."""
    if value is None:
        return "—"
    lang = language or _current.get()
    moment = value.astimezone(UTC)
    if lang == DEFAULT:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return (
        _format_datetime(moment, "medium", tzinfo=UTC, locale=_locale(lang)).rsplit(":", 1)[0]
        + " UTC"
    )


def format_day(value: date | None, language: str | None = None) -> str:
    """A calendar day (`2026-03-02` in English, `2 mar 2026` in Spanish)."""
    if value is None:
        return "—"
    lang = language or _current.get()
    if lang == DEFAULT:
        return value.isoformat()
    return _format_date(value, "medium", locale=_locale(lang))


def format_number(value: float | int, language: str | None = None) -> str:
    """A number with the locale's separators (`12,345.5`; `12.345,5`)."""
    return format_decimal(value, locale=_locale(language or _current.get()))
