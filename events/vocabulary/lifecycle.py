"""Who holds the case and whether it is open: assignment, transfers between workers and
teams, closure and reopening, and holds (a case on hold, resumed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.choices import ClosureReason
from events.fields import Identifier, PersonalText, ShortText
from events.registry import DomainEvent


class CaseAssigned(DomainEvent):
    type: Literal["CaseAssigned"] = "CaseAssigned"
    worker: Identifier
    team: Identifier
    reason: ShortText


class TransferRequested(DomainEvent):
    type: Literal["TransferRequested"] = "TransferRequested"
    transfer_id: Identifier
    to_worker: Identifier | None = None
    to_team: Identifier
    reason: ShortText


class TransferAccepted(DomainEvent):
    type: Literal["TransferAccepted"] = "TransferAccepted"
    transfer_id: Identifier
    worker: Identifier
    team: Identifier


class TransferRejected(DomainEvent):
    type: Literal["TransferRejected"] = "TransferRejected"
    transfer_id: Identifier
    reason: ShortText


class CaseClosed(DomainEvent):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: ClosureReason
    note: PersonalText = ""


class CaseReopened(DomainEvent):
    type: Literal["CaseReopened"] = "CaseReopened"
    reason: ShortText


class CaseOnHold(DomainEvent):
    type: Literal["CaseOnHold"] = "CaseOnHold"
    reason: ShortText
    until: datetime


class CaseResumed(DomainEvent):
    type: Literal["CaseResumed"] = "CaseResumed"
    reason: ShortText
