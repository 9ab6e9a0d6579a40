"""The client's feedback (issue 16): the client's opinion of a service, a referral or
their plan (a rating from 1 poor to 5 very good, their own words, and for the plan
whether they agree with it), recorded on their case.

The slice: its event `ClientFeedbackRecorded` (events/vocabulary/advocacy.py), its rule,
its fold and its timeline line here; its command's model `RecordFeedback` in
cases/commands.py (the API's shared models); the outcomes read model
(projections/outcomes.py) shows it; `casework case feedback` and
`POST /api/v1/cases/{id}/commands/record_feedback` send it.
"""

from __future__ import annotations

from datetime import datetime

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.feature import CaseCommand, Feature, stateful
from cases.said import N_, Said, say
from cases.state import CaseState
from events.registry import DomainEvent
from events.vocabulary import ClientFeedbackRecorded, FeedbackSubject


def decide_feedback(state: CaseState, cmd: c.RecordFeedback) -> list[DomainEvent]:
    """The client's feedback on a service, a referral or the plan they were asked about."""
    permit_open(state, cmd, Action.FEEDBACK, "the client's feedback")
    feedback_id = f"feedback-{state.feedback + 1}"
    common = {"feedback_id": feedback_id, "rating": cmd.rating, "words": cmd.words}
    if cmd.subject is FeedbackSubject.PLAN:
        if cmd.agrees_with_plan is None:
            raise CommandRejected("agrees_with_plan: say whether the client agrees with the plan")
        plan = state.draft_plan or state.active_plan
        if plan is None:
            raise CommandRejected("the case has no plan yet: draft one first")
        return [
            ClientFeedbackRecorded(
                subject=cmd.subject,
                plan_id=plan.plan_id,
                plan_version=plan.plan_version,
                agrees_with_plan=cmd.agrees_with_plan,
                **common,
            )
        ]
    if cmd.agrees_with_plan is not None:
        raise CommandRejected("agrees_with_plan: only feedback on the plan says it")
    if cmd.subject is FeedbackSubject.REFERRAL:
        if not cmd.referral_id:
            raise CommandRejected("referral_id: feedback on a referral names it")
        referral = state.referrals.get(cmd.referral_id)
        if referral is None:
            raise CommandRejected(f"referral_id: the case has no referral {cmd.referral_id}")
        return [
            ClientFeedbackRecorded(
                subject=cmd.subject,
                referral_id=referral.referral_id,
                provider_id=referral.provider_id,
                service_id=referral.service_id,
                **common,
            )
        ]
    if not cmd.provider_id or not cmd.service_id:
        raise CommandRejected(
            "provider_id, service_id: feedback on a service names the provider and the service"
        )
    return [
        ClientFeedbackRecorded(
            subject=cmd.subject,
            provider_id=cmd.provider_id,
            service_id=cmd.service_id,
            **common,
        )
    ]


def recorded(state: CaseState, event: ClientFeedbackRecorded, actor_id: str, at: datetime) -> None:
    state.feedback += 1


_SUBJECTS = {
    FeedbackSubject.SERVICE: N_("the service"),
    FeedbackSubject.REFERRAL: N_("the referral"),
    FeedbackSubject.PLAN: N_("the plan"),
}

_AGREES = {
    None: N_("Client feedback %(feedback)s on %(about)s: rated %(rating)s/5"),
    True: N_("Client feedback %(feedback)s on %(about)s: rated %(rating)s/5; agrees with it"),
    False: N_(
        "Client feedback %(feedback)s on %(about)s: rated %(rating)s/5; does not agree with it"
    ),
}


def _line(e: ClientFeedbackRecorded) -> Said:
    """Ids, the subject, the rating and the agreement: never the client's words."""
    about: Said = say(_SUBJECTS[e.subject])
    if e.referral_id:
        about = say("%(about)s %(referral)s", about=about, referral=e.referral_id)
    if e.provider_id:
        about = say(
            "%(about)s (%(provider)s/%(service)s)",
            about=about,
            provider=e.provider_id,
            service=str(e.service_id),
        )
    if e.plan_version:
        about = say("%(about)s v%(version)s", about=about, version=e.plan_version)
    return say(_AGREES[e.agrees_with_plan], feedback=e.feedback_id, about=about, rating=e.rating)


FEATURE = Feature(
    name="feedback",
    commands=(
        CaseCommand(
            command=c.RecordFeedback,
            update="record_feedback",
            action=Action.FEEDBACK,
            decide=stateful(decide_feedback),
        ),
    ),
    folds={ClientFeedbackRecorded: recorded},
    timeline={ClientFeedbackRecorded: _line},
)
