"""The client's language (cases/features/client_language.py): recorded at the opening,
changed by its command, folded into the state, carried by a referral only with consent,
without Temporal or a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cases import commands as c
from cases import decide as rules
from cases.command_table import BY_UPDATE, entry_for
from cases.consent import referral_payload
from cases.evolve import open_state
from cases.features import FEATURES
from cases.features.client_language import (
    RecordClientLanguage,
    decide_record_client_language,
)
from cases.state import CaseState, CaseStatus
from events.personal import erase_personal
from events.vocabulary import (
    CaseOpened,
    ClientDetails,
    ClientLanguageRecorded,
    SharedField,
)
from projections.timeline import describe
from tests.cases import inputs
from tests.cases.people import ALICE, AUDREY, BOB, CAROL, ERIN, MAX
from tests.cases.test_rules import NOW, apply, opened, with_active_plan


def record(
    language: str | None = "pt-BR", interpreter: bool = True, actor: object = ALICE
) -> RecordClientLanguage:
    return RecordClientLanguage.model_validate(
        {"actor": actor, "preferred_language": language, "interpreter_needed": interpreter}
    )


def test_the_opening_records_the_language_and_interpreter_need() -> None:
    cmd = inputs.open_case()
    client = cmd.client.model_copy(update={"preferred_language": "es", "interpreter_needed": True})
    [event] = rules.decide_open(cmd.model_copy(update={"client": client}))
    assert isinstance(event, CaseOpened)
    state = open_state(event, ALICE.staff_id, NOW)
    assert state.client.preferred_language == "es"
    assert state.client.interpreter_needed is True


def test_an_event_recorded_before_the_fields_existed_reads_as_not_recorded() -> None:
    [event] = rules.decide_open(inputs.open_case())
    data = event.model_dump(mode="json")
    del data["client"]["preferred_language"], data["client"]["interpreter_needed"]
    old = CaseOpened.model_validate(data)
    assert old.client.preferred_language is None and old.client.interpreter_needed is None
    assert not open_state(old, ALICE.staff_id, NOW).client.interpreter_needed


@pytest.mark.parametrize(
    ("given", "stored"),
    [("es", "es"), ("PT_br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419")],
)
def test_a_language_is_a_bcp47_tag_in_its_canonical_case(given: str, stored: str) -> None:
    assert ClientDetails(name="x", preferred_language=given).preferred_language == stored
    assert record(given).preferred_language == stored


@pytest.mark.parametrize("bad", ["Spanish", "e", "es-", "es--ES", "es ES", "x" * 40, "es\x00"])
def test_a_bad_tag_is_refused_at_the_edge_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError, match="preferred_language"):
        record(bad)
    with pytest.raises(ValidationError, match="preferred_language"):
        ClientDetails(name="x", preferred_language=bad)


def test_recording_replaces_both_and_folds_into_the_client() -> None:
    state = opened()
    [event] = decide_record_client_language(state, record())
    assert event == ClientLanguageRecorded(preferred_language="pt-BR", interpreter_needed=True)
    apply(state, ALICE, [event])
    assert (state.client.preferred_language, state.client.interpreter_needed) == ("pt-BR", True)
    assert state.client.name == "Rosalind Quennell-Ashby"  # the other details kept
    # The same again changes nothing, so it is refused; clearing it is a change.
    with pytest.raises(rules.CommandRejected, match="preferred_language: the case already"):
        decide_record_client_language(state, record())
    apply(state, ALICE, decide_record_client_language(state, record(None, False)))
    assert (state.client.preferred_language, state.client.interpreter_needed) == (None, False)


def test_who_may_record_it_those_who_work_the_case_on_an_open_case() -> None:
    state = opened()
    for allowed in (ALICE, CAROL, MAX):
        assert decide_record_client_language(state, record(actor=allowed))
    for refused in (BOB, ERIN, AUDREY):  # not assigned, another team, an auditor
        with pytest.raises(rules.CommandRejected):
            decide_record_client_language(state, record(actor=refused))
    closed: CaseState = state.model_copy(update={"status": CaseStatus.CLOSED})
    with pytest.raises(rules.CommandRejected, match="the case is closed"):
        decide_record_client_language(closed, record())


def test_a_forgotten_clients_language_is_not_recorded_again() -> None:
    state = opened()
    apply(state, ALICE, decide_record_client_language(state, record()))
    forgotten = erase_personal(state).model_copy(update={"forgotten": True, "forgotten_at": NOW})
    assert forgotten.client.preferred_language is None
    assert forgotten.client.interpreter_needed is None
    entry = entry_for(RecordClientLanguage)
    with pytest.raises(rules.CommandRejected, match="the client was forgotten"):
        entry.decide(forgotten, record(), NOW)


def with_language_referral(asked: list[SharedField]) -> CaseState:
    state = with_active_plan()
    apply(state, ALICE, decide_record_client_language(state, record("ar", True)))
    shared = [SharedField.NAME, SharedField.LANGUAGE]
    consent = c.RecordConsent(actor=ALICE, shared_fields=shared, providers=["shelter-1"])
    apply(state, ALICE, rules.decide_consent(state, consent))
    apply(state, ALICE, rules.decide_refer(state, inputs.refer().model_copy(
        update={"shared_fields": asked}
    )))  # fmt: skip
    return state


def test_a_referral_carries_the_language_only_with_consent_to_share_it() -> None:
    state = with_language_referral([SharedField.NAME, SharedField.LANGUAGE])
    referral = state.referrals["referral-1"]
    payload = referral_payload(state, referral)
    assert payload["preferred_language"] == "ar" and payload["interpreter_needed"] is True
    # Consent narrowed after the referral: no longer sent.
    narrower = c.RecordConsent(
        actor=ALICE, shared_fields=[SharedField.NAME], providers=["shelter-1"]
    )
    apply(state, ALICE, rules.decide_consent(state, narrower))
    payload = referral_payload(state, referral)
    assert "preferred_language" not in payload and "interpreter_needed" not in payload
    assert payload["name"] == "Rosalind Quennell-Ashby"
    # A referral that does not ask to share it does not carry it either.
    state = with_language_referral([SharedField.NAME])
    payload = referral_payload(state, state.referrals["referral-1"])
    assert "preferred_language" not in payload and "interpreter_needed" not in payload
    # Consent refused for it: the referral asking to share it is refused.
    state = with_active_plan()
    with pytest.raises(rules.CommandRejected, match=r"shared_fields: .* share language"):
        rules.decide_refer(state, inputs.refer().model_copy(
            update={"shared_fields": [SharedField.LANGUAGE]}
        ))  # fmt: skip


def test_the_feature_is_in_the_command_table_and_the_timeline() -> None:
    entry = entry_for(RecordClientLanguage)
    assert BY_UPDATE["record_client_language"] is entry
    assert any(ClientLanguageRecorded in f.folds for f in FEATURES)
    line = describe(ClientLanguageRecorded(preferred_language="ar", interpreter_needed=True))
    assert line == "Client's language and interpreter need recorded"
    assert "ar" not in line.split()  # never personal text in the audit trail
