"""CaseWorkflow: the process manager of one client's case, workflow id `case-<case_id>`.

Commands arrive as Updates, one per command type, each a thin alias of ONE generic
handler and ONE generic validator that dispatch through the command table
(cases/command_table.py), made from the table (`updates.py`). The validator runs the pure
rule (cases/decide.py) on the current state and rejects before anything enters history;
the handler decides again under the case lock and appends the command's events, together
with everything they set off at once (a review rescheduled, escalations resolved:
cases/batch.py), in ONE append — ids derived from the update's id — then folds them into
the state (`commit.py`). Referrals are dispatched in the background with retries, and
escalations and reminders delivered (`effects.py`). A closed case completes; reopening
starts a new run from the state folded from the log. History stays bounded by
continue-as-new, carrying the state and any dispatch still to do (`workflow.py`).

Cases started before a change keep replaying through `workflow.patched`: every patch id,
why it exists and when it can go is in `patches.py`.

The package's modules:

* `workflow.py` — the CaseWorkflow class: its run loop, Query, Signal and own Updates;
* `updates.py` — the command Updates, generated from the table, and their handler;
* `commit.py` — the commit, append and catch-up protocol;
* `effects.py` — referral dispatch, escalation notifications, action reminders;
* `patches.py` — the patch ids and their record;
* `core.py` — the input and answers, and the state all of them share.

Deterministic: no I/O, no wall clock, no randomness in any of them. The names below are
those the rest of the project imports from `workflows.case`.
"""

from workflows.case.core import CaseInput, CommandResult, DispatchJob, ShedReply
from workflows.case.updates import command_update
from workflows.case.workflow import (
    CONTINUE_AS_NEW_AFTER,
    LEGACY_CONTINUE_AS_NEW_AFTER,
    CaseWorkflow,
)

__all__ = [
    "CONTINUE_AS_NEW_AFTER",
    "LEGACY_CONTINUE_AS_NEW_AFTER",
    "CaseInput",
    "CaseWorkflow",
    "CommandResult",
    "DispatchJob",
    "ShedReply",
    "command_update",
]
