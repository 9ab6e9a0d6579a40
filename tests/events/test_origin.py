"""Origin proofs (events/origin.py): every event the engine appends carries an HMAC made
with a key the database never sees, and `verify_origins` names every event without a
valid one: above all a well-formed event INSERTed directly with the engine's database
role, which the hash chain alone accepts."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.chain import verify_chains
from events.origin import OriginKeyring, canonical_json, verify_origins
from events.store import EventStore
from tests.events.factories import contact_event
from tests.security.test_db_roles import LoginFor, connected, login_as  # noqa: F401

KEYRING = OriginKeyring.generate("test-origin")


@pytest.fixture
def signing_store(pool: asyncpg.Pool) -> EventStore:
    return EventStore(pool, origin=KEYRING)


async def _forge(conn: asyncpg.Connection, stream: str, version: int, **extra: Any) -> uuid.UUID:
    """A well-formed ContactLogged INSERTed by hand, the way the engine would write it."""
    forged = contact_event(version)
    overriding = "OVERRIDING SYSTEM VALUE" if "global_position" in extra else ""
    columns = ", global_position" if "global_position" in extra else ""
    values = f", {int(extra['global_position'])}" if "global_position" in extra else ""
    mac = extra.get("origin")
    await conn.execute(
        f"""INSERT INTO events (stream_id, stream_version, event_id, event_type,
                schema_version, data, metadata, occurred_at, origin_key, origin_mac{columns})
            {overriding}
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10{values})""",
        stream,
        version,
        forged.event_id,
        forged.event_type,
        forged.schema_version,
        json.dumps(forged.data),
        forged.metadata.model_dump_json(),
        forged.occurred_at,
        mac[0] if mac else None,
        mac[1] if mac else None,
    )
    return forged.event_id


async def test_events_appended_by_the_engine_carry_valid_proofs(
    signing_store: EventStore, pool: asyncpg.Pool
) -> None:
    await signing_store.append("case-a", 0, [contact_event(1)])
    await signing_store.append("case-a", 1, [contact_event(2), contact_event(3)])
    await signing_store.append("case-b", 0, [contact_event(4, notes="Zoë — naïve")])
    async with pool.acquire() as conn:
        report = await verify_origins(conn, KEYRING)
        assert (await verify_chains(conn)).ok
    assert report.ok, report.lines()
    assert (report.events, report.signed, report.before_proofs) == (4, 4, 0)
    assert report.cutover is not None and report.cutover.unsigned_events == 0
    # Another key does not verify them.
    async with pool.acquire() as conn:
        other = await verify_origins(conn, OriginKeyring.generate("test-origin"))
    assert len(other.findings) == 4
    assert other.problems == [
        "the cutover record is not the engine's: origin proof does not match "
        "(not written by the engine, or altered)"
    ]
    assert all("does not match" in f.problem for f in other.findings)


async def test_an_event_inserted_with_the_engine_role_is_found(
    signing_store: EventStore,
    pool: asyncpg.Pool,
    login_as: LoginFor,  # noqa: F811
) -> None:
    stream = f"case-{uuid.uuid4()}"
    await signing_store.append(stream, 0, [contact_event(1)])
    async with connected(await login_as("casework_engine")) as engine:
        forged = await _forge(engine, stream, 2)
        # A made-up proof, and a proof copied from another event, are no better.
        made_up = await _forge(engine, stream, 3, origin=(KEYRING.current_id, b"\x00" * 32))
        copied = await engine.fetchrow(
            "SELECT origin_key, origin_mac FROM events WHERE stream_id = $1 AND stream_version = 1",
            stream,
        )
        replayed = await _forge(
            engine, stream, 4, origin=(copied["origin_key"], copied["origin_mac"])
        )
    async with pool.acquire() as conn:
        assert (await verify_chains(conn)).ok  # the chain trigger chained them all
        report = await verify_origins(conn, KEYRING)
    assert not report.ok
    named = {(f.stream_id, f.stream_version, f.event_id): f.problem for f in report.findings}
    assert named == {
        (stream, 2, forged): "no origin proof, written after proofs began",
        (stream, 3, made_up): "origin proof does not match (not written by the engine, or altered)",
        (
            stream,
            4,
            replayed,
        ): "origin proof does not match (not written by the engine, or altered)",
    }
    assert f"origin: {stream} v2 (event {forged}, position" in "\n".join(report.lines())


async def test_events_from_before_proofs_are_accepted_as_recorded_and_only_those(
    store: EventStore, signing_store: EventStore, pool: asyncpg.Pool
) -> None:
    # Two events written before origin proofs existed (a store without the key).
    await store.append("case-old", 0, [contact_event(1), contact_event(2)])
    await signing_store.append("case-old", 2, [contact_event(3)])
    await signing_store.append("case-new", 0, [contact_event(4)])
    async with pool.acquire() as conn:
        report = await verify_origins(conn, KEYRING)
    assert report.ok, report.lines()
    assert (report.signed, report.before_proofs) == (2, 2)
    assert report.cutover is not None
    assert report.cutover.unsigned_events == 2

    # The cutover cannot be moved: it is MACed, and the table refuses UPDATE and DELETE.
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE origin_cutover SET unsigned_events = 3")
        # An event slipped in below the cutover's position by the owner is found.
        await _forge(conn, "case-old-2", 1, global_position=-5)
        report = await verify_origins(conn, KEYRING)
    assert not report.ok
    assert report.problems == [
        f"the events without origin proofs up to position "
        f"{report.cutover.last_unsigned_position if report.cutover else '?'} are not the 2 "
        "recorded when proofs began (3 now): one was added, removed or replaced"
    ]


async def test_a_missing_cutover_with_unsigned_events_is_reported(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await store.append("case-x", 0, [contact_event(1)])
    async with pool.acquire() as conn:
        report = await verify_origins(conn, KEYRING)
    assert not report.ok
    assert report.problems and "no cutover record" in report.problems[0]
    assert [f.stream_version for f in report.findings] == [1]


def test_the_keyring_setting_round_trips_and_names_its_errors() -> None:
    keyring = OriginKeyring.generate("k1")
    assert OriginKeyring.parse(keyring.to_spec()) == keyring
    for bad, message in (
        ("k1", "lacks the 'id:base64' colon"),
        ("k1:!!", "is not base64"),
        ("k1:AAAA", "must be 32 bytes"),
        ("", "no origin key"),
    ):
        with pytest.raises(ValueError, match=message):
            OriginKeyring.parse(bad)
    assert "AAAA" not in repr(keyring) and str(keyring.keys["k1"]) not in repr(keyring)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(
                st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=5
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


async def test_canonical_json_is_the_same_from_python_and_from_postgres_jsonb(
    pool: asyncpg.Pool,
) -> None:
    """The engine MACs the value it sends; the verifier the value PostgreSQL renders
    back. Whatever jsonb does to the text (key order, spacing, `1e+16`), they agree."""
    async with pool.acquire() as conn:
        samples: list[Any] = []

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(JSON)
        def collect(value: Any) -> None:
            samples.append(value)

        collect()
        samples += [{"a": 1e16, "b": 1.0, "c": 0.1, "d": 1e-7, "e": -0.0, "f": 1e300}]
        for value in samples:
            sent = json.dumps(value)
            rendered = await conn.fetchval("SELECT $1::jsonb::text", sent)
            assert canonical_json(json.loads(rendered)) == canonical_json(value), (sent, rendered)
    assert canonical_json({"b": Decimal("1.50"), "a": [1.0, 2]}) == '{"a":[1,2],"b":1.5}'


async def test_the_engine_role_appends_signed_events_and_records_the_cutover(
    pool: asyncpg.Pool,
    login_as: LoginFor,  # noqa: F811
) -> None:
    """The worker's least-privilege login may record the cutover and sign its appends,
    and may not move the cutover afterwards."""
    from infrastructure.database import create_pool

    engine_pool = await create_pool(await login_as("casework_engine"), max_size=2)
    try:
        engine = EventStore(engine_pool, origin=KEYRING)
        await engine.append("case-e", 0, [contact_event(1), contact_event(2)])
        async with engine_pool.acquire() as conn:
            for sql in (
                "UPDATE origin_cutover SET unsigned_events = 5",
                "DELETE FROM origin_cutover",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(sql)
    finally:
        await engine_pool.close()
    async with pool.acquire() as conn:
        report = await verify_origins(conn, KEYRING)
    assert report.ok and report.signed == 2, report.lines()
