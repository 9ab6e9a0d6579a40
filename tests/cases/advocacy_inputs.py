"""Plausible advocacy and feedback commands for tests (issue 16)."""

from __future__ import annotations

from datetime import date

from cases import commands as c
from cases.actors import Actor
from events.vocabulary import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ConsentGiver,
    FeedbackSubject,
)
from tests.cases.people import ALICE


def open_advocacy(
    next_step_date: date,
    actor: Actor = ALICE,
    barrier: AdvocacyBarrier = AdvocacyBarrier.BENEFIT_STOPPED,
    organisation: str = "Department for Work and Pensions",
) -> c.OpenAdvocacy:
    return c.OpenAdvocacy(
        actor=actor,
        barrier=barrier,
        organisation=organisation,
        action=AdvocacyAction.REQUEST,
        consent_by=ConsentGiver.CLIENT,
        details="Housing benefit stopped after a missed letter; Rosalind has no income",
        next_step="Mandatory reconsideration decision from the benefits office",
        next_step_date=next_step_date,
    )


def appeal(advocacy_id: str, next_step_date: date, actor: Actor = ALICE) -> c.RecordAdvocacyStep:
    return c.RecordAdvocacyStep(
        actor=actor,
        advocacy_id=advocacy_id,
        action=AdvocacyAction.APPEAL,
        note="Reconsideration refused; appeal lodged with the tribunal",
        next_step="Tribunal hearing",
        next_step_date=next_step_date,
    )


def won(advocacy_id: str, actor: Actor = ALICE) -> c.ConcludeAdvocacy:
    return c.ConcludeAdvocacy(
        actor=actor,
        advocacy_id=advocacy_id,
        outcome=AdvocacyOutcome.RESOLVED,
        note="Benefit reinstated with back pay",
    )


def referral_feedback(
    referral_id: str = "referral-1", rating: int = 2, actor: Actor = ALICE
) -> c.RecordFeedback:
    return c.RecordFeedback(
        actor=actor,
        subject=FeedbackSubject.REFERRAL,
        referral_id=referral_id,
        rating=rating,
        words="They kept me waiting and nobody explained anything",
    )


def plan_feedback(agrees: bool = True, actor: Actor = ALICE) -> c.RecordFeedback:
    return c.RecordFeedback(
        actor=actor,
        subject=FeedbackSubject.PLAN,
        rating=4,
        words="The housing goal is what I need most",
        agrees_with_plan=agrees,
    )
