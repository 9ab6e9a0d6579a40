"""The whole vocabulary in one registry: the case events and the directories' events."""

from __future__ import annotations

from events.directory_events import DIRECTORY_EVENT_MODELS
from events.registry import EventRegistry
from events.vocabulary import CASE_EVENT_MODELS, upcast_plan_drafted_v1


def default_registry() -> EventRegistry:
    """A registry holding the whole vocabulary (callers may add their own types)."""
    registry = EventRegistry()
    for model in (*CASE_EVENT_MODELS, *DIRECTORY_EVENT_MODELS):
        registry.register(model)
    # Old shapes of events still in the log (stored events are never rewritten).
    registry.upcaster("PlanDrafted", from_version=1)(upcast_plan_drafted_v1)
    return registry
