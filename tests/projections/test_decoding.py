"""Handlers receive decoded events with personal fields erased, even from a sealed log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
import pytest

from devtools.simulation import CLIENT_NAME, RandomChooser, simulate_case
from events.crypto import ENVELOPE_PREFIX
from events.envelope import EventMetadata, RecordedEvent
from events.personal import ERASED_TEXT
from events.registry import DomainEvent, EventValidationError
from events.store import EventStore
from events.vocabulary import (
    CaseOpened,
    ClientDetails,
    ContactKind,
    ContactLogged,
    ReferralSource,
)
from projections.base import Projection, decode, handler_map, on
from projections.catalog import all_projections
from projections.runner import ProjectionStopped, apply_events
from tests.projections.conftest import append_interleaved, catch_up, snapshot

WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _recorded(event_type: str, data: dict[str, Any], stream: str = "case-x") -> RecordedEvent:
    return RecordedEvent(
        global_position=1,
        transaction_id=1,
        stream_id=stream,
        stream_version=1,
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata=EventMetadata(actor_id="tester", actor_role="system"),
        occurred_at=WHEN,
        recorded_at=WHEN,
        previous_hash=None,
        hash=b"x",
    )


def _opened_data() -> dict[str, Any]:
    return CaseOpened(
        case_id=uuid.uuid4(),
        client_ref="C-1",
        client=ClientDetails(name="Private Person", date_of_birth=date(1980, 2, 3)),
        referral_source=ReferralSource.OUTREACH,
        assigned_worker="worker-a1",
        team="team-a",
        presenting_needs=["housing"],
    ).to_data()


def test_decode_erases_personal_fields_sealed_or_not() -> None:
    plain = decode(_recorded("CaseOpened", _opened_data()))
    sealed_data = _opened_data()
    sealed_data["client"] = {
        key: f"{ENVELOPE_PREFIX}key-1:bm90LWEtZGF0ZQ" for key in sealed_data["client"]
    }
    sealed = decode(_recorded("CaseOpened", sealed_data))  # a date of birth that is no date
    for event in (plain, sealed):
        assert isinstance(event, CaseOpened)
        assert event.client.name == ERASED_TEXT and event.client.date_of_birth is None
        assert event.client.identifiers == {} and event.client_ref == "C-1"
        assert event.team == "team-a"


def test_decode_refuses_data_that_does_not_fit_its_model() -> None:
    with pytest.raises(EventValidationError, match="contact_date"):
        decode(_recorded("ContactLogged", {"contact_id": "c1", "kind": "phone"}))


def test_handlers_are_keyed_by_their_vocabulary_model() -> None:
    async def noop(conn: asyncpg.Connection, event: ContactLogged, envelope: RecordedEvent) -> None:
        return None

    event_type, _ = on(ContactLogged, noop)
    assert event_type == "ContactLogged"

    class ContactLogged2(DomainEvent):
        type: Literal["ContactLogged"] = "ContactLogged"

    async def stray(
        conn: asyncpg.Connection, event: ContactLogged2, envelope: RecordedEvent
    ) -> None:
        return None

    with pytest.raises(ValueError, match="not the vocabulary's model"):
        on(ContactLogged2, stray)
    with pytest.raises(ValueError, match="two handlers for ContactLogged"):
        handler_map(on(ContactLogged, noop), on(ContactLogged, noop))


async def test_a_typed_handler_gets_the_model_and_the_envelope(pool: asyncpg.Pool) -> None:
    seen: list[tuple[ContactLogged, RecordedEvent]] = []

    async def contact(
        conn: asyncpg.Connection, event: ContactLogged, envelope: RecordedEvent
    ) -> None:
        seen.append((event, envelope))

    projection = Projection("typed", (), handler_map(on(ContactLogged, contact)))
    good = _recorded(
        "ContactLogged",
        ContactLogged(
            contact_id="c1", kind=ContactKind.PHONE, contact_date=date(2026, 1, 5), notes="secret"
        ).to_data(),
    )
    bad = _recorded("ContactLogged", {"contact_id": "c2", "kind": "fax"})
    async with pool.acquire() as conn:
        await apply_events(conn, projection, [good])
        with pytest.raises(ProjectionStopped, match=f"{bad.event_id}.*kind"):
            await apply_events(conn, projection, [bad])
    [(event, envelope)] = seen
    assert event.contact_date == date(2026, 1, 5) and event.kind is ContactKind.PHONE
    assert event.notes == ERASED_TEXT  # personal: never reaches a read model
    assert envelope is good


async def test_projections_read_a_sealed_log_without_its_keys(
    sealed_store: EventStore, store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(17)
    cases = [simulate_case(chooser, steps=40) for _ in range(8)]
    await append_interleaved(sealed_store, cases, chooser)
    [opened] = await store.read_stream(f"case-{cases[0][0]}", limit=1)
    assert opened.data["client"]["date_of_birth"].startswith(ENVELOPE_PREFIX)

    await catch_up(database_url, store)  # the projector's store: no cipher, no keys

    total = await pool.fetchval("SELECT count(*) FROM events")
    assert await pool.fetchval("SELECT count(*) FROM case_timeline") == total
    assert await pool.fetchval("SELECT count(*) FROM case_summary") == len(cases)
    for projection in all_projections():
        for table, rows in (await snapshot(pool, projection)).items():
            for row in rows:
                assert ENVELOPE_PREFIX not in repr(row), f"{table} holds sealed data: {row}"
                assert CLIENT_NAME not in repr(row), f"{table} holds a client name: {row}"
