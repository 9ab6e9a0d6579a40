"""CaseWorkflow in the time-skipping environment with the real event store."""

from __future__ import annotations

import asyncpg
import pytest

from application.case_client import CaseClient, CaseCommandRejected
from cases import commands as c
from cases.evolve import fold
from cases.state import CaseStatus, ReferralStatus
from devtools.provider_simulator import ProviderSimulator
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    ContactKind,
)
from tests.cases import inputs
from tests.cases.people import ALICE, CAROL, DAN, ERIN
from tests.workflows import scenarios

Harness = tuple[CaseClient, EventStore]


async def stream_types(store: EventStore, case_id: object) -> list[str]:
    return [e.event_type for e in await store.read_stream(f"case-{case_id}")]


async def test_whole_lifecycle_from_intake_to_closure_and_reopen(
    case_worker: Harness,
) -> None:
    cases, store = case_worker
    async with ProviderSimulator() as provider:
        case_id = await scenarios.closed_case(cases, provider.provider_url("shelter-1"))
        final = await cases.handle(case_id).result()
        assert final.status is CaseStatus.CLOSED
        # The provider received both referrals, with only the consented fields.
        received = provider.referrals_for("shelter-1")
        assert [r.referral_id for r in received] == ["referral-1", "referral-2"]
        assert received[0].body["shared"]["name"] == "Rosalind Quennell-Ashby"
        assert "date_of_birth" not in received[0].body["shared"]

        reopened = await cases.execute(case_id, c.Reopen(actor=CAROL, reason="client relapsed"))
        assert reopened.status is CaseStatus.OPEN
        await cases.execute(
            case_id,
            c.LogContact(
                actor=ALICE,
                kind=ContactKind.PHONE,
                contact_date=await scenarios.days_after_opening(cases, case_id, 60),
            ),
        )

    log = await store.read_stream(f"case-{case_id}")
    types = [e.event_type for e in log]
    # Opening schedules the first review; reopening a fresh one.
    assert types[:2] == ["CaseOpened", "ReviewScheduled"]
    assert types[-3:] == ["CaseReopened", "ReviewScheduled", "ContactLogged"]
    assert "CaseClosed" in types
    assert types.count("ReferralDispatched") == 2
    assert types.count("ApprovalReturned") == 1
    assessed = next(e for e in log if e.event_type == "AssessmentRecorded")
    assert assessed.data["risk_level"] == "high"
    assert {e.metadata.actor_id for e in log if e.event_type == "ApprovalGranted"} == {"carol"}
    # The running workflow's state equals the fold of the log.
    assert await cases.state(case_id) == fold(log)


async def test_author_may_not_approve_and_nothing_is_written(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case(actor=CAROL, assignee=ALICE)
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.assessment(actor=CAROL))
    await cases.execute(cmd.case_id, inputs.plan(actor=CAROL))
    await cases.execute(cmd.case_id, c.SubmitPlan(actor=ALICE))
    before = await stream_types(store, cmd.case_id)
    with pytest.raises(CaseCommandRejected, match="carol wrote plan v1 and may not approve it"):
        await cases.execute(
            cmd.case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
        )
    assert await stream_types(store, cmd.case_id) == before
    await cases.execute(
        cmd.case_id, c.DecideApproval(actor=DAN, kind=ApprovalKind.PLAN, approve=True)
    )
    assert (await cases.state(cmd.case_id)).active_plan is not None


async def test_caseworker_of_another_team_is_refused(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    with pytest.raises(CaseCommandRejected, match=r"erin .* is not in the case's team north"):
        await cases.execute(
            cmd.case_id,
            c.LogContact(
                actor=ERIN,
                kind=ContactKind.PHONE,
                contact_date=await scenarios.days_after_opening(cases, cmd.case_id, 1),
            ),
        )
    assert await stream_types(store, cmd.case_id) == ["CaseOpened", "ReviewScheduled"]


async def test_referral_outside_consent_is_refused(case_worker: Harness) -> None:
    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.consent(providers=("food-bank",)))
    await cases.execute(cmd.case_id, inputs.assessment())
    await cases.execute(cmd.case_id, inputs.plan())
    await cases.execute(cmd.case_id, c.SubmitPlan(actor=ALICE))
    await cases.execute(
        cmd.case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
    )
    before = await stream_types(store, cmd.case_id)
    with pytest.raises(CaseCommandRejected, match="not consented to share with shelter-1"):
        await cases.execute(cmd.case_id, inputs.refer(provider="shelter-1"))
    assert await stream_types(store, cmd.case_id) == before


async def test_invalid_assessment_names_the_field_and_writes_nothing(
    case_worker: Harness, pool: asyncpg.Pool
) -> None:
    cases, _ = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    with pytest.raises(ValueError, match="rating"):
        c.RecordAssessment.model_validate(
            {
                "actor": ALICE.model_dump(),
                "assessment": {"domains": {"housing": {"rating": 9}}},
            }
        )
    assert await pool.fetchval("SELECT count(*) FROM events") == 2


async def test_declined_dispatch_is_recorded(case_worker: Harness) -> None:
    """A provider that rejects the referral outright (HTTP 400) is recorded, not retried."""
    from devtools.provider_simulator import Behaviour, Fault

    cases, store = case_worker
    async with ProviderSimulator() as provider:
        provider.configure("shelter-1", Behaviour.always(Fault.REJECT))
        cmd = inputs.open_case()
        await cases.open(cmd)
        await cases.execute(cmd.case_id, inputs.consent())
        await cases.execute(cmd.case_id, inputs.assessment())
        await cases.execute(cmd.case_id, inputs.plan())
        await cases.execute(cmd.case_id, c.SubmitPlan(actor=ALICE))
        await cases.execute(
            cmd.case_id, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True)
        )
        await cases.execute(cmd.case_id, inputs.refer(url=provider.provider_url("shelter-1")))
        for _ in range(100):
            state = await cases.state(cmd.case_id)
            if state.referrals["referral-1"].status is ReferralStatus.DISPATCH_FAILED:
                break
        assert state.referrals["referral-1"].status is ReferralStatus.DISPATCH_FAILED
    assert "ReferralDispatchFailed" in await stream_types(store, cmd.case_id)


async def test_forgetting_the_client_erases_the_running_case(case_worker: Harness) -> None:
    from application.forget import forget
    from directory import bootstrap_admin, resolve_actor

    cases, store = case_worker
    cmd = inputs.open_case()
    await cases.open(cmd)
    await cases.execute(cmd.case_id, inputs.consent())
    await bootstrap_admin(store, "root", "Agency admin")
    before = await store.read_stream(f"case-{cmd.case_id}")

    admin = await resolve_actor(store, "root")
    result = await forget(store, admin, cmd.client_ref, "client asked to be forgotten", cases)

    assert result.recorded_in == (f"case-{cmd.case_id}",)
    state = await cases.state(cmd.case_id)
    assert state.forgotten and state.client.name == "[erased]"
    assert state.client.date_of_birth is None and state.consent.preferences == "[erased]"
    log = await store.read_stream(f"case-{cmd.case_id}")
    assert [e.hash for e in log[: len(before)]] == [e.hash for e in before]
    assert log[-1].event_type == "ClientForgotten"
    assert state == fold(log)
    raw = await store.pool.fetchval("SELECT string_agg(data::text, ' ') FROM events")
    assert "Quennell" not in raw
