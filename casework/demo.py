"""A short event-store demonstration: two cases' first weeks, read back and verified.

`casework demo` runs it on the embedded stack. It stands in for the real demo
caseload (which drives case workflows) until that exists; replace this module then.
Every run uses fresh case ids, so it can run any number of times on the same data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from events.chain import VerifyReport, verify_chains
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    AssessmentRecorded,
    CaseOpened,
    ClientContact,
    ClientDetails,
    ConsentRecorded,
    ContactKind,
    ContactLogged,
    Domain,
    DomainNeed,
    DomainRating,
    ReferralSource,
    RiskLevel,
    SharedField,
)

DAYS_AGO = 10
"""The demo cases were opened this many days ago."""


@dataclass(frozen=True)
class Step:
    """One event in a case's story, with who recorded it and how many days in."""

    actor_id: str
    actor_role: str
    day: int
    event: DomainEvent


@dataclass(frozen=True)
class EventLine:
    version: int
    event_type: str
    actor_id: str
    global_position: int


@dataclass(frozen=True)
class CaseSummary:
    stream_id: str
    client_ref: str
    events: list[EventLine]
    last_version: int
    last_position: int


@dataclass(frozen=True)
class DemoResult:
    cases: list[CaseSummary]
    verify: VerifyReport


def _housing_case(case_id: uuid.UUID, opened: date) -> list[Step]:
    return [
        Step(
            "intake.rfernandes",
            "caseworker",
            0,
            CaseOpened(
                case_id=case_id,
                client_ref=f"CL-{case_id.hex[:8]}",
                client=ClientDetails(
                    name="Maria Okafor",
                    date_of_birth=date(1987, 4, 12),
                    contact=ClientContact(phone="555-0142"),
                ),
                referral_source=ReferralSource.AGENCY_REFERRAL,
                referring_agency="Eastside Family Shelter",
                assigned_worker="jlee",
                team="east-adult",
                presenting_needs=["facing eviction", "lost job in March"],
            ),
        ),
        Step(
            "jlee",
            "caseworker",
            0,
            ConsentRecorded(
                shared_fields=[SharedField.NAME, SharedField.CONTACT, SharedField.FINANCIAL],
                providers=["eastside-housing", "cityworks"],
                preferences="Text messages only; no calls to her workplace.",
            ),
        ),
        Step(
            "jlee",
            "caseworker",
            3,
            AssessmentRecorded(
                assessment_id="asmt-1",
                domains={
                    Domain.HOUSING: DomainRating(rating=4, notes="Notice to quit in 21 days"),
                    Domain.EMPLOYMENT: DomainRating(rating=3),
                    Domain.INCOME: DomainRating(rating=3, notes="No benefits claimed yet"),
                    Domain.SOCIAL_SUPPORT: DomainRating(rating=1, notes="Sister nearby"),
                },
                strengths=["motivated to work", "supportive sister"],
                barriers=["rent arrears"],
                client_priorities=["keep the flat", "find work"],
                needs=[
                    DomainNeed(domain=Domain.HOUSING, need="urgent"),
                    DomainNeed(domain=Domain.INCOME, need="high"),
                ],
                risk_level=RiskLevel.HIGH,
                scoring_rules="demo-v1",
            ),
        ),
        Step(
            "jlee",
            "caseworker",
            7,
            ContactLogged(
                contact_id="contact-1",
                kind=ContactKind.HOME_VISIT,
                contact_date=opened + timedelta(days=7),
                duration_minutes=50,
                notes="Went through the arrears letter together; benefits claim started.",
            ),
        ),
    ]


def _wellbeing_case(case_id: uuid.UUID, opened: date) -> list[Step]:
    return [
        Step(
            "outreach.tnguyen",
            "caseworker",
            0,
            CaseOpened(
                case_id=case_id,
                client_ref=f"CL-{case_id.hex[:8]}",
                client=ClientDetails(name="Daniel Reyes"),
                referral_source=ReferralSource.OUTREACH,
                assigned_worker="tnguyen",
                team="central-outreach",
                presenting_needs=["sleeping rough", "untreated diabetes"],
            ),
        ),
        Step(
            "tnguyen",
            "caseworker",
            1,
            ContactLogged(
                contact_id="contact-1",
                kind=ContactKind.OUTREACH,
                contact_date=opened + timedelta(days=1),
                duration_minutes=20,
                notes="Met at the day centre; agreed to meet again on Friday.",
            ),
        ),
        Step(
            "tnguyen",
            "caseworker",
            4,
            ConsentRecorded(
                shared_fields=[SharedField.NAME, SharedField.HEALTH],
                providers=["mercy-clinic"],
            ),
        ),
        Step(
            "tnguyen",
            "caseworker",
            4,
            AssessmentRecorded(
                assessment_id="asmt-1",
                domains={
                    Domain.HOUSING: DomainRating(rating=4),
                    Domain.PHYSICAL_HEALTH: DomainRating(rating=3, notes="Needs insulin"),
                    Domain.MENTAL_HEALTH: DomainRating(rating=2),
                },
                strengths=["knows the day-centre staff"],
                client_priorities=["a bed before winter"],
                needs=[
                    DomainNeed(domain=Domain.HOUSING, need="urgent"),
                    DomainNeed(domain=Domain.PHYSICAL_HEALTH, need="high"),
                ],
                risk_level=RiskLevel.CRISIS,
                scoring_rules="demo-v1",
            ),
        ),
    ]


async def record_case(
    store: EventStore, case_id: uuid.UUID, opened_at: datetime, steps: list[Step]
) -> CaseSummary:
    """Append the steps one command at a time, as the case workflow will."""
    stream_id = f"case-{case_id}"
    correlation = str(uuid.uuid4())
    version = 0
    position = 0
    for step in steps:
        metadata = EventMetadata(
            actor_id=step.actor_id, actor_role=step.actor_role, correlation_id=correlation
        )
        result = await store.append_domain(
            stream_id,
            version,
            [(uuid.uuid4(), step.event)],
            metadata,
            opened_at + timedelta(days=step.day),
        )
        version = result.last_version
        position = result.global_positions[-1]
    recorded = await store.read_stream(stream_id)
    first = store.decode(recorded[0])
    assert isinstance(first, CaseOpened)
    return CaseSummary(
        stream_id=stream_id,
        client_ref=first.client_ref,
        events=[
            EventLine(e.stream_version, e.event_type, e.metadata.actor_id, e.global_position)
            for e in recorded
        ],
        last_version=version,
        last_position=position,
    )


async def run_event_store_demo(pool: asyncpg.Pool) -> DemoResult:
    """Record two cases, read them back, and verify every hash chain in the log."""
    store = EventStore(pool)
    opened_at = datetime.now(UTC) - timedelta(days=DAYS_AGO)
    cases = []
    for build in (_housing_case, _wellbeing_case):
        case_id = uuid.uuid4()
        steps = build(case_id, opened_at.date())
        cases.append(await record_case(store, case_id, opened_at, steps))
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    return DemoResult(cases=cases, verify=report)
