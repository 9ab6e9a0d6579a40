"""The staff directory fold and its decisions, without any server."""

from __future__ import annotations

import pytest

from cases.actors import Actor, Role
from directory import (
    KEEP,
    NotFound,
    NotPermitted,
    Refused,
    StaffDirectory,
    decide_add_staff,
    decide_add_team,
    decide_bootstrap_admin,
    decide_change_staff,
    decide_deactivate_staff,
)
from events.directory_events import StaffMemberChanged, StaffMemberDeactivated, StaffRole
from events.registry import EventValidationError
from tests.directory.factories import ADMIN, SUPERVISOR, staff_directory


def test_fold_gives_actors_and_lookups() -> None:
    directory = staff_directory()
    assert directory.version == 5
    assert directory.actor("cal") == Actor(staff_id="cal", role=Role.CASEWORKER, team="north")
    assert directory.actor("ada") == Actor(staff_id="ada", role=Role.ADMIN)
    assert [m.staff_id for m in directory.supervisors_of("north")] == ["sam"]
    assert [m.staff_id for m in directory.members_of("north")] == ["sam", "cal"]
    assert [m.staff_id for m in directory.managers()] == ["mia"]
    assert directory.supervisors_of("south") == ()
    assert directory.member("sam").webhook_url == "http://127.0.0.1:9/sam"


def test_fold_is_immutable_and_incremental() -> None:
    directory = staff_directory()
    later = directory.fold([StaffMemberDeactivated(staff_id="cal", reason="left")])
    assert directory.actor("cal").staff_id == "cal"
    assert later.version == directory.version + 1
    assert directory.fold([]) is directory


def test_unknown_and_deactivated_actors_are_refused_by_id() -> None:
    directory = staff_directory().fold([StaffMemberDeactivated(staff_id="cal", reason="left")])
    with pytest.raises(LookupError, match="'nobody'"):
        directory.actor("nobody")
    with pytest.raises(NotFound, match="'cal' is deactivated \\(left\\)"):
        directory.actor("cal")
    assert [m.staff_id for m in directory.members_of("north")] == ["sam"]
    assert not directory.member("cal").active


def test_bootstrap_only_while_empty() -> None:
    event = decide_bootstrap_admin(StaffDirectory(), "ada", "Ada Admin")
    assert event.role is StaffRole.ADMIN and event.staff_id == "ada"
    with pytest.raises(Refused, match="only allowed while the staff directory is empty"):
        decide_bootstrap_admin(staff_directory(), "eve", "Eve")


def test_only_admins_change_the_directory() -> None:
    directory = staff_directory()
    with pytest.raises(NotPermitted, match="sam \\(supervisor\\) may not add staff"):
        decide_add_staff(directory, SUPERVISOR, "new", "New", "caseworker", "north")
    with pytest.raises(NotPermitted):
        decide_add_team(directory, SUPERVISOR, "south", "South")
    with pytest.raises(NotPermitted):
        decide_deactivate_staff(directory, Actor(staff_id="x", role=Role.SYSTEM), "cal", "r")


def test_add_staff_rules() -> None:
    directory = staff_directory()
    event = decide_add_staff(directory, ADMIN, "cam", "Cam", StaffRole.CASEWORKER, "north")
    assert event.team == "north"
    with pytest.raises(Refused, match="team: no team 'south'"):
        decide_add_staff(directory, ADMIN, "cam", "Cam", "caseworker", "south")
    with pytest.raises(EventValidationError, match="team: Value error, required for a supervisor"):
        decide_add_staff(directory, ADMIN, "cam", "Cam", "supervisor")
    with pytest.raises(Refused, match="staff_id: 'cal' is already"):
        decide_add_staff(directory, ADMIN, "cal", "Cal again", "caseworker", "north")
    with pytest.raises(Refused, match="role: 'wizard' is not a staff role"):
        decide_add_staff(directory, ADMIN, "cam", "Cam", "wizard")
    with pytest.raises(EventValidationError, match="webhook_url:"):
        decide_add_staff(directory, ADMIN, "cam", "Cam", "auditor", webhook_url="ftp://x")


def test_deactivated_ids_are_never_reused() -> None:
    directory = staff_directory().fold([StaffMemberDeactivated(staff_id="cal", reason="left")])
    with pytest.raises(Refused, match="deactivated; ids are never reused"):
        decide_add_staff(directory, ADMIN, "cal", "Cal", "caseworker", "north")


def test_duplicate_team_refused() -> None:
    with pytest.raises(Refused, match="team_id: 'north' is already"):
        decide_add_team(staff_directory(), ADMIN, "north", "North again")


def test_change_staff_keeps_what_is_not_named() -> None:
    directory = staff_directory()
    event = decide_change_staff(
        directory,
        ADMIN,
        "cal",
        display_name=KEEP,
        role="supervisor",
        webhook_url="https://hooks.example/cal",
        reason="promoted",
    )
    assert event == StaffMemberChanged(
        staff_id="cal",
        display_name="Cal Caseworker",
        role=StaffRole.SUPERVISOR,
        team="north",
        webhook_url="https://hooks.example/cal",
        reason="promoted",
    )
    changed = directory.fold([event])
    assert [m.staff_id for m in changed.supervisors_of("north")] == ["sam", "cal"]


def test_change_staff_refusals() -> None:
    directory = staff_directory()
    with pytest.raises(Refused, match="nothing to change"):
        decide_change_staff(directory, ADMIN, "cal", display_name="Cal Caseworker")
    with pytest.raises(EventValidationError, match="team: Value error, required for a caseworker"):
        decide_change_staff(directory, ADMIN, "cal", team=None)
    with pytest.raises(Refused, match="team: no team 'south'"):
        decide_change_staff(directory, ADMIN, "cal", team="south")
    with pytest.raises(NotFound, match="'ghost'"):
        decide_change_staff(directory, ADMIN, "ghost", display_name="G")
    with pytest.raises(Refused, match="last active admin"):
        decide_change_staff(directory, ADMIN, "ada", role="manager")


def test_manager_may_leave_their_team() -> None:
    directory = staff_directory()
    event = decide_change_staff(directory, ADMIN, "mia", team="north")
    moved = directory.fold([event])
    assert moved.actor("mia").team == "north"
    event = decide_change_staff(moved, ADMIN, "mia", team=None)
    assert moved.fold([event]).actor("mia").team is None


def test_deactivate_rules() -> None:
    directory = staff_directory()
    event = decide_deactivate_staff(directory, ADMIN, "cal", "moved away")
    gone = directory.fold([event])
    with pytest.raises(NotFound, match="'cal' is deactivated"):
        decide_deactivate_staff(gone, ADMIN, "cal", "again")
    with pytest.raises(Refused, match="ada is the last active admin"):
        decide_deactivate_staff(directory, ADMIN, "ada", "leaving")
    with pytest.raises(EventValidationError, match="reason:"):
        decide_deactivate_staff(directory, ADMIN, "cal", "   ")
