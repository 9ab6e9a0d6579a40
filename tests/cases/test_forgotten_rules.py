"""On a forgotten client's case the rules refuse personal details (cases/decide.py
`refuse_personal_details_once_forgotten`, run by every rule of the command table)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cases import command_table
from cases import commands as c
from cases import decide as rules
from cases.actors import Actor, Role
from cases.evolve import evolve, open_state
from cases.scoring import score
from cases.state import CaseState
from events.personal import recorded_personal_fields
from events.registry import DomainEvent
from events.vocabulary import CaseOpened, ClosureReason, ContactKind, ContactLogged
from tests.cases import inputs
from tests.cases.people import ALICE

OPENED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FORGOTTEN_AT = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ROOT = Actor(staff_id="root", role=Role.ADMIN)
REFUSAL = (
    "the client was forgotten on 2026-11-25; personal details can no longer be recorded "
    "on this case"
)


def decide(state: CaseState, cmd: c.Command) -> list[DomainEvent]:
    """The command's rule, as the case workflow runs it: through the command table."""
    return list(command_table.entry_for(type(cmd)).decide(state, cmd, NOW))


def case(forgotten: bool) -> CaseState:
    [opened] = rules.decide_open(inputs.open_case())
    assert isinstance(opened, CaseOpened)
    state = open_state(opened, ALICE.staff_id, OPENED_AT)
    for event in rules.decide_consent(state, inputs.consent()):
        evolve(state, event, ALICE.staff_id, OPENED_AT)
    assessed = inputs.assessment()
    for event in rules.decide_assessment(state, assessed, score(assessed.assessment.domains)):
        evolve(state, event, ALICE.staff_id, OPENED_AT)
    if forgotten:
        for event in decide(state, c.ForgetClient(actor=ROOT, reason="erasure request #7")):
            evolve(state, event, ROOT.staff_id, FORGOTTEN_AT)
    return state


def contact(notes: str) -> c.LogContact:
    return c.LogContact(
        actor=ALICE, kind=ContactKind.PHONE, contact_date=date(2026, 11, 26), notes=notes
    )


def test_the_state_knows_when_its_client_was_forgotten() -> None:
    state = case(forgotten=True)
    assert state.forgotten and state.forgotten_at == FORGOTTEN_AT
    assert case(forgotten=False).forgotten_at is None


def test_a_contact_note_on_a_forgotten_clients_case_is_refused_naming_the_field() -> None:
    state = case(forgotten=True)
    with pytest.raises(rules.CommandRejected) as refused:
        decide(state, contact("Her sister phoned about the flat"))
    assert str(refused.value) == f"notes: {REFUSAL}"


def test_commands_without_personal_text_still_work_once_forgotten() -> None:
    state = case(forgotten=True)
    [logged] = decide(state, contact(""))
    assert isinstance(logged, ContactLogged) and logged.notes == ""
    [requested] = decide(state, c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET))
    assert requested.type == "ApprovalRequested"
    with pytest.raises(rules.CommandRejected, match=f"^note: {REFUSAL}$"):
        decide(
            state,
            c.RequestClosure(actor=ALICE, reason=ClosureReason.GOALS_MET, note="moved to Leeds"),
        )


def test_the_same_commands_record_personal_text_before_the_erasure() -> None:
    state = case(forgotten=False)
    [logged] = decide(state, contact("Her sister phoned about the flat"))
    assert isinstance(logged, ContactLogged) and logged.notes == "Her sister phoned about the flat"


def test_personal_fields_of_the_command_itself_are_refused_before_scoring() -> None:
    """An assessment's events come after the scoring activity: its personal notes are
    refused on the command already, so the validator refuses it before it enters history."""
    state = case(forgotten=True)
    cmd = inputs.assessment()
    with pytest.raises(
        rules.CommandRejected, match=f"^assessment.domains.housing.notes: {REFUSAL}"
    ):
        decide(state, cmd)
    scoring = command_table.entry_for(c.RecordAssessment).scoring
    assert scoring is not None
    with pytest.raises(rules.CommandRejected, match=REFUSAL):
        scoring.decide(state, cmd, score(cmd.assessment.domains))


def test_a_plan_in_the_clients_own_words_is_refused_once_forgotten() -> None:
    with pytest.raises(rules.CommandRejected, match=f"^plan.goals.0.client_words: {REFUSAL}$"):
        decide(case(forgotten=True), inputs.plan())


def test_erased_markers_and_empty_values_record_nothing() -> None:
    data = contact("").model_dump(mode="json")
    assert recorded_personal_fields(ContactLogged, {"notes": "[erased]"}) == []
    assert recorded_personal_fields(ContactLogged, {"notes": ""}) == []
    assert recorded_personal_fields(ContactLogged, {"notes": "x"}) == ["notes"]
    assert recorded_personal_fields(c.LogContact, data) == []


def test_every_rule_of_the_table_refuses_personal_details_once_forgotten() -> None:
    """A command added to the table later gets the refusal too: the guard is the table's."""
    for entry in command_table.TABLE:
        assert getattr(entry.decide, "refuses_personal_once_forgotten", False), entry.update
        if entry.scoring is not None:
            assert getattr(entry.scoring.decide, "refuses_personal_once_forgotten", False)
