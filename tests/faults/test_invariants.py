"""The invariant checks themselves catch what they claim to (no stack needed)."""

from __future__ import annotations

import uuid

from cases.state import CaseStatus
from devtools.provider_simulator import ProviderSimulator
from tests.faults.invariants import Findings, LoggedEvent, check_commands, check_referrals
from tests.faults.load import Ledger, Outcome, Sent
from workflows.case import CommandResult

CASE = str(uuid.uuid4())
STREAM = f"case-{CASE}"
WORKFLOW = f"case-{CASE}"


def event(version: int, event_type: str, correlation: str, actor: str = "alice") -> LoggedEvent:
    return LoggedEvent(STREAM, version, event_type, correlation, actor, None, None, None, None)


def accepted(command: str, update_id: str, version: int, *events: str) -> Sent:
    result = CommandResult(
        case_id=CASE, stream_version=version, status=CaseStatus.OPEN, events=list(events)
    )
    return Sent(CASE, command, update_id, "alice", outcome=Outcome.ACCEPTED, result=result)


def ledger(*sent: Sent) -> Ledger:
    return Ledger(sent=[accepted("OpenCase", "u0", 2), *sent])


def log(*more: LoggedEvent) -> list[LoggedEvent]:
    return [
        event(1, "CaseOpened", WORKFLOW),
        event(2, "ReviewScheduled", WORKFLOW, actor="casework"),
        *more,
    ]


def violations(the_ledger: Ledger, events: list[LoggedEvent]) -> list[str]:
    findings = Findings()
    check_commands(the_ledger, events, findings)
    return findings.violations


def test_a_clean_history_passes() -> None:
    contact = accepted("LogContact", "u1", 3, "ContactLogged")
    assert violations(ledger(contact), log(event(3, "ContactLogged", "u1"))) == []


def test_a_lost_event_is_found() -> None:
    contact = accepted("LogContact", "u1", 3, "ContactLogged")
    found = violations(ledger(contact), log())
    assert any("none of its events is in the log" in v for v in found), found
    assert any("1 events by staff in the log, 2 from the commands accepted" in v for v in found)


def test_a_duplicated_event_is_found() -> None:
    contact = accepted("LogContact", "u1", 3, "ContactLogged")
    found = violations(
        ledger(contact), log(event(3, "ContactLogged", "u1"), event(4, "ContactLogged", "u1"))
    )
    assert any("the log holds ['ContactLogged', 'ContactLogged']" in v for v in found), found


def test_a_command_applied_twice_under_new_ids_is_found() -> None:
    contact = accepted("LogContact", "u1", 3, "ContactLogged")
    found = violations(
        ledger(contact), log(event(3, "ContactLogged", "u1"), event(4, "ContactLogged", "u9"))
    )
    assert any("no command asked for" in v for v in found), found


def test_a_refused_or_unknown_command_that_wrote_is_found() -> None:
    refused = Sent(CASE, "LogContact", "u1", "alice", outcome=Outcome.REJECTED, error="no")
    unknown = Sent(CASE, "LogContact", "u2", "alice", outcome=Outcome.UNKNOWN)
    found = violations(
        ledger(refused, unknown),
        log(event(3, "ContactLogged", "u1"), event(4, "ContactLogged", "u2")),
    )
    assert sum("but wrote" in v for v in found) == 2, found


def test_a_wrong_stream_version_is_found() -> None:
    contact = accepted("LogContact", "u1", 4, "ContactLogged")
    found = violations(ledger(contact), log(event(3, "ContactLogged", "u1")))
    assert any("returned stream_version 4" in v for v in found), found


def test_a_referral_dispatched_twice_is_found() -> None:
    def referral(version: int, event_type: str) -> LoggedEvent:
        return LoggedEvent(
            STREAM, version, event_type, WORKFLOW, "casework", "referral-1", "p", None, None
        )

    events = [
        referral(3, "ReferralMade"),
        referral(4, "ReferralDispatched"),
        referral(5, "ReferralDispatched"),
    ]
    findings = Findings()
    check_referrals(events, ProviderSimulator(), findings)
    assert any("expected exactly one" in v for v in findings.violations), findings.violations
