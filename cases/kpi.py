"""Key performance indicators: what one case event measures (pure, no I/O).

A KPI figure is a count and a sum of *measures*. Each measure comes from one event of
one case's stream, the event that completes the thing measured: the first contact
measures the time from the referral in (the case's opening), a review done or lapsed
measures a review, a referral's reply its acceptance, and so on. A measure names its
KPI, the team and worker that held the case at that moment, the day (UTC) of the
event, a subject (a domain, a provider and service, a reason; "" when none) and an
integer value: seconds for a duration, 1 or 0 for a rate, a rating, or 1 for a count.

`step(facts, event, at)` folds one event into the case's `CaseFacts` (what later
measures need: the opening, the team, pending reviews, open escalations, referrals
and their provider) and returns the measures it makes. The read model
(projections/kpi.py) runs it for every event as the projector applies it and stores
the measures with the event's place in the log; `casework report rebuild`
(application/reports/) runs the very same fold over the log up to a signed
checkpoint. Figures are sums over measures (`aggregate`), so both count the same way.

Rules, each decided here once:

* `referral_to_first_contact`, `referral_to_assessment`, `referral_to_plan_approval`:
  seconds from the case's opening to its first `ContactLogged`, its first (not a
  re-) `AssessmentRecorded`, its first plan `ApprovalGranted`; once per case.
* `case_duration`: seconds from the opening (or reopening) to `CaseClosed`; subject
  the closure reason.
* `review_on_time`: a review scheduled is measured once: 1 when the case is
  reassessed before it lapses, 0 when `ReviewLapsed`. A review replaced by another
  (risk changed, policy changed) or ended by the closure is not measured.
* `escalation_raised` (1 per escalation, whatever its later levels; subject what it
  is about) and `escalation_open_time` (seconds from raised to resolved).
* `referral_accepted` (1 accepted, 0 declined) and `referral_completed` (1 completed,
  0 declined or withdrawn), subject `provider/service`.
* `goal_met`: each goal evaluated, 1 when met (partly met and not met count 0);
  subject the goal's domain in the latest plan version that has it.
* `action_on_time`: each action completed, 1 unless completed late.
* `advocacy_outcome`: each advocacy concluded, value 1, subject `barrier/outcome`.
* `feedback_rating`: each rating the client gave (1–5), subject what it was about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from events.registry import DomainEvent
from events.vocabulary import (
    ActionCompleted,
    AdvocacyConcluded,
    AdvocacyOpened,
    ApprovalGranted,
    ApprovalKind,
    AssessmentRecorded,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    ClientFeedbackRecorded,
    ContactLogged,
    EscalationRaised,
    EscalationResolved,
    GoalOutcome,
    GoalsEvaluated,
    PlanDrafted,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralMade,
    ReferralWithdrawn,
    ReviewLapsed,
    ReviewScheduled,
    TransferAccepted,
)

RULES_VERSION = 1
"""The version of these rules. A report records the version it was computed with, and a
recomputation with other rules says so instead of claiming a match: raise it whenever a
rule changes what an event measures (adding a KPI changes no existing figure)."""


class Kpi(StrEnum):
    REFERRAL_TO_FIRST_CONTACT = "referral_to_first_contact"
    REFERRAL_TO_ASSESSMENT = "referral_to_assessment"
    REFERRAL_TO_PLAN_APPROVAL = "referral_to_plan_approval"
    CASE_DURATION = "case_duration"
    REVIEW_ON_TIME = "review_on_time"
    ESCALATION_RAISED = "escalation_raised"
    ESCALATION_OPEN_TIME = "escalation_open_time"
    REFERRAL_ACCEPTED = "referral_accepted"
    REFERRAL_COMPLETED = "referral_completed"
    GOAL_MET = "goal_met"
    ACTION_ON_TIME = "action_on_time"
    ADVOCACY_OUTCOME = "advocacy_outcome"
    FEEDBACK_RATING = "feedback_rating"


class Unit(StrEnum):
    SECONDS = "seconds"
    """A duration: the figure is the mean, shown in hours or days."""
    RATE = "rate"
    """1 or 0: the figure is the share of 1s."""
    COUNT = "count"
    """1 each: the figure is the count."""
    RATING = "rating"
    """1–5: the figure is the mean."""


@dataclass(frozen=True)
class KpiInfo:
    title: str
    unit: Unit
    subject: str
    """What the subject is ("" when the KPI has none)."""


KPIS: dict[Kpi, KpiInfo] = {
    Kpi.REFERRAL_TO_FIRST_CONTACT: KpiInfo("Referral to first contact", Unit.SECONDS, ""),
    Kpi.REFERRAL_TO_ASSESSMENT: KpiInfo("Referral to assessment", Unit.SECONDS, ""),
    Kpi.REFERRAL_TO_PLAN_APPROVAL: KpiInfo("Referral to plan approval", Unit.SECONDS, ""),
    Kpi.CASE_DURATION: KpiInfo("Case duration", Unit.SECONDS, "closure reason"),
    Kpi.REVIEW_ON_TIME: KpiInfo("Reviews done on time (not lapsed)", Unit.RATE, ""),
    Kpi.ESCALATION_RAISED: KpiInfo("Escalations raised", Unit.COUNT, "about"),
    Kpi.ESCALATION_OPEN_TIME: KpiInfo("Escalation open until resolved", Unit.SECONDS, "about"),
    Kpi.REFERRAL_ACCEPTED: KpiInfo("Referrals accepted", Unit.RATE, "provider/service"),
    Kpi.REFERRAL_COMPLETED: KpiInfo("Referrals completed", Unit.RATE, "provider/service"),
    Kpi.GOAL_MET: KpiInfo("Goals met", Unit.RATE, "domain"),
    Kpi.ACTION_ON_TIME: KpiInfo("Plan actions done on time", Unit.RATE, ""),
    Kpi.ADVOCACY_OUTCOME: KpiInfo("Advocacy concluded", Unit.COUNT, "barrier/outcome"),
    Kpi.FEEDBACK_RATING: KpiInfo("Client feedback rating", Unit.RATING, "about"),
}


class Measure(BaseModel):
    """One measured thing: see the module's rules."""

    model_config = ConfigDict(frozen=True)

    kpi: Kpi
    team: str
    worker: str
    day: date
    subject: str = ""
    value: int


class CaseFacts(BaseModel):
    """What later measures of one case need (the read model keeps it as JSON)."""

    team: str
    worker: str
    opened_at: datetime
    """The opening, or the latest reopening (for the case's duration)."""
    referral_in_at: datetime
    """The first opening: the referral's arrival (for the times from it)."""
    contacted: bool = False
    assessed: bool = False
    plan_approved: bool = False
    review_pending: bool = False
    escalations: dict[str, datetime] = Field(default_factory=dict)
    """Open escalations: when each was first raised."""
    escalation_subjects: dict[str, str] = Field(default_factory=dict)
    referrals: dict[str, str] = Field(default_factory=dict)
    """Each referral's `provider/service`."""
    referrals_closed: list[str] = Field(default_factory=list)
    """Referrals declined, completed or withdrawn (measured for completion)."""
    goal_domains: dict[str, str] = Field(default_factory=dict)
    advocacy_barriers: dict[str, str] = Field(default_factory=dict)


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def step(
    facts: CaseFacts | None, event: DomainEvent, at: datetime
) -> tuple[CaseFacts | None, list[Measure]]:
    """Fold one event of a case's stream (occurred `at`) into its facts; the measures it
    makes. `facts` is None before the case's `CaseOpened` (nothing is measured then)."""
    if isinstance(event, CaseOpened):
        return (
            CaseFacts(
                team=event.team,
                worker=event.assigned_worker,
                opened_at=at,
                referral_in_at=at,
            ),
            [],
        )
    if facts is None or type(event) not in MEASURED:
        return facts, []
    f = facts.model_copy(
        update={  # the containers copied (their items are immutable): `facts` stays as it was
            "escalations": dict(facts.escalations),
            "escalation_subjects": dict(facts.escalation_subjects),
            "referrals": dict(facts.referrals),
            "referrals_closed": list(facts.referrals_closed),
            "goal_domains": dict(facts.goal_domains),
            "advocacy_barriers": dict(facts.advocacy_barriers),
        }
    )
    out: list[Measure] = []
    day = at.astimezone(UTC).date()

    def measure(kpi: Kpi, value: int, subject: str = "") -> None:
        out.append(
            Measure(kpi=kpi, team=f.team, worker=f.worker, day=day, subject=subject,
                    value=value)
        )  # fmt: skip

    match event:
        case CaseAssigned() | TransferAccepted():
            f.team, f.worker = event.team, event.worker
        case ContactLogged() if not f.contacted:
            f.contacted = True
            measure(Kpi.REFERRAL_TO_FIRST_CONTACT, _seconds(f.referral_in_at, at))
        case AssessmentRecorded():
            if f.review_pending and event.reassessment:
                f.review_pending = False
                measure(Kpi.REVIEW_ON_TIME, 1)
            if not f.assessed and not event.reassessment:
                f.assessed = True
                measure(Kpi.REFERRAL_TO_ASSESSMENT, _seconds(f.referral_in_at, at))
        case ApprovalGranted(kind=ApprovalKind.PLAN) if not f.plan_approved:
            f.plan_approved = True
            measure(Kpi.REFERRAL_TO_PLAN_APPROVAL, _seconds(f.referral_in_at, at))
        case CaseClosed():
            f.review_pending = False
            measure(Kpi.CASE_DURATION, _seconds(f.opened_at, at), str(event.reason))
        case CaseReopened():
            f.opened_at = at
        case ReviewScheduled():
            f.review_pending = True
        case ReviewLapsed() if f.review_pending:
            f.review_pending = False
            measure(Kpi.REVIEW_ON_TIME, 0)
        case EscalationRaised() if event.escalation_id not in f.escalations:
            f.escalations[event.escalation_id] = at
            f.escalation_subjects[event.escalation_id] = str(event.subject)
            measure(Kpi.ESCALATION_RAISED, 1, str(event.subject))
        case EscalationResolved() if event.escalation_id in f.escalations:
            raised = f.escalations.pop(event.escalation_id)
            subject = f.escalation_subjects.pop(event.escalation_id, "")
            measure(Kpi.ESCALATION_OPEN_TIME, _seconds(raised, at), subject)
        case ReferralMade():
            f.referrals[event.referral_id] = f"{event.provider_id}/{event.service_id}"
        case ReferralAccepted() if event.referral_id in f.referrals:
            measure(Kpi.REFERRAL_ACCEPTED, 1, f.referrals[event.referral_id])
        case ReferralDeclined() if event.referral_id in f.referrals:
            measure(Kpi.REFERRAL_ACCEPTED, 0, f.referrals[event.referral_id])
            if _closes(f, event.referral_id):
                measure(Kpi.REFERRAL_COMPLETED, 0, f.referrals[event.referral_id])
        case ReferralCompleted() if _closes(f, event.referral_id):
            measure(Kpi.REFERRAL_COMPLETED, 1, f.referrals[event.referral_id])
        case ReferralWithdrawn() if _closes(f, event.referral_id):
            measure(Kpi.REFERRAL_COMPLETED, 0, f.referrals[event.referral_id])
        case PlanDrafted():
            for goal in event.goals:
                f.goal_domains[goal.goal_id] = str(goal.domain)
        case GoalsEvaluated():
            for evaluation in event.evaluations:
                domain = f.goal_domains.get(evaluation.goal_id, "unknown")
                measure(Kpi.GOAL_MET, int(evaluation.outcome == GoalOutcome.MET), domain)
        case ActionCompleted():
            measure(Kpi.ACTION_ON_TIME, 0 if event.late else 1)
        case AdvocacyOpened():
            f.advocacy_barriers[event.advocacy_id] = str(event.barrier)
        case AdvocacyConcluded():
            barrier = f.advocacy_barriers.get(event.advocacy_id, "unknown")
            measure(Kpi.ADVOCACY_OUTCOME, 1, f"{barrier}/{event.outcome}")
        case ClientFeedbackRecorded():
            measure(Kpi.FEEDBACK_RATING, event.rating, str(event.subject))
        case _:
            return facts, []
    return f, out


MEASURED: frozenset[type[DomainEvent]] = frozenset(
    {
        CaseOpened, CaseAssigned, TransferAccepted, ContactLogged, AssessmentRecorded,
        ApprovalGranted, CaseClosed, CaseReopened, ReviewScheduled, ReviewLapsed,
        EscalationRaised, EscalationResolved, ReferralMade, ReferralAccepted,
        ReferralDeclined, ReferralCompleted, ReferralWithdrawn, PlanDrafted, GoalsEvaluated,
        ActionCompleted, AdvocacyOpened, AdvocacyConcluded, ClientFeedbackRecorded,
    }
)  # fmt: skip
"""The events `step` looks at (the read model handles exactly these)."""


def _closes(f: CaseFacts, referral_id: str) -> bool:
    """Whether this reply closes a referral the case made and had not closed (marking it)."""
    if referral_id not in f.referrals or referral_id in f.referrals_closed:
        return False
    f.referrals_closed.append(referral_id)
    return True


# --- figures ---------------------------------------------------------------------------------


class Cell(BaseModel):
    """One figure's sums: the measures of one KPI, month, team, worker and subject."""

    model_config = ConfigDict(frozen=True)

    kpi: Kpi
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    team: str
    worker: str
    subject: str
    count: int
    total: int

    def key(self) -> tuple[str, str, str, str, str]:
        return (self.kpi, self.month, self.team, self.worker, self.subject)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class Selection:
    """Which measures a report counts: months [first, last] (YYYY-MM), a team, a worker."""

    first_month: str
    last_month: str
    team: str | None = None
    worker: str | None = None

    def takes(self, m: Measure) -> bool:
        month = month_of(m.day)
        return (
            self.first_month <= month <= self.last_month
            and (self.team is None or m.team == self.team)
            and (self.worker is None or m.worker == self.worker)
        )


def aggregate(measures: Iterable[Measure], selection: Selection) -> list[Cell]:
    """The cells of the selected measures, in key order."""
    sums: dict[tuple[str, str, str, str, str], list[int]] = {}
    for m in measures:
        if not selection.takes(m):
            continue
        key = (m.kpi.value, month_of(m.day), m.team, m.worker, m.subject)
        acc = sums.setdefault(key, [0, 0])
        acc[0] += 1
        acc[1] += m.value
    return [
        Cell(kpi=Kpi(k[0]), month=k[1], team=k[2], worker=k[3], subject=k[4], count=c, total=t)
        for k, (c, t) in sorted(sums.items())
    ]


def totals(cells: Iterable[Cell]) -> dict[Kpi, tuple[int, int]]:
    """Each KPI's count and total over every month, team, worker and subject of `cells`."""
    out: dict[Kpi, tuple[int, int]] = {}
    for c in cells:
        count, total = out.get(c.kpi, (0, 0))
        out[c.kpi] = (count + c.count, total + c.total)
    return out


def figure(unit: Unit, count: int, total: int) -> float | None:
    """The figure of `count` measures summing to `total`: a mean (hours for durations), a
    share (0–1) or the count."""
    if unit is Unit.COUNT:
        return float(total)
    if count == 0:
        return None
    if unit is Unit.SECONDS:
        return total / count / 3600
    return total / count
