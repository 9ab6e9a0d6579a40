"""Field types shared by the vocabulary: bounded, stripped text and identifiers.

Limits are part of the contract (docs/limits in README): oversize or control
characters are refused with the field named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class PersonalField:
    """Marks a field as personal data: `Annotated[T, PersonalField()]`.

    The event store keeps it encrypted with the client's data key and reads it as an
    erasure marker once the client is forgotten (see events/personal.py).
    """


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    return value


Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"),
]
"""A staff, team, provider, service, goal or referral id: letters, digits and . _ @ -."""

ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]
"""A name, label or one-line reason (1–200 characters)."""

LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10_000),
    AfterValidator(_no_control_characters),
]
"""Free-text notes (up to 10,000 characters; newlines and tabs allowed)."""

ShortList = Annotated[list[ShortText], Field(max_length=50)]

PersonalShortText = Annotated[ShortText, PersonalField()]
"""A one-line text that is personal data (a name, the client's own words)."""

PersonalText = Annotated[LongText, PersonalField()]
"""Free-text notes that are personal data (every note about a client is)."""
