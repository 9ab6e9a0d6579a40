"""Steps of a simulated case's referrals (devtools/simulation.py): made, dispatched (or
failed to be), answered, completed, reported on, and followed up. `STEPS` maps each
step's name to the function taking it.
"""

from __future__ import annotations

from devtools.simulation_state import CLIENT_NAME, PROVIDERS, CaseState, Chooser, EmitFn
from events.vocabulary import (
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralMade,
)


def _step_refer(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = f"ref-{len(s.referrals) + 1}"
    s.referrals[referral_id] = "made"
    emit(
        ReferralMade(
            referral_id=referral_id,
            provider_id=c.choice(PROVIDERS),
            service_id="service-1",
            goal_id=c.choice(s.plan_goals),
        )
    )


def _pick_referral(s: CaseState, c: Chooser, *statuses: str) -> str:
    return c.choice(sorted(r for r, st in s.referrals.items() if st in statuses))


def _step_dispatch(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = _pick_referral(s, c, "made", "dispatch_failed")
    if c.choice([True, True, False]):
        s.referrals[referral_id] = "sent"
        emit(
            ReferralDispatched(referral_id=referral_id, channel="email", attempts=1),
            "casework",
            "system",
        )
    else:
        s.referrals[referral_id] = "dispatch_failed"
        emit(
            ReferralDispatchFailed(referral_id=referral_id, attempts=1, error="mailbox full"),
            "casework",
            "system",
        )


def _step_respond(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = _pick_referral(s, c, "sent")
    if c.choice([True, False]):
        s.referrals[referral_id] = "accepted"
        emit(ReferralAccepted(referral_id=referral_id), "casework", "system")
    else:
        s.referrals[referral_id] = "declined"
        emit(ReferralDeclined(referral_id=referral_id, reason="no capacity"), "casework", "system")


def _step_complete(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = _pick_referral(s, c, "accepted")
    s.referrals[referral_id] = "completed"
    emit(ReferralCompleted(referral_id=referral_id), "casework", "system")


def _step_report(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = _pick_referral(s, c, "accepted")
    emit(
        ProviderReportReceived(referral_id=referral_id, report=f"{CLIENT_NAME} attended"),
        "casework",
        "system",
    )


def _step_follow_up(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    referral_id = _pick_referral(s, c, "sent")
    emit(
        ReferralFollowUpDue(referral_id=referral_id, waiting_since=s.clock),
        "casework",
        "system",
    )


STEPS = {
    "refer": _step_refer,
    "dispatch": _step_dispatch,
    "respond": _step_respond,
    "complete": _step_complete,
    "report": _step_report,
    "follow_up": _step_follow_up,
}
