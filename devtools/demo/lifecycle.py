"""Walk one scripted case through the engine, as its worker and supervisor would, and
keep its reviews on time while it is open (unless the script neglects it)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from application.case_client import CaseClient, CaseCommandRejected, CaseNotFound
from cases import commands as c
from cases.actors import Actor, Role
from cases.state import CaseState, ReferralStatus
from devtools.demo.actions import add_actions, do_actions
from devtools.demo.advocacy import advocate, plan_feedback, referral_feedback
from devtools.demo.agency import provider_for, supervisor_of
from devtools.demo.caseload import CasePath, CaseScript
from devtools.demo.circle import gather_circle, hold_conference, plan_participants
from events.vocabulary import (
    ApprovalKind,
    ClientParticipation,
    ContactKind,
    Domain,
    DomainRating,
    GoalEvaluation,
    GoalOutcome,
    GoalStatus,
    NextStep,
    SharedField,
)
from infrastructure.logs import get_logger

Progress = Callable[[str], None]
Reviewed = Callable[["CaseRun", CaseState], None]
"""Told of each review done: the run and the case's state just before it."""

CONTACT_KINDS = (
    ContactKind.HOME_VISIT,
    ContactKind.PHONE,
    ContactKind.OFFICE,
    ContactKind.OUTREACH,
)


def actor(staff_id: str, role: str, team: str | None) -> Actor:
    return Actor(staff_id=staff_id, role=Role(role), team=team)


class CaseRun:
    """One case's story; `provider_url(provider_id)` says where its referrals go."""

    def __init__(
        self,
        cases: CaseClient,
        script: CaseScript,
        provider_url: Callable[[str], str],
        today: date,
        reply_timeout: float = 60.0,
    ) -> None:
        self.cases = cases
        self.script = script
        self.provider_url = provider_url
        self.today = today
        self.reply_timeout = reply_timeout
        w = script.worker
        self.worker = actor(w.staff_id, w.role, w.team)
        sup = supervisor_of(w.team or "")
        self.supervisor = actor(sup.staff_id, sup.role, sup.team)
        self.case_id = uuid.uuid4()
        self.assessed = asyncio.Event()
        """Set once the first assessment is recorded: the review clock runs from then."""
        self.review_failures: list[str] = []
        """Errors of `keep_reviews` (a query or a reassessment that failed, not refused)
        since its last review done: a failure of the demo, counted in its summary and its
        exit code, unless a later try does the review (a busy server's timeout, retried,
        is logged, not a failure)."""

    async def run(self, progress: Progress) -> uuid.UUID:
        s, cases, case_id, worker = self.script, self.cases, self.case_id, self.worker
        await cases.open(
            c.OpenCase(
                actor=worker,
                case_id=case_id,
                client_ref=s.client_ref,
                client=s.client,
                referral_source=s.source,
                assignee=worker,
                presenting_needs=list(s.needs),
            )
        )
        progress("opened")
        providers = sorted(
            found[0].provider_id for g in s.goals if (found := provider_for(g.domain))
        )
        await cases.execute(
            case_id,
            c.RecordConsent(
                actor=worker,
                shared_fields=[SharedField.NAME, SharedField.CONTACT, SharedField.PRESENTING_NEEDS],
                providers=providers,
                preferences="Contact by phone; no letters to the home address",
            ),
        )
        await gather_circle(self)
        await cases.execute(case_id, self._assess())
        self.assessed.set()
        if s.path is CasePath.WITHDREW:
            await self._close(progress)
            return case_id
        await self._plan(agreed=True)
        await cases.execute(case_id, c.SubmitPlan(actor=worker))
        if s.path is CasePath.RETURNED:
            await cases.execute(
                case_id,
                c.DecideApproval(
                    actor=self.supervisor,
                    kind=ApprovalKind.PLAN,
                    approve=False,
                    reasons=["Make the objectives measurable", "Add a crisis contact"],
                ),
            )
            await self._plan(agreed=True)
            await cases.execute(case_id, c.SubmitPlan(actor=worker, note="revised as asked"))
        await cases.execute(
            case_id,
            c.DecideApproval(actor=self.supervisor, kind=ApprovalKind.PLAN, approve=True),
        )
        progress("planned")
        await plan_feedback(self)
        await add_actions(self)
        if s.path is CasePath.NEGLECTED:
            return case_id  # nobody acts: the review will go due, lapse and escalate
        await hold_conference(self)
        goal = s.goals[0]
        await self._refer(goal.goal_id, goal.domain)
        if s.path is CasePath.DECLINED:
            await self._wait_referral(lambda st: st.status is ReferralStatus.DECLINED, "referral-1")
            await self._refer(goal.goal_id, goal.domain)
            await self._wait_referral(lambda st: st.status is ReferralStatus.ACCEPTED, "referral-2")
        else:
            await self._wait_referral(lambda st: st.status is ReferralStatus.ACCEPTED, "referral-1")
        await referral_feedback(self)
        await advocate(self)
        for n in range(s.contacts):
            await cases.execute(
                case_id,
                c.LogContact(
                    actor=worker,
                    kind=CONTACT_KINDS[(s.index + n) % len(CONTACT_KINDS)],
                    contact_date=self.today + timedelta(days=0),
                    duration_minutes=30 + 15 * n,
                    notes="Reviewed progress with the client",
                ),
            )
        for g in s.goals:
            await cases.execute(
                case_id,
                c.RecordProgress(actor=worker, goal_id=g.goal_id, status=GoalStatus.IN_PROGRESS),
            )
        await do_actions(self)
        progress("working")
        if s.path is CasePath.ONGOING:
            return case_id
        await cases.execute(
            case_id,
            c.Evaluate(
                actor=worker,
                evaluations=[
                    GoalEvaluation(
                        goal_id=g.goal_id,
                        outcome=s.outcomes[g.goal_id],
                        reason=_reason(s.outcomes[g.goal_id]),
                    )
                    for g in s.goals
                ],
                next_step=NextStep.CLOSE,
            ),
        )
        await self._close(progress)
        return case_id

    async def keep_reviews(self, stop: asyncio.Event, lead: timedelta, done: Reviewed) -> None:
        """The worker's diary for this case: each review is done (a reassessment, which
        completes it and re-arms the next) in the last `lead` before it is due, from the
        first assessment until the case closes or `stop` is set. A neglected case's
        worker never does this: its review goes due, lapses and escalates."""
        if not await _first_of(self.assessed, stop):
            return
        while not stop.is_set():
            try:
                state = await self.cases.state(self.case_id)
                if not state.is_open or state.next_review_due is None:
                    return  # closed (or on hold: no review is running)
                wait = (state.next_review_due - lead - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    # Until the review's moment; then read the case again, as its due
                    # date may have moved or the case closed meanwhile.
                    await _set_within(stop, wait)
                    continue
                await self.cases.execute(self.case_id, self._assess())
            except Exception as exc:  # closed meanwhile, or a busy server: read it again soon
                if not isinstance(exc, CaseCommandRejected | CaseNotFound):
                    self.review_failures.append(str(exc))
                    # Looked up now, not at import: the demo sends its log to a file.
                    get_logger(component="demo").warning(
                        "demo review failed", case_id=str(self.case_id), error=str(exc)
                    )
                await _set_within(stop, 1.0)
                continue
            self.review_failures.clear()  # done after all: what failed before was retried
            done(self, state)

    def _assess(self) -> c.RecordAssessment:
        """The script's ratings (at a review: gone through with the client, unchanged)."""
        s = self.script
        return c.RecordAssessment(
            actor=self.worker,
            assessment=c.AssessmentInput(
                domains={d: DomainRating(rating=r, notes="") for d, r in s.ratings.items()},
                strengths=list(s.strengths),
                barriers=list(s.barriers),
                client_priorities=list(s.priorities),
            ),
        )

    async def _plan(self, agreed: bool) -> None:
        await self.cases.execute(
            self.case_id,
            c.DraftPlan(
                actor=self.worker,
                plan=c.PlanInput(
                    goals=list(self.script.goals),
                    crisis_plan="Crisis line 24/7; sister as emergency contact",
                    participation=ClientParticipation(
                        participated=True, agreed=agreed, client_comment="Written together"
                    ),
                    participants=plan_participants(self),
                ),
            ),
        )

    async def _refer(self, goal_id: str, domain: Domain) -> None:
        found = provider_for(domain)
        if found is None:
            return
        provider, service = found
        await self.cases.execute(
            self.case_id,
            c.Refer(
                actor=self.worker,
                provider_id=provider.provider_id,
                service_id=service.service_id,
                goal_id=goal_id,
                channel_url=self.provider_url(provider.provider_id),  # type: ignore[arg-type,unused-ignore]
                shared_fields=[SharedField.NAME, SharedField.CONTACT],
            ),
        )

    async def _wait_referral(self, done: Callable[..., bool], referral_id: str) -> CaseState:
        deadline = asyncio.get_running_loop().time() + self.reply_timeout
        while True:
            state = await self.cases.state(self.case_id)
            referral = state.referrals.get(referral_id)
            if referral is None or done(referral):
                return state
            if asyncio.get_running_loop().time() > deadline:
                return state
            await asyncio.sleep(0.5)

    async def _close(self, progress: Progress) -> None:
        await self.cases.execute(
            self.case_id, c.RequestClosure(actor=self.worker, reason=self.script.closure_reason)
        )
        await self.cases.execute(
            self.case_id,
            c.DecideApproval(actor=self.supervisor, kind=ApprovalKind.CLOSURE, approve=True),
        )
        progress("closed")


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set, for `seconds` at most: is it set?"""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def _first_of(wanted: asyncio.Event, stop: asyncio.Event) -> bool:
    """Wait until `wanted` or `stop` is set: is `wanted` set?"""
    waits = [asyncio.ensure_future(e.wait()) for e in (wanted, stop)]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return wanted.is_set()


def _reason(outcome: GoalOutcome) -> str:
    return {
        GoalOutcome.MET: "Objective reached and confirmed with the client",
        GoalOutcome.PARTLY_MET: "Good progress; some steps still open",
        GoalOutcome.NOT_MET: "Client could not engage with the service",
    }[outcome]
