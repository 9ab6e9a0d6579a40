"""The policy's review spread: cases opened in the same minute (a caseload imported in
one go) have their reviews fall due over a window instead of all in that minute."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from pydantic import ValidationError

from cases import decide as rules
from cases import schedule
from cases.evolve import open_state
from cases.policy import DEFAULT_POLICY, Policy
from cases.state import CaseState
from events.vocabulary import CaseOpened
from tests.cases import inputs
from tests.cases.people import ALICE
from tests.cases.test_rules import NOW


def opened_now(case_id: uuid.UUID | None = None) -> CaseState:
    cmd = inputs.open_case()
    if case_id is not None:
        cmd = cmd.model_copy(update={"case_id": case_id})
    [event] = rules.decide_open(cmd)
    assert isinstance(event, CaseOpened)
    return open_state(event, ALICE.staff_id, NOW)


def test_without_a_spread_the_review_falls_due_when_its_interval_ends() -> None:
    assert DEFAULT_POLICY.review_spread == timedelta(0)
    state = opened_now()
    interval = DEFAULT_POLICY.interval(state.risk_level)
    assert schedule.desired_review_due(state, DEFAULT_POLICY) == NOW + interval


def test_a_case_keeps_its_offset_and_stays_within_the_spread() -> None:
    spread = Policy(review_spread="8h")
    assert spread.review_spread == timedelta(hours=8)
    for _ in range(200):
        state = opened_now()
        due = schedule.desired_review_due(state, spread)
        end = NOW + spread.interval(state.risk_level)
        assert due is not None and end <= due < end + timedelta(hours=8)
        assert schedule.desired_review_due(state, spread) == due  # the same every time
    # The offset follows the case id, not the clock or the order of opening.
    case = uuid.UUID(int=3_600 * 5 + 42)
    assert Policy(review_spread="1d").review_offset(case) == timedelta(hours=5, seconds=42)


def test_a_caseload_opened_in_one_minute_no_longer_falls_due_in_one() -> None:
    spread = Policy(review_spread="8h")
    states = [opened_now() for _ in range(2_000)]
    exact = Counter(schedule.desired_review_due(s, DEFAULT_POLICY) for s in states)
    assert len(exact) == 1  # every review in the same minute: the wave
    minutes = Counter(
        due.replace(second=0)
        for s in states
        if (due := schedule.desired_review_due(s, spread)) is not None
    )
    # 2,000 over 480 minutes: about 4 a minute; never a wave.
    assert len(minutes) > 400 and max(minutes.values()) <= 20


def test_the_spread_is_a_duration_of_zero_or_more() -> None:
    with pytest.raises(ValidationError, match="review_spread"):
        Policy(review_spread="-1h")
    with pytest.raises(ValidationError, match="review_spread"):
        Policy(review_spread="soon")
    assert (
        Policy.model_validate({"review_spread": "12h"}).model_dump(mode="json")["review_spread"]
        == "12h"
    )
