"""Withdrawing a referral (cases/features/referral_withdrawal.py): the rule, the fold, the
command table's entry and the audit trail's line, without Temporal or a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cases import commands as c
from cases import decide as rules
from cases.actors import Actor
from cases.command_table import BY_UPDATE, entry_for
from cases.features import FEATURES
from cases.features.referral_withdrawal import WithdrawReferral, decide_withdraw_referral
from cases.state import OPEN_REFERRAL_STATUSES, ReferralStatus
from events.vocabulary import ReferralWithdrawn
from projections import timeline
from projections.timeline import describe
from tests.cases import inputs
from tests.cases.people import ALICE, BOB, CAROL
from tests.cases.test_rules import NOW, apply, with_active_plan


def withdraw(reason: str = "client moved away", actor: Actor = ALICE) -> WithdrawReferral:
    return WithdrawReferral(actor=actor, referral_id="referral-1", reason=reason)


def test_a_referral_not_yet_completed_is_withdrawn_with_its_reason() -> None:
    state = with_active_plan()
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    [event] = decide_withdraw_referral(state, withdraw())
    assert event == ReferralWithdrawn(
        referral_id="referral-1", provider_id="shelter-1", reason="client moved away"
    )
    apply(state, ALICE, [event])
    referral = state.referrals["referral-1"]
    assert referral.status is ReferralStatus.WITHDRAWN
    assert referral.status not in OPEN_REFERRAL_STATUSES  # no follow-up, no escalation
    assert not referral.waiting_for_reply
    assert referral.updated_at == NOW
    # A late reply from the provider is refused, and so is a second withdrawal.
    late = c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
    with pytest.raises(rules.CommandRejected, match="withdrawn: it cannot be accepted"):
        rules.decide_referral_reply(state, late)
    with pytest.raises(rules.CommandRejected, match="referral_id: referral-1 is withdrawn"):
        decide_withdraw_referral(state, withdraw())


def test_an_accepted_referral_can_be_withdrawn_a_completed_one_cannot() -> None:
    state = with_active_plan()
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    accept = c.ReferralReply(actor=ALICE, referral_id="referral-1", outcome="accepted")
    apply(state, ALICE, rules.decide_referral_reply(state, accept))
    assert decide_withdraw_referral(state, withdraw())
    complete = accept.model_copy(update={"outcome": "completed"})
    apply(state, ALICE, rules.decide_referral_reply(state, complete))
    with pytest.raises(rules.CommandRejected, match="is completed"):
        decide_withdraw_referral(state, withdraw())


def test_only_the_case_team_withdraws_on_an_open_case_naming_a_referral_it_has() -> None:
    state = with_active_plan()
    apply(state, ALICE, rules.decide_refer(state, inputs.refer()))
    with pytest.raises(rules.CommandRejected, match="referral_id: the case has no referral"):
        decide_withdraw_referral(state, withdraw().model_copy(update={"referral_id": "nope"}))
    with pytest.raises(rules.CommandRejected):
        decide_withdraw_referral(state, withdraw(actor=BOB))  # another team's worker
    assert decide_withdraw_referral(state, withdraw(actor=CAROL))  # the team's supervisor


def test_the_reason_is_required_and_checked_at_the_edge() -> None:
    with pytest.raises(ValidationError, match="reason"):
        WithdrawReferral(actor=ALICE, referral_id="referral-1", reason="")
    with pytest.raises(ValidationError, match="reason"):
        WithdrawReferral(actor=ALICE, referral_id="referral-1", reason="x\x00y")


def test_the_feature_is_in_the_command_table_and_the_timeline() -> None:
    entry = entry_for(WithdrawReferral)
    assert BY_UPDATE["withdraw_referral"] is entry
    line = describe(ReferralWithdrawn(referral_id="r-1", provider_id="p", reason="private"))
    assert line == "Referral r-1 withdrawn"  # the reason is personal: never in the trail


def test_the_timeline_read_model_records_every_feature_event() -> None:
    """A feature's events get their line in the case_timeline table too, not only in a
    rendering: the projection handles every event type of every feature."""
    for feature in FEATURES:
        assert feature.event_types <= set(timeline.PROJECTION.handlers), feature.name
    assert {"ReferralWithdrawn", "AdvocacyOpened", "ClientFeedbackRecorded"} <= set(
        timeline.PROJECTION.handlers
    )
