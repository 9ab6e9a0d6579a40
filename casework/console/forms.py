"""HTML forms for commands: what a form holds, how a submitted form becomes a command's
data, and how the command model's errors come back beside the fields.

A form's inputs are named by their path in the command's data (`plan.goals.0.objective`),
so the pydantic errors of the command model (the same models the HTTP API validates
with, cases/commands.py) land on the input they are about. Parsing is plain:

* a `lines` input becomes a list (one item a line), `checkboxes` a list of the ticked;
* a blank optional input is left out (the model's default applies);
* a group of inputs left wholly blank (a spare goal row, an unrated domain) is left out,
  and rows with numeric keys become a list; the row numbers the person saw are kept, so
  an error on the second goal shows beside the second goal even when the first row was
  empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from casework import i18n
from casework.i18n import N_, _, validation

Kind = Literal["text", "textarea", "lines", "select", "checkboxes", "date", "number", "hidden"]


class Submitted(Protocol):
    def getlist(self, key: str) -> list[Any]: ...


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


CHOOSE = N_("— choose —")
"""A select's blank first choice."""


def words(value: StrEnum | str) -> str:
    """A vocabulary value as words in the current language (`_` read as spaces; the
    words are the vocabulary catalog's entries, as the pages' `words` filter shows them)."""
    return i18n.raw_gettext(str(getattr(value, "value", value)).replace("_", " "))


def enum_choices(values: Iterable[StrEnum], blank: str | None = CHOOSE) -> tuple[Choice, ...]:
    """A select's choices for an enum's values as words in the current language, after a
    blank one (`blank` is a marked string, translated here)."""
    found = tuple(Choice(v.value, words(v)) for v in values)
    return ((Choice("", i18n.raw_gettext(blank)),) if blank is not None else ()) + found


@dataclass(frozen=True)
class Input:
    name: str
    """The path in the command's data, dot-separated."""
    label: str
    kind: Kind = "text"
    choices: tuple[Choice, ...] = ()
    optional: bool = False
    hint: str = ""
    default: str | tuple[str, ...] = ""
    group: str = ""
    """Inputs with the same group are shown together under that legend."""
    staff: bool = False
    """A staff id, resolved in the staff directory into the command's actor value."""

    @property
    def dom_id(self) -> str:
        return self.name.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class ActionForm:
    action: str
    """The command table's update name (or `refer`); the URL of the form's POST."""
    title: str
    button: str
    inputs: tuple[Input, ...]
    intro: str = ""

    def groups(self) -> list[tuple[str, list[Input]]]:
        """Consecutive inputs by group, for fieldsets."""
        out: list[tuple[str, list[Input]]] = []
        for item in self.inputs:
            if out and out[-1][0] == item.group:
                out[-1][1].append(item)
            else:
                out.append((item.group, [item]))
        return out

    def input_named(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)


@dataclass
class Filled:
    """A form as the person submitted it, to show again with what they typed."""

    values: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    def add(self, form: ActionForm, path: str, message: str) -> None:
        target = match_input(form, path)
        if target is None:
            label = path or _("form")
            self.form_errors.append(f"{label}: {message}")
        else:
            self.errors.setdefault(target.name, []).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.form_errors


def values_of(form: ActionForm, submitted: Submitted) -> dict[str, list[str]]:
    return {i.name: [str(v) for v in submitted.getlist(i.name)] for i in form.inputs}


@dataclass
class _Leaf:
    value: Any
    blank: bool


ListMaps = dict[str, list[int]]


def parse(form: ActionForm, submitted: Submitted) -> tuple[dict[str, Any], ListMaps]:
    """The command's data from the submitted form (see the module docstring), and for
    each list built from numbered rows, the row numbers its items came from."""
    tree: dict[str, Any] = {}
    for item in form.inputs:
        raw = [str(v) for v in submitted.getlist(item.name)]
        value: Any
        if item.kind == "checkboxes":
            value = [v for v in raw if v]
            blank = not value
        elif item.kind == "lines":
            text = raw[0] if raw else ""
            value = [line.strip() for line in text.splitlines() if line.strip()]
            blank = not value
        else:
            value = raw[0].strip() if raw else ""
            blank = value == ""
        if blank and item.kind not in ("checkboxes", "lines"):
            if not item.optional and item.kind != "hidden":
                # A required input left blank: left out of the data, so the model says
                # "Field required" beside it (unless its whole group was left blank).
                node = tree
                for part in item.name.split(".")[:-1]:
                    node = node.setdefault(part, {})
                node.setdefault(_BLANKS, True)
            continue
        node = tree
        parts = item.name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _Leaf(value, blank or item.kind == "hidden")
    maps: ListMaps = {}
    data = _finish(tree, "", maps, root=True)
    assert isinstance(data, dict)
    return data, maps


def _finish(node: Any, path: str, maps: ListMaps, *, root: bool = False) -> Any:
    """Leaves to values; wholly blank groups dropped (None); numbered rows to lists."""
    if isinstance(node, _Leaf):
        return node.value
    children: dict[str, Any] = {}
    for key, child in node.items():
        if key == _BLANKS:
            continue
        done = _finish(child, f"{path}.{key}" if path else key, maps)
        if done is not _DROPPED:
            children[key] = done
    if not root and _all_blank(node):
        return _DROPPED
    if children and all(k.isdigit() for k in children):
        order = sorted(children, key=int)
        maps[path] = [int(k) for k in order]
        return [children[k] for k in order]
    return children


def _all_blank(node: Any) -> bool:
    if isinstance(node, _Leaf):
        return node.blank
    return all(_all_blank(child) for key, child in node.items() if key != _BLANKS)


_DROPPED = object()
_BLANKS = "\x00blank"
"""Marks a group in which a required input was left blank (the group is not empty)."""


def error_path(loc: tuple[int | str, ...], maps: ListMaps) -> str:
    """A pydantic error location as the form's input path (row numbers as shown)."""
    parts: list[str] = []
    for part in loc:
        here = ".".join(parts)
        if isinstance(part, int) and here in maps and 0 <= part < len(maps[here]):
            parts.append(str(maps[here][part]))
        else:
            parts.append(str(part))
    return ".".join(parts)


def match_input(form: ActionForm, path: str) -> Input | None:
    """The input an error at `path` belongs beside: the input itself, the input it is
    inside of (a list's item), or the first input of the group it names."""
    best: Input | None = None
    for item in form.inputs:
        inside = path == item.name or path.startswith(item.name + ".")
        if inside and (best is None or len(item.name) > len(best.name)):
            best = item
    if best is not None:
        return best
    if path:
        return next((i for i in form.inputs if i.name.startswith(path + ".")), None)
    return None


def add_validation_errors(
    filled: Filled, form: ActionForm, exc: ValidationError, maps: ListMaps
) -> None:
    """The command model's errors beside their fields, in the current language
    (casework/i18n/validation.py; in English pydantic's own words)."""
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if p not in ("actor", "expected_version"))
        filled.add(form, error_path(loc, maps), validation.detail(error))


def add_rule_refusal(filled: Filled, form: ActionForm, message: str) -> None:
    """A refusal of the case's rules (`field: reason`) beside its field when the form
    has it, else above the form. The reason is looked up in the catalogs as it is (the
    rules' words, when they are an entry), else shown as the rules wrote it."""
    head, sep, rest = message.partition(":")
    if sep and " " not in head.strip():
        name = head.strip()
        for item in form.inputs:
            if item.name == name or item.name.endswith("." + name):
                filled.errors.setdefault(item.name, []).append(i18n.raw_gettext(rest.strip()))
                return
    filled.form_errors.append(i18n.raw_gettext(message))
