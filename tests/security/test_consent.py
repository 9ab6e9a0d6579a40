"""Consent is enforced: a provider receives only what the client consented to share
with it, and a referral that asks for more is refused with nothing written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.testing import WorkflowEnvironment

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases import decide as rules
from cases.actors import Actor
from cases.consent import referral_payload
from cases.evolve import evolve, open_state
from cases.scoring import score
from cases.state import CaseState
from devtools.provider_simulator import ProviderSimulator
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import ApprovalKind, CaseOpened, SharedField
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL
from tests.workflows.conftest import case_harness

Harness = tuple[CaseClient, EventStore]

NAME = "Rosalind Quennell-Ashby"  # tests/cases/inputs.py
NOT_SHARED = {
    "date of birth": "1984-03-09",
    "phone": "555-0142",
    "address": "12 Elm Row",
    "presenting need": "benefits",
    "assessment note": "sofa surfing",
    "strength": "motivated",
    "barrier": "no ID documents",
    "priority": "a place of my own",
}
PERSONAL_KEYS = (
    "contact",
    "date_of_birth",
    "presenting_needs",
    "risk_level",
    "needs",
    "health_needs",
    "financial_needs",
)


@pytest.fixture
async def case_worker(
    time_skipping_env: WorkflowEnvironment, sealed_store: EventStore
) -> AsyncIterator[Harness]:
    async with case_harness(time_skipping_env, sealed_store) as cases:
        yield cases, sealed_store


def share_name_with(provider: str) -> c.RecordConsent:
    return c.RecordConsent(
        actor=ALICE, shared_fields=[SharedField.NAME], providers=[provider], preferences=""
    )


def refer(provider: str, url: str, fields: list[SharedField]) -> c.Refer:
    return c.Refer(
        actor=ALICE,
        provider_id=provider,
        service_id="emergency-bed",
        goal_id="housing",
        channel_url=url,  # type: ignore[arg-type,unused-ignore]
        shared_fields=fields,
    )


async def types(store: EventStore, case_id: object) -> list[str]:
    return [e.event_type for e in await store.read_stream(f"case-{case_id}")]


async def test_the_provider_receives_only_the_consented_fields(case_worker: Harness) -> None:
    cases, store = case_worker
    async with ProviderSimulator() as provider:
        url = provider.provider_url("provider-x")
        cmd = inputs.open_case()
        case_id = cmd.case_id
        await cases.open(cmd)
        await cases.execute(case_id, share_name_with("provider-x"))
        await cases.execute(case_id, inputs.assessment())
        await cases.execute(case_id, inputs.plan())
        await cases.execute(case_id, c.SubmitPlan(actor=ALICE))
        await cases.execute(
            case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
        )

        # Asking for more than the client consented to: refused, nothing written or sent.
        before = await types(store, case_id)
        for fields in (
            [SharedField.NAME, SharedField.DATE_OF_BIRTH],
            [SharedField.CONTACT],
            [SharedField.PRESENTING_NEEDS],
            [SharedField.ASSESSMENT_SUMMARY],
        ):
            with pytest.raises(CaseCommandRejected, match="has not consented to share"):
                await cases.execute(case_id, refer("provider-x", url, fields))
        with pytest.raises(CaseCommandRejected, match="not consented to share with provider-y"):
            await cases.execute(
                case_id, refer("provider-y", provider.provider_url("provider-y"), [])
            )
        assert await types(store, case_id) == before
        assert provider.referrals == []

        made = await cases.execute(case_id, refer("provider-x", url, [SharedField.NAME]))
        assert made.detail == {"referral_id": "referral-1"}
        await provider.wait_for(lambda: bool(provider.referrals_for("provider-x")))

    [received] = provider.referrals_for("provider-x")
    shared = received.body["shared"]
    assert shared["name"] == NAME
    assert set(shared) == {"name", "referral_id", "service_id", "goal_domain"}
    assert not set(PERSONAL_KEYS) & set(shared)
    text = json.dumps(received.body)
    for what, value in NOT_SHARED.items():
        assert value not in text, f"the provider received the client's {what}"
    assert provider.referrals_for("provider-y") == []


# --- the payload rule, field by field ------------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def apply(state: CaseState, actor: Actor, events: list[DomainEvent]) -> CaseState:
    for event in events:
        state = evolve(state, event, actor.staff_id, NOW)
    return state


def with_referral(consented: list[SharedField], asked: list[SharedField]) -> CaseState:
    [opened] = rules.decide_open(inputs.open_case())
    assert isinstance(opened, CaseOpened)
    state = open_state(opened, ALICE.staff_id, NOW)
    consent = c.RecordConsent(actor=ALICE, shared_fields=consented, providers=["provider-x"])
    state = apply(state, ALICE, rules.decide_consent(state, consent))
    assess = inputs.assessment()
    state = apply(
        state, ALICE, rules.decide_assessment(state, assess, score(assess.assessment.domains))
    )
    state = apply(state, ALICE, rules.decide_draft_plan(state, inputs.plan()))
    state = apply(state, ALICE, rules.decide_submit_plan(state, c.SubmitPlan(actor=ALICE)))
    grant = c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    state = apply(state, CAROL, rules.decide_approval(state, grant))
    ask = refer("provider-x", "http://127.0.0.1:9/x", asked)
    return apply(state, ALICE, rules.decide_refer(state, ask))


EXPECTED_KEYS: dict[SharedField, set[str]] = {
    SharedField.NAME: {"name"},
    SharedField.CONTACT: {"contact"},
    SharedField.DATE_OF_BIRTH: {"date_of_birth"},
    SharedField.PRESENTING_NEEDS: {"presenting_needs"},
    SharedField.ASSESSMENT_SUMMARY: {"risk_level", "needs"},
    SharedField.HEALTH: {"health_needs"},
    SharedField.FINANCIAL: {"financial_needs"},
    SharedField.LANGUAGE: {"preferred_language", "interpreter_needed"},
}
ALWAYS = {"referral_id", "service_id", "goal_domain"}


@pytest.mark.parametrize("field", list(SharedField))
def test_each_consented_field_and_nothing_else(field: SharedField) -> None:
    state = with_referral(consented=[field], asked=[field])
    payload = referral_payload(state, state.referrals["referral-1"])
    assert set(payload) == ALWAYS | EXPECTED_KEYS[field]


def test_consent_withdrawn_after_the_referral_is_honoured() -> None:
    state = with_referral(consented=list(SharedField), asked=[SharedField.NAME])
    referral = state.referrals["referral-1"]
    assert set(referral_payload(state, referral)) == ALWAYS | {"name"}
    narrower = c.RecordConsent(actor=ALICE, shared_fields=[], providers=["provider-x"])
    state = apply(state, ALICE, rules.decide_consent(state, narrower))
    assert set(referral_payload(state, referral)) == ALWAYS
