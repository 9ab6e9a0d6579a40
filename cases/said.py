"""A sentence kept as its message, to be said later in the reader's language.

The audit trail's lines (projections/timeline.py and the features' `timeline`) are
messages: an English msgid with `%(name)s` placeholders, marked for the catalog with
`N_` (or `ngettext` for a count), and the values that fill them. A value is a plain
id, version, date or count (`str`, `int`), a vocabulary `Word` (translated), a nested
`Said` (a phrase translated on its own: a count, a part that varies), or a tuple of
values (read as a list, `, ` between them). Values are codes, ids and counts only:
never personal text, since the read model stores them (`case_timeline.description_said`).

`render(said)` is the English line; `render(said, gettext, ngettext)` the line in the
language those speak (the console passes `casework.i18n.raw_gettext`/`raw_ngettext`).
`to_json`/`from_json` are how the read model keeps it.

Pure and standard library only: the rules' layer (importable from everywhere above it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "N_",
    "Gettext",
    "Ngettext",
    "Said",
    "Value",
    "Word",
    "from_json",
    "ngettext",
    "render",
    "say",
    "to_json",
]


def N_(message: str) -> str:
    """Mark a msgid for the catalog (devtools/i18n.py extracts it); translated where shown."""
    return message


@dataclass(frozen=True)
class Word:
    """A vocabulary code (`closure_reason`), said as its words (`closure reason`): a
    catalog entry (the vocabulary's words), translated when the line is rendered."""

    code: str


Value = Union[str, int, Word, "Said", tuple["Value", ...]]
"""What fills a placeholder (see the module docstring)."""


@dataclass(frozen=True)
class Said:
    """A message: `msgid` (or `msgid`/`plural` by `n`, `%(num)s` being `n`) and its values.

    `capitalized`: the rendered sentence starts with a capital (a sentence that opens
    with a translated word)."""

    msgid: str
    params: Mapping[str, Value] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None
    capitalized: bool = False


def say(msgid: str, /, **params: Value) -> Said:
    """A message (`msgid` marked with `N_`) with its values."""
    return Said(msgid, params)


def ngettext(singular: str, plural: str, n: int, /, **params: Value) -> Said:
    """A message by count: `singular` or `plural` by `n` (the placeholder `%(num)s`).
    Named as gettext's own so that the catalog's extractor marks the pair."""
    return Said(singular, params, plural=plural, n=n)


Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]


def _english(message: str) -> str:
    return message


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def render(said: Said, gettext: Gettext = _english, ngettext: Ngettext = _english_plural) -> str:
    """The message in the language `gettext`/`ngettext` speak (by default English, the
    msgids themselves)."""

    def value(v: Value) -> str:
        if isinstance(v, Said):
            return render(v, gettext, ngettext)
        if isinstance(v, Word):
            return gettext(v.code.replace("_", " "))
        if isinstance(v, tuple):
            return ", ".join(value(item) for item in v)
        return str(v)

    if said.plural is not None:
        text = ngettext(said.msgid, said.plural, said.n or 0)
        values: dict[str, str] = {"num": str(said.n or 0)}
    else:
        text = gettext(said.msgid)
        values = {}
    values.update((name, value(v)) for name, v in said.params.items())
    if values:
        text = text % values
    return text[:1].upper() + text[1:] if said.capitalized else text


# --- as the read model keeps it (jsonb) ----------------------------------------------------


def _value_json(v: Value) -> object:
    if isinstance(v, Said):
        return to_json(v)
    if isinstance(v, Word):
        return {"w": v.code}
    if isinstance(v, tuple):
        return [_value_json(item) for item in v]
    return v


def to_json(said: Said) -> dict[str, object]:
    """The message as JSON: `m` msgid, `p` values, `pl`/`n` plural and count, `c` capitalized."""
    out: dict[str, object] = {"m": said.msgid}
    if said.params:
        out["p"] = {name: _value_json(v) for name, v in said.params.items()}
    if said.plural is not None:
        out["pl"] = said.plural
        out["n"] = said.n
    if said.capitalized:
        out["c"] = True
    return out


def _value_of(data: object) -> Value:
    if isinstance(data, dict):
        if "w" in data:
            return Word(str(data["w"]))
        return from_json(data)
    if isinstance(data, list):
        return tuple(_value_of(item) for item in data)
    if isinstance(data, bool) or not isinstance(data, int | str):
        return str(data)
    return data


def from_json(data: Mapping[str, object]) -> Said:
    """The message `to_json` wrote."""
    params = data.get("p") or {}
    assert isinstance(params, dict)
    n = data.get("n")
    return Said(
        str(data["m"]),
        {str(name): _value_of(v) for name, v in params.items()},
        plural=str(data["pl"]) if data.get("pl") is not None else None,
        n=n if isinstance(n, int) else None,
        capitalized=bool(data.get("c", False)),
    )
