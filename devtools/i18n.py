"""The catalog's tools: what is marked for translation, and what a language lacks.

    python -m devtools.i18n missing es [--under casework/console]   # PO stubs to translate
    python -m devtools.i18n pot > messages.pot                      # the template

Marked strings are found by Babel's own extractors: Python (`_`, `gettext`,
`ngettext`, `N_`) over the code that speaks to people (`SOURCES`), and the Jinja2
templates with the i18n extension (`{{ _("…") }}`, `{% trans %}`).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import write_po

from casework.i18n import read_catalogs

ROOT = Path(__file__).resolve().parent.parent

SOURCES = ("casework", "cases", "projections")
"""The directories whose marked strings people read (the console, the API, the CLI; the
audit trail's lines, cases/said.py messages, in cases/ and projections/)."""

SOURCE_FILES = ("starter.py",)
"""Single files outside them (the command line's entry point)."""

METHOD_MAP = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "pgettext": ((1, "c"), 2),
}


@dataclass
class Marked:
    msgid: str
    plural: str | None = None
    places: list[tuple[str, int]] = field(default_factory=list)
    context: str | None = None


def key_of(msgid: str, context: str | None) -> str:
    """A marked string's key: its msgid, with its context (`pgettext`) in front."""
    return f"{context}\x04{msgid}" if context else msgid


VOCABULARY_MODULES = ("events.choices", "cases.actors", "cases.state")
"""The enumerations whose values pages show as words (the console's `words` filter:
`closure_reason` → "closure reason", translated): each value is a catalog entry."""


def vocabulary_words() -> dict[str, list[tuple[str, int]]]:
    """Every value of the vocabulary's enumerations, as the `words` filter shows it."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in VOCABULARY_MODULES:
        module = importlib.import_module(name)
        path = name.replace(".", "/") + ".py"
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum):
                if value.__module__ != name:
                    continue
                for member in value:
                    words = str(member.value).replace("_", " ")
                    out.setdefault(words, []).append((f"{path}:{value.__name__}", 0))
    return out


def command_words() -> dict[str, list[tuple[str, int]]]:
    """The case commands' names as the case page says what it recorded (`log_contact`
    → "Recorded: log contact."), each a catalog entry."""
    from cases.command_table import BY_UPDATE

    return {update.replace("_", " "): [("cases/command_table.py", 0)] for update in BY_UPDATE}


def extract(under: str | None = None) -> dict[str, Marked]:
    """Every marked string of `SOURCES` (or of the files under `under`), by msgid, and
    the vocabulary's words (`VOCABULARY_MODULES`)."""
    found: dict[str, Marked] = {}
    for words, places in (vocabulary_words() | command_words()).items():
        if under and not any(p.startswith(under) for p, _ in places):
            continue
        found[words] = Marked(words, None, list(places))
    for source in SOURCES:
        for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT / source,
            METHOD_MAP,
            options_map=OPTIONS,
            keywords=KEYWORDS,
            comment_tags=(),
            strip_comment_tags=True,
        ):
            path = f"{source}/{filename}"
            if under and not path.startswith(under):
                continue
            msgid, plural = (
                (message[0], message[1]) if isinstance(message, tuple) else (message, None)
            )
            if not msgid:
                continue
            entry = found.setdefault(key_of(msgid, context), Marked(msgid, plural, context=context))
            entry.places.append((path, lineno))
    for name in SOURCE_FILES:
        if under and not name.startswith(under):
            continue
        for lineno, message, _comments, context in extract_from_file(
            "python", ROOT / name, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
        ):
            msgid, plural = (
                (message[0], message[1]) if isinstance(message, tuple) else (message, None)
            )
            if msgid:
                found.setdefault(
                    key_of(msgid, context), Marked(msgid, plural, context=context)
                ).places.append((name, lineno))
    return found


PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@dataclass
class Problems:
    missing: list[Marked] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)


def check(language: str, under: str | None = None) -> Problems:
    """What `language`'s catalogs lack or get wrong for the marked strings."""
    marked = extract(under)
    translated: dict[str, tuple[Path, object]] = {}
    problems = Problems()
    for path, catalog in read_catalogs(language):
        for message in catalog:
            if not message.id:
                continue
            msgid = str(message.id[0] if isinstance(message.id, tuple | list) else message.id)
            key = key_of(msgid, message.context)
            if message.fuzzy:
                problems.fuzzy.append(f"{path.name}: {key!r}")
                continue
            if key in translated and translated[key][1] != message.string:
                problems.conflicts.append(
                    f"{key!r}: {translated[key][0].name} and {path.name} differ"
                )
            translated[key] = (path, message.string)
    for key, entry in marked.items():
        msgid = entry.msgid
        string = translated.get(key, (None, None))[1]
        forms = list(string) if isinstance(string, tuple | list) else [string]
        if not all(forms):
            problems.missing.append(entry)
            continue
        wanted = placeholders(msgid) | (placeholders(entry.plural) if entry.plural else set())
        for form in forms:
            assert isinstance(form, str)
            have = placeholders(form)
            if have - wanted or (not entry.plural and have != wanted):
                problems.placeholders.append(f"{msgid!r} → {form!r}")
    return problems


def stubs(entries: list[Marked]) -> str:
    """The missing strings as a PO file to fill in."""
    catalog = Catalog(locale="es")
    for entry in entries:
        msgid: str | tuple[str, str] = (entry.msgid, entry.plural) if entry.plural else entry.msgid
        catalog.add(
            msgid,
            "" if not entry.plural else ("", ""),
            locations=entry.places,
            context=entry.context,
        )
    buffer = BytesIO()
    write_po(buffer, catalog, omit_header=True, width=100)
    return buffer.getvalue().decode()


def _iter_pot() -> Iterator[str]:
    catalog = Catalog(project="Casework")
    for entry in extract().values():
        msgid: str | tuple[str, str] = (entry.msgid, entry.plural) if entry.plural else entry.msgid
        catalog.add(msgid, locations=entry.places, context=entry.context)
    buffer = BytesIO()
    write_po(buffer, catalog, width=100)
    yield buffer.getvalue().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.i18n")
    sub = parser.add_subparsers(dest="command", required=True)
    missing = sub.add_parser("missing", help="the strings a language lacks, as PO stubs")
    missing.add_argument("language")
    missing.add_argument("--under", help="only strings marked in files under this path")
    sub.add_parser("pot", help="the template of every marked string")
    args = parser.parse_args(argv)
    if args.command == "pot":
        for chunk in _iter_pot():
            sys.stdout.write(chunk)
        return 0
    problems = check(args.language, args.under)
    sys.stdout.write(stubs(problems.missing))
    for line in problems.placeholders:
        sys.stderr.write(f"placeholders differ: {line}\n")
    for line in problems.conflicts:
        sys.stderr.write(f"translated twice differently: {line}\n")
    for line in problems.fuzzy:
        sys.stderr.write(f"fuzzy (not used): {line}\n")
    bad = problems.missing or problems.placeholders or problems.conflicts or problems.fuzzy
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
