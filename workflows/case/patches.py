"""Every `workflow.patched` id of the case workflow, and its record: why it exists, which
runs still need it, and when it can go.

How a case decides its patches (since PATCH_DECIDED_AT_START): ONE marker, recorded in
the run's first workflow task, says the run takes every newer path below; such a run
calls no other `workflow.patched`. A run started earlier (no such marker) decides each
patch as it always did, lazily, where the code first meets it (`CaseCore._patched`), so
its history replays.

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

A new patch: its `PATCH_<NAME>` constant here, its `PatchRecord` in PATCHES, and its
decision in `CaseWorkflow.__init__` (workflows/case/workflow.py) beside
PATCH_DECIDED_AT_START. tests/workflows/test_patches.py checks that every constant has
its record and every record its constant.
"""

from __future__ import annotations

from dataclasses import dataclass

PATCH_APPEND_ACTIVITY = "append-as-regular-activity"
"""Events are appended by a regular activity (cases started earlier used a local one)."""

PATCH_TIMED_RULES = "timed-reviews-and-escalation"
"""Cases started before reviews and escalation existed replay without their timers."""

PATCH_ONE_APPEND = "one-append-per-command"
"""A command's events and the reactions they set off go to the log in one append (cases
started earlier appended each group of reactions on its own, one activity each)."""

PATCH_LOCAL_APPEND = "local-append-log-is-truth"
"""A command's events are appended by a LOCAL activity in the workflow task that decided
them (`append_command`): one workflow task per command, no activity task. Event ids are
derived from the update id (or another stable key), and when the log is ahead of the
workflow (a worker lost after a commit, before its task completed) the workflow folds
what it missed and takes its first attempt's events, or decides again. Cases started
earlier append by a regular activity (PATCH_APPEND_ACTIVITY)."""

PATCH_SHED_HISTORY = "forgotten-client-sheds-history"
"""The `shed_history` Update: a case whose client was forgotten during its run continues as
new from its erased state, so the run holding the personal data can be deleted from
Temporal (application/forget.py). Only runs that receive the Update take the new path."""

PATCH_KEEP_TIMER = "keep-wakeup-timer-until-sooner"
"""The wakeup timer (reviews, escalations, follow-ups) is kept while the next wakeup is not
sooner than it: a command that moves the wakeup later no longer cancels and starts a timer
(two history events and two timer tasks a command); the kept timer, firing early, finds
nothing due and the next sleep starts one for the rest. Cases started earlier replay with
a timer per sleep."""

PATCH_DISPATCH_FOLDED = "dispatch-referrals-folded-from-the-log"
"""A referral the workflow folded from the log (a worker lost after appending it, its
`Refer` never sent again, so the channel in the command never seen) is dispatched to the
provider's channel as the resource directory has it then, or recorded as failed when
the provider has none. Before, it stayed `made` and was never sent."""

PATCH_REMINDERS_DELIVERED = "action-reminders-delivered"
"""An `ActionReminderDue` is delivered to the action's worker (their inbox, and their
webhook when they have one), as escalations are. Before, the reminder was only in the
log and the read models."""

PATCH_NEWEST_POLICY_STAYS = "an-older-policy-never-replaces-a-newer"
"""An `apply_policy` whose version is older than the case's policy is refused (an apply
overtaken by a newer one, both in flight): the newer policy stays. The validator refuses
it before it is accepted; this covers the two updates being accepted together."""

PATCH_SHORTER_RUNS = "continue-as-new-after-1000-events"
"""A run continues as new after CONTINUE_AS_NEW_AFTER (1,000) history events instead of
LEGACY_CONTINUE_AS_NEW_AFTER (4,000): a worker that lost the case from its cache replays at
most a quarter as much (a 4,000-event replay took 8-15 s on a loaded machine). Runs
started earlier keep their limit; the runs they continue as new take the new one."""

PATCH_DECIDED_AT_START = "every-patch-decided-at-run-start"
"""Every patch above is decided ONCE, in the run's first workflow task: a run started since
records this one marker and takes every newer path, calling no other `workflow.patched`.

Why: `workflow.patched` answers True on a replay only when its marker is in the workflow
task being replayed. Called after a local activity (a reminder folded into `_apply`, a
referral folded from the log, a handler that waited for the lock an append held), the
call's workflow task is not fixed: when the activity's result reached the workflow in the
task AFTER the one that recorded its marker (a timer- or signal-driven append does), the
original run recorded the patch marker one task later than a replay, which resolves the
result at once, calls it. The replay then answered False, and the marker it met next
failed it: "[TMPRL1100] Non-deprecated patch marker encountered for change
action-reminders-delivered" on every query of a case no longer cached, and a case stuck
for good after a worker restart (PATCHES below has the record)."""


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
