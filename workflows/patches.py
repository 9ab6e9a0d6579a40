"""The record of every `workflow.patched` id in workflows/case.py: why it exists, which
runs still need it, and when it can go.

How a case decides its patches (since PATCH_DECIDED_AT_START): ONE marker, recorded in
the run's first workflow task, says the run takes every newer path below; such a run
calls no other `workflow.patched`. A run started earlier (no such marker) decides each
patch as it always did, lazily, where the code first meets it, so its history replays.

Retiring a patch follows Temporal's steps: (1) `patched` while runs without the marker
may still be running; (2) `deprecate_patch` once none can be; (3) remove the call once no
run recorded with it can be replayed either. For the legacy ids below, step 2 is done
for every run started since PATCH_DECIDED_AT_START, which records none of them: the
legacy paths are only there for runs started before it. They can be removed together
(step 3) once no such run is open: every run of a case continues as new after at most
1,000 history events (4,000 for runs older still) and takes the new path then, and a
closed case's runs are never replayed again (queries of a closed case read the log).
Until then, and while tests/workflows/histories holds histories recorded before it,
they stay.

Nothing here is imported by the workflow: it is the record, checked by
tests/workflows/test_patches.py against the constants in workflows/case.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatchRecord:
    patch_id: str
    constant: str
    why: str
    needed_by: str
    retire_when: str


LEGACY_RUNS = "runs started before PATCH_DECIDED_AT_START (recorded histories v1-v8)"
RETIRE_WITH_LEGACY = (
    "with the other legacy ids, once no run started before PATCH_DECIDED_AT_START is open "
    "and the histories recorded before it are retired"
)

PATCHES: tuple[PatchRecord, ...] = (
    PatchRecord(
        "append-as-regular-activity",
        "PATCH_APPEND_ACTIVITY",
        "events appended by a regular activity instead of a local one",
        LEGACY_RUNS + "; v1 histories take the old local path",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "timed-reviews-and-escalation",
        "PATCH_TIMED_RULES",
        "reviews, escalations and follow-ups armed by timers",
        LEGACY_RUNS + "; v1 histories run without timers",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "one-append-per-command",
        "PATCH_ONE_APPEND",
        "a command's events and their reactions in one append",
        LEGACY_RUNS + "; v1-v3 histories append each group alone",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "local-append-log-is-truth",
        "PATCH_LOCAL_APPEND",
        "append by a local activity, catching up with the log when it is ahead",
        LEGACY_RUNS + "; v2-v4 histories append by the regular activity",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "forgotten-client-sheds-history",
        "PATCH_SHED_HISTORY",
        "`shed_history` continues a forgotten client's case as new",
        LEGACY_RUNS + " that receive the Update",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "keep-wakeup-timer-until-sooner",
        "PATCH_KEEP_TIMER",
        "the wakeup timer is kept while the next wakeup is not sooner",
        LEGACY_RUNS + "; v5 and older histories start a timer per sleep",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "dispatch-referrals-folded-from-the-log",
        "PATCH_DISPATCH_FOLDED",
        "a referral folded from the log is dispatched (before, it stayed `made`)",
        LEGACY_RUNS,
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "action-reminders-delivered",
        "PATCH_REMINDERS_DELIVERED",
        "an ActionReminderDue is delivered to the action's worker",
        LEGACY_RUNS + ". Its lazy call after a local activity is the nondeterminism of "
        "issue 27: a run started before the fix whose reminder's append resolved a workflow "
        "task late still fails to replay; this change does not repair such runs",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "an-older-policy-never-replaces-a-newer",
        "PATCH_NEWEST_POLICY_STAYS",
        "an `apply_policy` older than the case's policy, accepted together with a newer "
        "one, is refused",
        LEGACY_RUNS,
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "continue-as-new-after-1000-events",
        "PATCH_SHORTER_RUNS",
        "runs continue as new after 1,000 history events instead of 4,000",
        LEGACY_RUNS + "; v7 long histories keep 4,000",
        RETIRE_WITH_LEGACY,
    ),
    PatchRecord(
        "every-patch-decided-at-run-start",
        "PATCH_DECIDED_AT_START",
        "every patch above decided once, in the run's first workflow task (a `patched` "
        "call after a local activity could land in another workflow task on replay)",
        "every run started since",
        "deprecated (step 2) once no run started before it is open, removed with the "
        "legacy ids; a later patch is decided in `__init__` beside it, never lazily",
    ),
)
