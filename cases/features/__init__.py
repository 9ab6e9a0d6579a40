"""The features of a case, each a slice in one module (built with cases/feature.py).

A new feature is one module here and one line in `FEATURES`; cases/command_table.py
takes its commands (at the end of the table, unless the table places them itself, as it
does for advocacy and feedback, which were there before they were slices), cases/evolve.py
its folds, projections/timeline.py its lines, workflows/case/effects.py its notices to
providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from cases.feature import Describe, Feature, Fold
from cases.features import (
    advocacy,
    client_language,
    documents,
    feedback,
    intake_review,
    referral_withdrawal,
)
from events.registry import DomainEvent

V = TypeVar("V")

FEATURES: tuple[Feature, ...] = (
    advocacy.FEATURE,
    feedback.FEATURE,
    referral_withdrawal.FEATURE,
    documents.FEATURE,
    intake_review.FEATURE,
    client_language.FEATURE,
)


def _merged(
    part: str, of: Mapping[str, Mapping[type[DomainEvent], V]]
) -> dict[type[DomainEvent], V]:
    merged: dict[type[DomainEvent], V] = {}
    for name, mapping in of.items():
        for model, value in mapping.items():
            if model in merged:
                raise ValueError(f"{model.__name__} has two {part} (feature {name})")
            merged[model] = value
    return merged


FOLDS: Mapping[type[DomainEvent], Fold] = _merged("folds", {f.name: f.folds for f in FEATURES})
"""How each feature's events change a case's state."""

TIMELINE: Mapping[type[DomainEvent], Describe] = _merged(
    "timeline lines", {f.name: f.timeline for f in FEATURES}
)
"""The audit trail's line of each feature's events."""

PROVIDER_NOTICES: Mapping[type[DomainEvent], str] = _merged(
    "provider notices", {f.name: f.provider_notices for f in FEATURES}
)
"""The events a referral's provider is told of, with the notice's type."""
