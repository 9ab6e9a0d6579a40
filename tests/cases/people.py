"""Staff used across the case tests (as the directory would resolve them)."""

from __future__ import annotations

from cases.actors import Actor, Role

ALICE = Actor(staff_id="alice", role=Role.CASEWORKER, team="north")
BOB = Actor(staff_id="bob", role=Role.CASEWORKER, team="north")
CAROL = Actor(staff_id="carol", role=Role.SUPERVISOR, team="north")
DAN = Actor(staff_id="dan", role=Role.SUPERVISOR, team="north")
ERIN = Actor(staff_id="erin", role=Role.CASEWORKER, team="south")
SAM = Actor(staff_id="sam", role=Role.SUPERVISOR, team="south")
MAX = Actor(staff_id="max", role=Role.MANAGER)
AUDREY = Actor(staff_id="audrey", role=Role.AUDITOR)
