"""The demo's advocacy and the clients' feedback (issue 16).

A share of the cases meets a barrier the worker takes up with an organisation (a
stopped or denied benefit, a refused service, a waiting list, …): a request first; on
some an appeal follows and is won, on others the advocacy ends partly resolved or not
resolved. Clients say whether they agree with their plan and rate the provider their
referral went to; the providers are rated differently, so the summary shows which the
clients rate poorly. Next-step dates are a fortnight away: nothing falls overdue while
the demo runs.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, Protocol

from application.case_client import CaseClient
from cases import commands as c
from cases.actors import Actor
from cases.state import ReferralStatus
from devtools.demo.caseload import CaseScript
from events.vocabulary import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ConsentGiver,
    FeedbackSubject,
)


class CaseRun(Protocol):
    """What of demo.lifecycle.CaseRun the advocacy and feedback use."""

    cases: CaseClient
    script: CaseScript
    case_id: uuid.UUID
    worker: Actor
    today: date


BARRIERS: tuple[tuple[AdvocacyBarrier, str], ...] = (
    (AdvocacyBarrier.BENEFIT_STOPPED, "Department for Work and Pensions"),
    (AdvocacyBarrier.BENEFIT_DENIED, "County benefits office"),
    (AdvocacyBarrier.SERVICE_REFUSED, "Riverside GP practice"),
    (AdvocacyBarrier.WAITING_LIST, "City housing register"),
    (AdvocacyBarrier.ELIGIBILITY_DISPUTE, "Adult social care"),
)


def advocates(script: CaseScript) -> bool:
    """One case in three meets a barrier the worker takes up."""
    return script.index % 3 == 0


async def advocate(run: CaseRun) -> None:
    """Open an advocacy and see it through: an appeal won (every other one), or ended
    partly resolved or not resolved after the first request."""
    if not advocates(run.script):
        return
    n = run.script.index // 3
    barrier, organisation = BARRIERS[n % len(BARRIERS)]
    # Every other advocacy is a stopped benefit, overturned on appeal.
    if n % 2 == 0:
        barrier, organisation = BARRIERS[0]
    step_date = run.today + timedelta(days=14)
    await run.cases.execute(
        run.case_id,
        c.OpenAdvocacy(
            actor=run.worker,
            barrier=barrier,
            organisation=organisation,
            action=AdvocacyAction.REQUEST,
            consent_by=ConsentGiver.CLIENT,
            details="The client was told no without a written decision",
            next_step="A written decision from the organisation",
            next_step_date=step_date,
        ),
    )
    if n % 2 == 0:
        await run.cases.execute(
            run.case_id,
            c.RecordAdvocacyStep(
                actor=run.worker,
                advocacy_id="advocacy-1",
                action=AdvocacyAction.APPEAL,
                note="Decision upheld on reconsideration; appeal lodged",
                next_step="Tribunal hearing",
                next_step_date=step_date + timedelta(days=14),
            ),
        )
        outcome = AdvocacyOutcome.RESOLVED
    else:
        outcome = (AdvocacyOutcome.PARTLY_RESOLVED, AdvocacyOutcome.NOT_RESOLVED)[n % 4 // 2]
    await run.cases.execute(
        run.case_id,
        c.ConcludeAdvocacy(actor=run.worker, advocacy_id="advocacy-1", outcome=outcome),
    )


async def plan_feedback(run: CaseRun) -> None:
    """The client's view of the approved plan (one in seven does not agree with it)."""
    agrees = run.script.index % 7 != 3
    await run.cases.execute(
        run.case_id,
        c.RecordFeedback(
            actor=run.worker,
            subject=FeedbackSubject.PLAN,
            rating=4 if agrees else 2,
            words="It is what I asked for" if agrees else "It does not cover my debts",
            agrees_with_plan=agrees,
        ),
    )


def rating_for(provider_id: str, index: int) -> int:
    """Providers are rated differently: some well, one poorly, with some spread."""
    base = (2, 4, 5)[sum(map(ord, provider_id)) % 3]
    return max(1, min(5, base - index % 2))


async def referral_feedback(run: CaseRun) -> None:
    """The client rates the provider their accepted referral went to."""
    state = await run.cases.state(run.case_id)
    accepted = [r for r in state.referrals.values() if r.status is ReferralStatus.ACCEPTED]
    for referral in accepted[:1]:
        rating = rating_for(referral.provider_id, run.script.index)
        await run.cases.execute(
            run.case_id,
            c.RecordFeedback(
                actor=run.worker,
                subject=FeedbackSubject.REFERRAL,
                referral_id=referral.referral_id,
                rating=rating,
                words="They were kind and quick" if rating >= 4 else "I waited weeks for a call",
            ),
        )


def advocacy_line(outcomes: dict[str, Any]) -> str:
    """The summary's advocacy line: outcomes by barrier, and appeals won."""
    by_barrier: dict[str, dict[str, int]] = {}
    for row in outcomes.get("advocacy", []):
        counts = by_barrier.setdefault(row["barrier"], {})
        for key in ("resolved", "partly_resolved", "not_resolved", "withdrawn", "still_open",
                    "appealed", "won_on_appeal"):  # fmt: skip
            counts[key] = counts.get(key, 0) + row[key]
    if not by_barrier:
        return "Advocacy by barrier: none"
    parts = []
    for barrier, n in sorted(by_barrier.items()):
        done = ", ".join(
            f"{k.replace('_', ' ')} {n[k]}"
            for k in ("resolved", "partly_resolved", "not_resolved", "withdrawn", "still_open")
            if n[k]
        )
        appeals = f"; {n['won_on_appeal']} of {n['appealed']} appeals won" if n["appealed"] else ""
        parts.append(f"{barrier.replace('_', ' ')} ({done}{appeals})")
    return "Advocacy by barrier: " + ", ".join(parts)


def feedback_line(outcomes: dict[str, Any]) -> str:
    """The summary's feedback line: providers by average rating, the lowest first."""
    rows = outcomes.get("feedback", [])
    line = "Client feedback by provider: " + (
        ", ".join(
            f"{r['provider_id']}/{r['service_id']} {r['avg_rating']:.1f} ({r['ratings']} ratings)"
            for r in rows
        )
        or "none"
    )
    plans = outcomes.get("plan_feedback") or {}
    if plans.get("ratings"):
        line += f"; plans agreed {plans['agrees']}, not agreed {plans['disagrees']}"
    return line
