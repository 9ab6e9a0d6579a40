"""Withdrawing a referral: the case's worker takes back a referral the provider has not
completed (the client found another service, moved away, no longer wants it), with a
reason. The referral leaves the open referrals (no follow-up, no escalation), a late
reply from the provider is refused, and the provider is told through the webhook it
was referred by (the workflow's side effects, `ReferralWithdrawn`).

The slice: its event `ReferralWithdrawn` (events/vocabulary/), its command and rule,
its fold and its timeline line here; the referrals read model (projections/referrals.py)
shows it; `casework case referral withdraw` and
`POST /api/v1/cases/{id}/commands/withdraw_referral` send it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.feature import CaseCommand, Feature, stateful
from cases.said import N_, say
from cases.state import CaseState, FoldError, ReferralStatus
from events.fields import Identifier, ShortText
from events.registry import DomainEvent
from events.vocabulary import ReferralWithdrawn

WITHDRAWABLE = frozenset(
    {
        ReferralStatus.MADE,
        ReferralStatus.DISPATCHED,
        ReferralStatus.DISPATCH_FAILED,
        ReferralStatus.ACCEPTED,
    }
)
"""A referral can be withdrawn until the provider has declined or completed it."""


class WithdrawReferral(c.Command):
    """Withdraw a referral the provider has not completed, saying why."""

    referral_id: Identifier
    reason: ShortText = Field(min_length=1)


def decide_withdraw_referral(state: CaseState, cmd: WithdrawReferral) -> list[DomainEvent]:
    permit_open(state, cmd, Action.WORK, "withdrawing a referral")
    referral = state.referrals.get(cmd.referral_id)
    if referral is None:
        raise CommandRejected(f"referral_id: the case has no referral {cmd.referral_id}")
    if referral.status not in WITHDRAWABLE:
        raise CommandRejected(
            f"referral_id: {cmd.referral_id} is {referral.status}: only a referral not yet "
            "declined, completed or withdrawn can be withdrawn"
        )
    return [
        ReferralWithdrawn(
            referral_id=cmd.referral_id, provider_id=referral.provider_id, reason=cmd.reason
        )
    ]


def withdrawn(state: CaseState, event: ReferralWithdrawn, actor_id: str, at: datetime) -> None:
    referral = state.referrals.get(event.referral_id)
    if referral is None:
        raise FoldError(f"no referral {event.referral_id}")
    referral.status = ReferralStatus.WITHDRAWN
    referral.reason = event.reason
    referral.updated_at = at


FEATURE = Feature(
    name="referral withdrawal",
    commands=(
        CaseCommand(
            command=WithdrawReferral,
            update="withdraw_referral",
            action=Action.WORK,
            decide=stateful(decide_withdraw_referral),
        ),
    ),
    folds={ReferralWithdrawn: withdrawn},
    timeline={
        ReferralWithdrawn: lambda e: say(
            N_("Referral %(referral)s withdrawn"), referral=e.referral_id
        )
    },
    provider_notices={ReferralWithdrawn: "referral.withdrawn"},
)
