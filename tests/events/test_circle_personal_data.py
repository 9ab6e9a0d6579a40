"""Circle members' details and conference decisions are the client's personal data.

Against the real PostgreSQL, like tests/events/test_personal_data.py: the raw rows never
hold a circle member's name, phone or address or a conference's decisions; the store
reads them back with the client's key; `forget` erases them with the client's own
details while the events, their non-personal fields and the hash chains stay.
"""

from __future__ import annotations

from datetime import date

import asyncpg

from application.forget import forget
from directory import resolve_actor
from events.chain import verify_chains
from events.personal import ERASED_TEXT
from events.store import EventStore
from events.vocabulary import (
    CaseConferenceRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleMemberUpdated,
    CircleRole,
    ClientContact,
    Participants,
)
from tests.events.test_personal_data import (  # noqa: F401 (fixtures)
    append,
    open_case,
    raw_data,
    sealed,
    seed_staff,
)

SISTER_NAME = "Mona Quennell-Ashby"
SISTER_PHONE = "+44 7700 900777"
SISTER_ADDRESS = "9 Tamarind Close"
DECISION = "Mona hosts Rosalind at Tamarind Close until the tenancy starts"
CIRCLE_SECRETS = (SISTER_NAME, SISTER_PHONE, SISTER_ADDRESS, "Tamarind", "older sister")


def sister() -> CircleMemberAdded:
    return CircleMemberAdded(
        member_id="member-1",
        role=CircleRole.FAMILY_MEMBER,
        details=CircleMemberDetails(
            name=SISTER_NAME,
            relationship="older sister",
            contact=ClientContact(phone=SISTER_PHONE, address=SISTER_ADDRESS),
            notes="Works nights",
        ),
    )


def conference() -> CaseConferenceRecorded:
    return CaseConferenceRecorded(
        conference_id="conference-1",
        held_on=date(2026, 2, 3),
        client_attended=True,
        participants=Participants(staff=["cal"], circle=["member-1"]),
        decisions=[DECISION, "Apply for the Elm Row flat"],
        notes="Rosalind spoke first",
    )


async def test_circle_details_are_sealed_read_back_and_erased_by_forget(
    sealed: EventStore,  # noqa: F811
    pool: asyncpg.Pool,
) -> None:
    await seed_staff(sealed)
    stream = await open_case(sealed)
    moved = sister().details.model_copy(
        update={"contact": ClientContact(phone=SISTER_PHONE, address="1 Tamarind Court")}
    )
    update = CircleMemberUpdated(member_id="member-1", role=CircleRole.CARER, details=moved)
    await append(sealed, stream, sister(), update, conference())

    for row in await raw_data(pool):
        for secret in (*CIRCLE_SECRETS, DECISION):
            assert secret not in row

    added, updated, held = [sealed.decode(e) for e in (await sealed.read_stream(stream))[-3:]]
    assert isinstance(added, CircleMemberAdded) and added.details.name == SISTER_NAME
    assert added.details.contact.phone == SISTER_PHONE
    assert isinstance(updated, CircleMemberUpdated)
    assert updated.details.contact.address == "1 Tamarind Court"
    assert isinstance(held, CaseConferenceRecorded) and held.decisions[0] == DECISION

    await forget(sealed, await resolve_actor(sealed, "ada"), "client-rqa", "erasure request")

    added, updated, held = [sealed.decode(e) for e in (await sealed.read_stream(stream))[-4:-1]]
    assert isinstance(added, CircleMemberAdded) and isinstance(updated, CircleMemberUpdated)
    for details in (added.details, updated.details):
        assert details == CircleMemberDetails(name=ERASED_TEXT, notes=ERASED_TEXT)
    assert (added.member_id, added.role, updated.role) == (
        "member-1",
        CircleRole.FAMILY_MEMBER,
        CircleRole.CARER,
    )
    assert isinstance(held, CaseConferenceRecorded)
    assert held.decisions == [ERASED_TEXT, ERASED_TEXT] and held.notes == ERASED_TEXT
    assert held.participants == Participants(staff=["cal"], circle=["member-1"])
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert report.ok, report.findings
