"""Every case event type of the vocabulary has been decided on by every projection."""

from __future__ import annotations

from projections.base import CASE_EVENT_TYPES, REVIEWED_CASE_EVENT_TYPES
from projections.catalog import all_projections


def test_every_vocabulary_event_is_handled_or_ignored_by_every_projection() -> None:
    new = sorted(CASE_EVENT_TYPES - REVIEWED_CASE_EVENT_TYPES)
    assert not new, (
        f"new case event types {new}: decide in each projection whether it handles or "
        "ignores them, then add them to projections.base.REVIEWED_CASE_EVENT_TYPES "
        "(until then a running projector stops at the first one)"
    )
    for projection in all_projections():
        undecided = sorted(CASE_EVENT_TYPES - projection.handled - projection.ignores)
        assert not undecided, f"{projection.name} neither handles nor ignores {undecided}"
