"""Search attributes operations staff query with `temporal workflow list --query`.

Never put personal data in these: Temporal stores them unencrypted.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
ASSIGNED_WORKER = SearchAttributeKey.for_keyword("AssignedWorker")
TEAM = SearchAttributeKey.for_keyword("Team")
RISK_LEVEL = SearchAttributeKey.for_keyword("RiskLevel")
NEXT_REVIEW_DUE = SearchAttributeKey.for_datetime("NextReviewDue")

ALL = (CASE_STATUS, ASSIGNED_WORKER, TEAM, RISK_LEVEL, NEXT_REVIEW_DUE)


def dev_server_flags() -> list[str]:
    """`--search-attribute NAME=TYPE` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "TEXT": "Text", "INT": "Int"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
