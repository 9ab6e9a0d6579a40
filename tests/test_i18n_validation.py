"""pydantic's validation messages in the language of the moment (casework/i18n/
validation.py): English is pydantic's own `msg`, byte for byte; Spanish comes from the
catalog by the error's type and context."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from casework import i18n
from casework.i18n import validation


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    short: Annotated[str, Field(max_length=3)] = "a"
    long: Annotated[str, Field(min_length=2)] = "ab"
    one: Annotated[str, Field(min_length=1)] = "a"
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    day: date = date(2026, 1, 1)
    moment: datetime = datetime(2026, 1, 1)
    colour: Colour = Colour.RED
    mode: Literal["a", "b"] = "a"
    items: Annotated[list[int], Field(min_length=1, max_length=2)] = [1]
    positive: Annotated[int, Field(gt=0)] = 1
    at_most: Annotated[int, Field(le=10)] = 1
    reason: str = "ok"

    @field_validator("reason")
    @classmethod
    def _no_owner(cls, value: str) -> str:
        if value == "worker":
            raise ValueError("owner.staff_id: an action owned by another worker names the worker")
        return value


BAD: list[dict[str, Any]] = [
    {},
    {"name": "x", "short": "abcd"},
    {"name": "x", "long": "a"},
    {"name": "x", "one": ""},
    {"name": "x", "count": "many"},
    {"name": "x", "count": 1.5},
    {"name": "x", "ratio": "lots"},
    {"name": "x", "flag": "perhaps"},
    {"name": "x", "day": "2026-13-01"},
    {"name": "x", "day": "soon"},
    {"name": "x", "moment": "later"},
    {"name": "x", "colour": "mauve"},
    {"name": "x", "mode": "c"},
    {"name": "x", "items": []},
    {"name": "x", "items": [1, 2, 3]},
    {"name": "x", "items": "nope"},
    {"name": "x", "positive": 0},
    {"name": "x", "at_most": 11},
    {"name": "x", "reason": "worker"},
    {"name": "x", "surprise": 1},
    {"name": 5},
]


def errors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for data in BAD:
        with pytest.raises(ValidationError) as caught:
            Sample.model_validate(data)
        out += [dict(e) for e in caught.value.errors()]
    return out


def test_english_is_pydantics_own_message() -> None:
    found = errors()
    assert len({e["type"] for e in found}) >= 15
    with i18n.speaking("en"):
        for error in found:
            assert validation.message(error) == error["msg"]
            # The table itself writes pydantic's words in English (the catalog's msgids).
            assert validation.render(error) == error["msg"], error["type"]


def test_spanish_by_type_and_context() -> None:
    found = {(e["type"], tuple(e["loc"])): e for e in errors()}
    with i18n.speaking("es"):
        missing = found[("missing", ("name",))]
        assert validation.message(missing) == "Campo obligatorio"
        too_long = found[("string_too_long", ("short",))]
        assert validation.message(too_long) == "El texto debe tener como máximo 3 caracteres"
        one = found[("string_too_short", ("one",))]
        assert validation.message(one) == "El texto debe tener al menos 1 carácter"
        assert validation.message(found[("int_parsing", ("count",))]).startswith(
            "Debe ser un número entero válido"
        )
        assert validation.message(found[("enum", ("colour",))]) == (
            "Debe ser uno de estos valores: 'red', 'green', 'blue'"
        )
        assert validation.message(found[("greater_than", ("positive",))]) == "Debe ser mayor que 0"
        assert validation.message(found[("too_long", ("items",))]) == (
            "Debe tener como máximo 2 elementos, no 3"
        )
        assert validation.message(found[("date_from_datetime_parsing", ("day",))]) == (
            "Debe ser una fecha o una fecha y hora válidas: es demasiado corto"
        )
        assert validation.message(found[("extra_forbidden", ("surprise",))]) == (
            "No se permiten campos adicionales"
        )
        reason = found[("value_error", ("reason",))]
        assert validation.message(reason) == (
            "Valor no válido: owner.staff_id: una acción a cargo de otro profesional "
            "indica el profesional"
        )
        assert validation.detail(reason).startswith("owner.staff_id: una acción")
        for error in found.values():
            # Every common type has its Spanish: nothing left in pydantic's English.
            assert validation.message(error) != error["msg"], error["type"]


def test_detail_drops_the_value_error_prefix_in_english() -> None:
    reason = next(e for e in errors() if e["type"] == "value_error")
    with i18n.speaking("en"):
        assert validation.detail(reason) == (
            "owner.staff_id: an action owned by another worker names the worker"
        )
        missing = next(e for e in errors() if e["type"] == "missing")
        assert validation.detail(missing) == "Field required"


def test_an_unknown_type_keeps_pydantics_words() -> None:
    error = {"type": "recursion_loop", "msg": "Recursion error - cyclic reference detected"}
    with i18n.speaking("es"):
        assert validation.message(error) == error["msg"]
    broken = {"type": "greater_than", "msg": "Input should be greater than 1", "ctx": {}}
    with i18n.speaking("es"):
        assert validation.message(broken) == broken["msg"]
