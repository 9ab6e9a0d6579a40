"""Every patch id of the case workflow has its record (workflows/case/patches.py), and a run
started today records exactly one patch marker, in its first workflow task."""

from __future__ import annotations

import re
from pathlib import Path

import workflows.case as case
from application.case_client import CaseClient
from events.store import EventStore
from tests.workflows.scenarios import approved_plan
from workflows.case import patches
from workflows.case.patches import PATCHES

MODULES = sorted(Path(case.__file__).parent.glob("*.py"))
"""Every module of the workflow (workflows/case/)."""


def test_every_patch_constant_has_a_record_and_every_record_a_constant() -> None:
    constants = {
        name: value
        for name, value in vars(patches).items()
        if name.startswith("PATCH_") and isinstance(value, str)
    }
    assert {r.constant: r.patch_id for r in PATCHES} == constants
    for path in MODULES:  # a patch id defined elsewhere would have no record
        if path.name != "patches.py":
            assert not re.search(r"^PATCH_\w+ = ", path.read_text(encoding="utf-8"), re.M)
    for record in PATCHES:
        assert record.why and record.needed_by and record.retire_when


def test_workflow_patched_is_called_in_one_place_only() -> None:
    """Only the run's first workflow task decides (`__init__`); every other decision goes
    through `_patched`, which asks Temporal only on runs started before that marker."""
    calls = {
        path.name: re.findall(r"workflow\.patched\((\w+)\)", path.read_text(encoding="utf-8"))
        for path in MODULES
    }
    assert {name: found for name, found in calls.items() if found} == {
        "workflow.py": ["PATCH_DECIDED_AT_START"],
        "core.py": ["patch_id"],
    }


async def test_a_case_opened_today_records_one_patch_marker_in_its_first_task(
    case_worker: tuple[CaseClient, EventStore],
) -> None:
    cases, _ = case_worker
    case_id = await approved_plan(cases)
    history = await cases.handle(case_id).fetch_history()
    markers = [
        (e.event_id, e.marker_recorded_event_attributes.details["patch-data"])
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert len(markers) == 1, markers
    first_task_done = next(
        e.event_id for e in history.events if e.HasField("workflow_task_completed_event_attributes")
    )
    event_id, details = markers[0]
    assert event_id > first_task_done
    assert patches.PATCH_DECIDED_AT_START.encode() in details.payloads[0].data
    # ... recorded with the commands of that first task: before the second one started.
    second_task = [
        e.event_id for e in history.events if e.HasField("workflow_task_started_event_attributes")
    ][1]
    assert event_id < second_task
