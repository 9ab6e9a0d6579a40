"""Personal data in the vocabulary: which fields hold it, and what they read as once erased.

A field is personal when its annotation carries `events.fields.PersonalField`
(`PersonalText`, `PersonalShortText`, or `Annotated[T, PersonalField()]`). The walk
finds such fields at any depth: in nested models, in list items and in dict values.

A personal path is a tuple of steps: field names, and `EACH` for every item of a
list or every value of a dict. `("goals", EACH, "client_words")` is the client's
own words of every goal of a plan.

Erasure never breaks a model: each personal field has an *erased value* that still
validates — text reads `"[erased]"`, an optional field `None`, a dict `{}`, a list
`[]`, a nested model the model with its personal parts erased (its other fields at
their defaults). A personal field whose type has none of these (a required date,
say) is refused when its model is walked, so the gap is found by the tests, not in
production.

This module is pure: no keys, no I/O. events/crypto.py seals and opens the fields it
names; the case workflow applies `erase_personal` to its state on ClientForgotten.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from events.fields import PersonalField

EACH = "*"
"""A path step standing for every item of a list or every value of a dict."""

ERASED_TEXT = "[erased]"
"""What a personal text reads as once its client has been forgotten."""

Step = str | int
"""A step of a concrete path in event data: a field name or dict key, or a list index."""

M = TypeVar("M", bound=BaseModel)

_LISTS = (list, tuple, set, frozenset, Sequence)
_DICTS = (dict, Mapping)


@dataclass(frozen=True)
class PersonalPath:
    """Where a personal field sits in a model's data, and its value once erased."""

    steps: tuple[str, ...]
    erased: Any
    """The JSON value the field reads as after erasure (it validates as the field)."""

    @property
    def dotted(self) -> str:
        return ".".join(self.steps)

    def matches(self, concrete: Sequence[Step]) -> bool:
        """Whether a concrete path (with list indexes and dict keys) is this path."""
        return len(concrete) == len(self.steps) and all(
            step == EACH or step == str(part)
            for step, part in zip(self.steps, concrete, strict=True)
        )


def is_personal(field: FieldInfo) -> bool:
    """Whether a model field is marked as personal data."""
    return any(isinstance(m, PersonalField) for m in field.metadata)


@lru_cache(maxsize=512)
def personal_paths(model: type[BaseModel]) -> tuple[PersonalPath, ...]:
    """Every personal field of `model`, at any depth, in declaration order.

    Raises TypeError if a personal field's type has no value that reads as erased.
    """
    found: dict[tuple[str, ...], PersonalPath] = {}
    for path in _walk_model(model, (), frozenset()):
        found.setdefault(path.steps, path)
    return tuple(found.values())


def has_personal_fields(model: type[BaseModel]) -> bool:
    return bool(personal_paths(model))


def _walk_model(
    model: type[BaseModel], prefix: tuple[str, ...], seen: frozenset[type[BaseModel]]
) -> Iterator[PersonalPath]:
    if model in seen:
        return
    seen = seen | {model}
    for name, field in model.model_fields.items():
        steps = (*prefix, name)
        if is_personal(field):
            yield PersonalPath(steps, erased_value(field.annotation, f"{model.__name__}.{name}"))
        else:
            yield from _walk_type(field.annotation, steps, seen)


def _walk_type(
    tp: Any, prefix: tuple[str, ...], seen: frozenset[type[BaseModel]]
) -> Iterator[PersonalPath]:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Annotated:
        inner, *metadata = args
        if any(isinstance(m, PersonalField) for m in metadata):
            yield PersonalPath(prefix, erased_value(inner, ".".join(prefix)))
        else:
            yield from _walk_type(inner, prefix, seen)
    elif origin is Union or origin is types.UnionType:
        for arm in args:
            yield from _walk_type(arm, prefix, seen)
    elif origin in _DICTS:
        if len(args) == 2:
            yield from _walk_type(args[1], (*prefix, EACH), seen)
    elif origin in _LISTS:
        for arg in args:
            if arg is not Ellipsis:
                yield from _walk_type(arg, (*prefix, EACH), seen)
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield from _walk_model(tp, prefix, seen)


def erased_value(tp: Any, where: str = "field") -> Any:
    """The JSON value a personal field of type `tp` reads as once erased."""
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Annotated:
        return erased_value(args[0], where)
    if origin is Union or origin is types.UnionType:
        if type(None) in args:
            return None
        return erased_value(args[0], where)
    if tp is str:
        return ERASED_TEXT
    if tp in _DICTS or origin in _DICTS:
        return {}
    if tp in _LISTS or origin in _LISTS:
        return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {
            name: erased_value(field.annotation, f"{where}.{name}")
            for name, field in tp.model_fields.items()
            if field.is_required()
        }
    raise TypeError(
        f"personal field {where} of type {tp!r} has no erased value: "
        "make it text, optional, a dict, a list or a model"
    )


def erased_at(model: type[BaseModel], concrete: Sequence[Step]) -> Any:
    """The erased value of the personal field at a concrete path (ERASED_TEXT if none)."""
    for path in personal_paths(model):
        if path.matches(concrete):
            return path.erased
    return ERASED_TEXT


# --- event data (JSON) -------------------------------------------------------------------


def clone(value: Any) -> Any:
    """A copy of a JSON value whose dicts and lists may be changed freely."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def map_personal(
    model: type[BaseModel],
    data: Mapping[str, Any],
    replace: Callable[[tuple[Step, ...], Any], Any],
) -> dict[str, Any]:
    """A copy of `data` (a model's JSON) with each personal value v at path p as replace(p, v).

    Fields absent from `data` are left absent; `data` itself is not changed.
    """
    result: dict[str, Any] = clone(dict(data))
    for path in personal_paths(model):
        _replace_at(result, path.steps, (), replace)
    return result


def _replace_at(
    node: Any,
    steps: tuple[str, ...],
    where: tuple[Step, ...],
    replace: Callable[[tuple[Step, ...], Any], Any],
) -> None:
    step, rest = steps[0], steps[1:]
    keys: Sequence[Step]
    if step == EACH:
        if isinstance(node, dict):
            keys = list(node)
        elif isinstance(node, list):
            keys = range(len(node))
        else:
            return
    elif isinstance(node, dict) and step in node:
        keys = [step]
    else:
        return
    for key in keys:
        here = (*where, key)
        if rest:
            _replace_at(node[key], rest, here, replace)
        else:
            node[key] = replace(here, node[key])


def erase_personal_data(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a model's JSON with every personal field at its erased value."""

    def erase(where: tuple[Step, ...], _value: Any) -> Any:
        return clone(erased_at(model, where))

    return map_personal(model, data, erase)


def recorded_personal_fields(model: type[BaseModel], data: Mapping[str, Any]) -> list[str]:
    """The dotted paths (with list indexes) of the personal fields of a model's JSON that
    record something: a value neither empty (None, "", [], {}) nor the field's erased value.

    What a command or an event would put on record about the client; the rules refuse
    it on a forgotten client's case.
    """
    found: list[str] = []

    def note(where: tuple[Step, ...], value: Any) -> Any:
        if value not in (None, "", [], {}) and value != erased_at(model, where):
            found.append(".".join(str(step) for step in where))
        return value

    map_personal(model, data, note)
    return found


# --- models (objects) --------------------------------------------------------------------


def erase_personal(instance: M) -> M:
    """A copy of `instance` with every personal field erased, at any depth.

    Works on events, their parts and any model that nests them (a case's state):
    the copy still validates as its type. `instance` is not changed.
    """
    updates: dict[str, Any] = {}
    for name, field in type(instance).model_fields.items():
        value = getattr(instance, name)
        if is_personal(field):
            updates[name] = _erased_object(field.annotation, f"{type(instance).__name__}.{name}")
            continue
        new = _erase_object(value, field.annotation)
        if new is not value:
            updates[name] = new
    return instance.model_copy(update=updates) if updates else instance


def _erased_object(tp: Any, where: str) -> Any:
    return TypeAdapter(tp).validate_python(erased_value(tp, where))


def _erase_object(value: Any, tp: Any) -> Any:
    """`value` (declared as `tp`) with its personal parts erased; itself if it has none."""
    while get_origin(tp) is Annotated:
        inner, *metadata = get_args(tp)
        if any(isinstance(m, PersonalField) for m in metadata):
            return _erased_object(tp, repr(tp))
        tp = inner
    if isinstance(value, BaseModel):
        return erase_personal(value)
    if isinstance(value, (list, tuple)):
        item = _container_arg(tp, _LISTS, 0)
        items = [_erase_object(v, item) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        item = _container_arg(tp, _DICTS, 1)
        entries = {k: _erase_object(v, item) for k, v in value.items()}
        if all(entries[k] is v for k, v in value.items()):
            return value
        return entries
    return value


def _container_arg(tp: Any, kinds: tuple[Any, ...], index: int) -> Any:
    """The item (or value) type of the container arm of `tp`; Any when undeclared."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _container_arg(get_args(tp)[0], kinds, index)
    if origin is Union or origin is types.UnionType:
        for arm in get_args(tp):
            arg = _container_arg(arm, kinds, index)
            if arg is not Any:
                return arg
        return Any
    args = get_args(tp)
    if origin in kinds and len(args) > index:
        return args[index]
    return Any
