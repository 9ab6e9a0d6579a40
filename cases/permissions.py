"""Who may do what to a case: the write side of the authorisation policy.

The table and the checks live in cases/access.py (one policy module for commands and
queries); this module keeps the names cases/decide.py and the workflows import.

Separation of duties (nobody approves what they authored or requested) is checked by
the rules in cases/decide.py on top of the table.
"""

from __future__ import annotations

from cases.access import (
    COMMANDS,
    PERMISSIONS,
    Action,
    NotPermitted,
    Relation,
    check,
    check_case,
)

__all__ = ["COMMANDS", "PERMISSIONS", "Action", "NotPermitted", "Relation", "check", "check_case"]
