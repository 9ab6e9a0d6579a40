"""The registry of event types: validation of new events and upcasting of old ones.

Each event type is a pydantic model with a `type` literal (the discriminator) and a
`schema_version` class variable. Stored `data` is the model without `type`. When a
model changes shape its `schema_version` goes up and an upcaster turns the old
shape into the new one, so events written years ago stay readable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DomainEvent(BaseModel):
    """Base of every event in the vocabulary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: ClassVar[int] = 1
    type: str

    def to_data(self) -> dict[str, Any]:
        """The JSON-ready body stored in the log's `data` column."""
        return self.model_dump(mode="json", exclude={"type"})


class EventValidationError(ValueError):
    """An event's data does not fit its type; the message names each bad field."""

    def __init__(self, event_type: str, problems: list[str]) -> None:
        self.event_type = event_type
        self.problems = problems
        super().__init__(f"invalid {event_type} event: " + "; ".join(problems))

    @classmethod
    def from_pydantic(cls, event_type: str, exc: ValidationError) -> EventValidationError:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(event)"
            problems.append(f"{where}: {err['msg']}")
        return cls(event_type, problems)


class UnknownEventType(LookupError):
    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(f"unknown event type {event_type!r}")


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[DomainEvent]) -> type[DomainEvent]:
        name = event_type_of(model)
        self._models[name] = model
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning `from_version` data into `from_version + 1` data."""

        def decorator(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorator

    def model(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._models

    @property
    def types(self) -> list[str]:
        return sorted(self._models)

    def validate_new(self, event_type: str, schema_version: int, data: dict[str, Any]) -> None:
        """Raise EventValidationError unless `data` is a valid current-version event."""
        model = self.model(event_type)
        if schema_version != model.schema_version:
            raise EventValidationError(
                event_type,
                [f"schema_version: {schema_version} is not the current {model.schema_version}"],
            )
        try:
            model.model_validate({**data, "type": event_type})
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(event_type, exc) from None

    def upcast(self, event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring stored data up to the model's current schema version."""
        model = self.model(event_type)
        version = schema_version
        while version < model.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise EventValidationError(
                    event_type, [f"schema_version: no upcaster from version {version}"]
                )
            data = step(dict(data))
            version += 1
        return data

    def decode(self, event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
        upcast = self.upcast(event_type, schema_version, data)
        try:
            return self.model(event_type).model_validate({**upcast, "type": event_type})
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(event_type, exc) from None


def event_type_of(model: type[DomainEvent]) -> str:
    """The literal value of the model's `type` field."""
    field = model.model_fields["type"]
    if field.default is None or not isinstance(field.default, str):
        raise TypeError(f"{model.__name__} needs a `type` literal with a default")
    return field.default
