"""The choices of the command line's options.

Typer builds every command of `casework` (their options included) before it runs the one
asked for, and an option typed with an enum needs that enum then. The vocabulary's enums
come from events/choices.py, which holds no model (importing the vocabulary's models costs
more than the rest of a staff command). `Dependency` and `PG_BIN_OPTION` are copies of the
server side's (application/readiness.py, application/backup.py), whose modules import the
database drivers; tests/test_cli_imports.py keeps each copy equal to its original.
"""

from __future__ import annotations

from enum import StrEnum

from events.choices import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ApprovalKind,
    CircleRole,
    CircleShare,
    ClosureReason,
    ConsentGiver,
    ContactKind,
    DocumentKind,
    Domain,
    FeedbackSubject,
    GoalStatus,
    ProviderCategory,
    ReferralSource,
    SharedField,
    StaffRole,
)


class Dependency(StrEnum):
    """application.readiness.Dependency"""

    POSTGRESQL = "postgresql"
    TEMPORAL = "temporal"


PG_BIN_OPTION = "--pg-bin"
"""application.backup.PG_BIN_OPTION: the option `casework backup|restore` names in their
problems."""

__all__ = [
    "PG_BIN_OPTION",
    "AdvocacyAction",
    "AdvocacyBarrier",
    "AdvocacyOutcome",
    "ApprovalKind",
    "CircleRole",
    "CircleShare",
    "ClosureReason",
    "ConsentGiver",
    "ContactKind",
    "Dependency",
    "DocumentKind",
    "Domain",
    "FeedbackSubject",
    "GoalStatus",
    "ProviderCategory",
    "ReferralSource",
    "SharedField",
    "StaffRole",
]
