"""Commands: what staff ask of a case. Each carries the acting staff member.

The engine's edge (CLI, API) resolves staff ids and directory entries into the
plain values here (an `Actor`, a provider's channel), so the rules and the
workflow's validators decide without I/O.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from cases.actors import Actor
from cases.policy import Policy
from events.fields import Identifier, LongText, ShortList, ShortText
from events.vocabulary import (
    ApprovalKind,
    ClientDetails,
    ClientParticipation,
    ClosureReason,
    ContactKind,
    Domain,
    DomainRating,
    Goal,
    GoalEvaluation,
    GoalStatus,
    NextStep,
    ReferralSource,
    SharedField,
)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Actor
    expected_version: int | None = Field(default=None, ge=0)
    """The case's version the sender saw (HTTP If-Match): refused if it moved on since.
    None: no check (the command line, the engine's own commands)."""


class OpenCase(Command):
    case_id: UUID
    client_ref: Identifier
    client: ClientDetails
    referral_source: ReferralSource
    referring_agency: ShortText | None = None
    assignee: Actor
    presenting_needs: ShortList = Field(min_length=1)


class RecordConsent(Command):
    shared_fields: list[SharedField] = Field(default_factory=list)
    providers: list[Identifier] = Field(default_factory=list, max_length=100)
    preferences: LongText = ""


class AssessmentInput(BaseModel):
    """What the worker records; scoring adds needs and the risk level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: dict[Domain, DomainRating] = Field(min_length=1)
    strengths: ShortList = Field(default_factory=list)
    resources: ShortList = Field(default_factory=list)
    barriers: ShortList = Field(default_factory=list)
    client_priorities: ShortList = Field(default_factory=list)


class RecordAssessment(Command):
    assessment: AssessmentInput


class PlanInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    goals: list[Goal] = Field(min_length=1, max_length=30)
    crisis_plan: LongText = ""
    participation: ClientParticipation


class DraftPlan(Command):
    plan: PlanInput


class SubmitPlan(Command):
    note: LongText = ""


class DecideApproval(Command):
    kind: ApprovalKind
    approve: bool
    note: LongText = ""
    reasons: ShortList = Field(default_factory=list)


class Refer(Command):
    provider_id: Identifier
    service_id: Identifier
    goal_id: Identifier
    channel_url: HttpUrl
    shared_fields: list[SharedField] = Field(default_factory=list)
    note: LongText = ""


class ReferralReply(Command):
    referral_id: Identifier
    outcome: Literal["accepted", "declined", "completed"]
    reason: ShortText | None = None
    note: LongText = ""


class ProviderReport(Command):
    referral_id: Identifier
    report: LongText = Field(min_length=1)


class LogContact(Command):
    kind: ContactKind
    contact_date: date = Field(ge=date(2000, 1, 1), le=date(2100, 1, 1))
    duration_minutes: int = Field(default=0, ge=0, le=24 * 60)
    notes: LongText = ""


class RecordProgress(Command):
    goal_id: Identifier
    status: GoalStatus
    note: LongText = ""


class Evaluate(Command):
    evaluations: list[GoalEvaluation] = Field(min_length=1, max_length=30)
    next_step: NextStep


class Assign(Command):
    assignee: Actor
    reason: ShortText


class RequestTransfer(Command):
    to_team: Identifier
    to_worker: Actor | None = None
    reason: ShortText


class ReplyTransfer(Command):
    accept: bool
    reason: ShortText | None = None


class RequestClosure(Command):
    reason: ClosureReason
    note: LongText = ""


class Reopen(Command):
    reason: ShortText


class HoldCase(Command):
    """Pause the review clock (the client is in hospital, for example) until a date."""

    reason: ShortText
    until: AwareDatetime


class ResumeCase(Command):
    reason: ShortText


class RecordNote(Command):
    """A free-text note on the case, by anyone of its team."""

    text: Annotated[LongText, StringConstraints(min_length=1)]


class ForgetClient(Command):
    """Record that the client's personal data was erased (their data key destroyed)."""

    reason: ShortText


class ApplyPolicy(Command):
    policy: Policy
