"""Personal data in the event log: sealed with the client's data key, erased by forgetting.

Against the real PostgreSQL: the raw rows never hold a client's name or date of
birth; the store reads them back decrypted; `forget` destroys the data key so the
fields read as erased while events, hash chains and stream versions stay valid;
master keys rotate with `rewrap`; unknown keys fail with a clear message.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest
from pydantic import BaseModel
from temporalio.testing import WorkflowEnvironment

from application.forget import NotAdmin, forget, rewrap
from cases.actors import Actor, Role
from directory import add_staff, add_team, bootstrap_admin, resolve_actor
from events.chain import verify_chains
from events.crypto import (
    ENVELOPE_PREFIX,
    ClientAlreadyForgotten,
    FieldCipher,
    NoClientForStream,
)
from events.envelope import EventMetadata, NewEvent, RecordedEvent
from events.keys import (
    KeyringError,
    MasterKeyring,
    UnknownClient,
    UnknownDataKey,
    UnknownMasterKey,
)
from events.personal import ERASED_TEXT, erase_personal, personal_paths
from events.registry import DomainEvent, EventValidationError
from events.store import EventStore
from events.vocabulary import (
    CASE_EVENT_MODELS,
    AssessmentRecorded,
    CaseOpened,
    ClientContact,
    ClientDetails,
    ClientForgotten,
    ClientParticipation,
    ContactKind,
    ContactLogged,
    Domain,
    DomainNeed,
    DomainRating,
    Goal,
    GoalKind,
    GoalTerm,
    PlanDrafted,
    ReferralSource,
    ReviewDue,
    RiskLevel,
)
from infrastructure.keys import master_keyring
from infrastructure.settings import Settings
from tests.cli_session import served_cli
from tests.codec_keys import TEST_CODEC_KEYS

NAME = "Rosalind Quennell-Ashby"
DOB = date(1961, 3, 14)
PHONE = "+44 7700 900461"
SECRET_NOTE = "Rosalind disclosed the lodger at Marlowe Street"
SECRETS = (NAME, "Quennell", "1961-03-14", PHONE, "Marlowe Street", "Zanzibar orchard")

METADATA = EventMetadata(actor_id="cal", actor_role="caseworker")
AT = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
ADA = Actor(staff_id="ada", role=Role.ADMIN)
RING = MasterKeyring.generate("mk-shared")


def keyring(key_id: str = "mk-test-1") -> MasterKeyring:
    return MasterKeyring.generate(key_id)


def opened(case_id: uuid.UUID, client_ref: str = "client-rqa") -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        client_ref=client_ref,
        client=ClientDetails(
            name=NAME,
            date_of_birth=DOB,
            contact=ClientContact(phone=PHONE, address="12 Marlowe Street"),
            identifiers={"nhs": "943 476 5919"},
            notes="Prefers mornings; lodger at Marlowe Street",
        ),
        referral_source=ReferralSource.AGENCY_REFERRAL,
        referring_agency="Northgate GP",
        assigned_worker="cal",
        team="north",
        presenting_needs=["housing"],
    )


def contact(n: int, notes: str = SECRET_NOTE) -> ContactLogged:
    return ContactLogged(
        contact_id=f"contact-{n}",
        kind=ContactKind.HOME_VISIT,
        contact_date=date(2026, 2, 2),
        duration_minutes=45,
        notes=notes,
    )


def assessment() -> AssessmentRecorded:
    return AssessmentRecorded(
        assessment_id="a-1",
        domains={
            Domain.HOUSING: DomainRating(rating=3, notes="Sofa surfing at Marlowe Street"),
            Domain.INCOME: DomainRating(rating=1),
        },
        needs=[DomainNeed(domain=Domain.HOUSING, need="high")],
        risk_level=RiskLevel.MEDIUM,
        scoring_rules="v1",
    )


def plan() -> PlanDrafted:
    return PlanDrafted(
        plan_id="plan-1",
        plan_version=1,
        goals=[
            Goal(
                goal_id="g-1",
                client_words="A flat near my sister in Zanzibar orchard",
                domain=Domain.HOUSING,
                term=GoalTerm.SHORT,
                kind=GoalKind.LOGISTICAL,
                objective="Tenancy signed",
                target_date=date(2026, 6, 1),
            )
        ],
        crisis_plan="Call Rosalind's sister",
        participation=ClientParticipation(participated=True, agreed=True, client_comment="ok"),
    )


async def append(store: EventStore, stream: str, *events: DomainEvent) -> None:
    version = await store.stream_version(stream)
    await store.append_domain(
        stream, version, [(uuid.uuid4(), e) for e in events], metadata=METADATA, occurred_at=AT
    )


async def raw_data(pool: asyncpg.Pool) -> list[str]:
    return [r["data"] for r in await pool.fetch("SELECT data::text AS data FROM events")]


async def read_all_settled(store: EventStore, count: int) -> list[RecordedEvent]:
    """The global order once `count` events are visible (the watermark is server-wide:
    other sessions' open transactions may hold it back for a moment)."""
    for _ in range(200):
        events = await store.read_all()
        if len(events) >= count:
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"read_all saw {len(events)} of {count} events")


async def open_case(store: EventStore, client_ref: str = "client-rqa") -> str:
    case_id = uuid.uuid4()
    stream = f"case-{case_id}"
    await append(store, stream, opened(case_id, client_ref), assessment(), plan())
    await append(store, stream, contact(1))
    return stream


async def seed_staff(store: EventStore) -> None:
    await bootstrap_admin(store, "ada", "Ada Admin")
    await add_team(store, ADA, "north", "North team")
    await add_staff(store, ADA, "cal", "Cal", "caseworker", "north")


@pytest.fixture
def sealed(pool: asyncpg.Pool) -> EventStore:
    return EventStore(pool, cipher=FieldCipher(keyring()))


# --- the vocabulary's personal fields ---------------------------------------------------


def test_the_vocabulary_marks_every_personal_field() -> None:
    marked = {
        f"{model.__name__}.{path.dotted}"
        for model in CASE_EVENT_MODELS
        for path in personal_paths(model)
    }
    assert marked == {
        "CaseOpened.client.name",
        "CaseOpened.client.date_of_birth",
        "CaseOpened.client.contact",
        "CaseOpened.client.identifiers",
        "CaseOpened.client.notes",
        "CaseOpened.client.preferred_language",
        "CaseOpened.client.interpreter_needed",
        "ClientLanguageRecorded.preferred_language",
        "ClientLanguageRecorded.interpreter_needed",
        "ConsentRecorded.preferences",
        "AssessmentRecorded.domains.*.notes",
        "PlanDrafted.goals.*.client_words",
        "PlanDrafted.crisis_plan",
        "PlanDrafted.participation.client_comment",
        "ApprovalRequested.note",
        "ApprovalGranted.note",
        "ReferralMade.note",
        "ReferralAccepted.note",
        "ReferralCompleted.outcome",
        "ProviderReportReceived.report",
        "ContactLogged.notes",
        "CaseNoteRecorded.text",
        "CircleMemberAdded.details.name",
        "CircleMemberAdded.details.relationship",
        "CircleMemberAdded.details.organisation",
        "CircleMemberAdded.details.contact",
        "CircleMemberAdded.details.notes",
        "CircleMemberUpdated.details.name",
        "CircleMemberUpdated.details.relationship",
        "CircleMemberUpdated.details.organisation",
        "CircleMemberUpdated.details.contact",
        "CircleMemberUpdated.details.notes",
        "CircleConsentRecorded.note",
        "SharedWithCircleMember.note",
        "CaseConferenceRecorded.decisions.*",
        "CaseConferenceRecorded.notes",
        "GoalProgressRecorded.note",
        "CaseClosed.note",
        "AdvocacyOpened.consent_name",
        "AdvocacyOpened.details",
        "AdvocacyOpened.next_step",
        "AdvocacyStepRecorded.note",
        "AdvocacyStepRecorded.next_step",
        "AdvocacyConcluded.note",
        "ClientFeedbackRecorded.words",
        "ActionAdded.description",
        "ActionAdded.owner.name",
        "ActionCompleted.note",
        "ActionReassigned.owner.name",
        "ActionReassigned.reason",
        "ActionDropped.reason",
        "CircleMemberRemoved.reason",
        "ReferralWithdrawn.reason",
        "DocumentAttached.title",
        "DocumentAttached.filename",
        "DocumentWithdrawn.reason",
    }
    assert personal_paths(ClientForgotten) == ()


def test_erase_personal_returns_a_valid_copy_with_every_personal_field_erased() -> None:
    case_id = uuid.uuid4()
    original = opened(case_id)
    erased = erase_personal(original)
    assert erased.client == ClientDetails(name=ERASED_TEXT, notes=ERASED_TEXT)
    assert erased.client.date_of_birth is None and erased.client.contact == ClientContact()
    assert (erased.case_id, erased.client_ref, erased.team) == (case_id, "client-rqa", "north")
    assert original.client.name == NAME  # the original is untouched
    assert CaseOpened.model_validate(erased.model_dump()) == erased

    class Holder(BaseModel):  # a state that nests vocabulary parts in lists and dicts
        client: ClientDetails
        goals: list[Goal]
        ratings: dict[str, DomainRating]
        label: str

    holder = Holder(
        client=original.client,
        goals=list(plan().goals),
        ratings={"housing": DomainRating(rating=2, notes="private")},
        label="kept",
    )
    wiped = erase_personal(holder)
    assert wiped.client.name == ERASED_TEXT
    assert [g.client_words for g in wiped.goals] == [ERASED_TEXT]
    assert wiped.goals[0].objective == "Tenancy signed"
    assert wiped.ratings["housing"] == DomainRating(rating=2, notes=ERASED_TEXT)
    assert wiped.label == "kept"
    assert Holder.model_validate(wiped.model_dump()) == wiped


# --- sealing and opening --------------------------------------------------------------------


async def test_raw_rows_hold_no_personal_data_and_the_store_reads_it_back(
    sealed: EventStore, pool: asyncpg.Pool
) -> None:
    stream = await open_case(sealed)

    rows = await raw_data(pool)
    assert len(rows) == 4
    for row in rows:
        for secret in SECRETS:
            assert secret not in row
    assert ENVELOPE_PREFIX in rows[0]
    stored = json.loads(rows[0])
    assert stored["client_ref"] == "client-rqa" and stored["team"] == "north"  # not personal

    events = [sealed.decode(e) for e in await sealed.read_stream(stream)]
    case = events[0]
    assert isinstance(case, CaseOpened)
    assert case.client.name == NAME and case.client.date_of_birth == DOB
    assert case.client.contact.phone == PHONE
    assert case.client.identifiers == {"nhs": "943 476 5919"}
    assert isinstance(events[1], AssessmentRecorded)
    assert events[1].domains[Domain.HOUSING].notes == "Sofa surfing at Marlowe Street"
    assert isinstance(events[2], PlanDrafted)
    assert events[2].goals[0].client_words.startswith("A flat near my sister")
    assert isinstance(events[3], ContactLogged) and events[3].notes == SECRET_NOTE
    assert [sealed.decode(e) for e in await read_all_settled(sealed, len(events))] == events

    # A store without the cipher sees only envelopes; the chain covers them.
    [raw] = await EventStore(pool).read_stream(stream, limit=1)
    assert raw.data["client"]["name"].startswith(ENVELOPE_PREFIX)
    async with pool.acquire() as conn:
        assert (await verify_chains(conn)).ok
    assert await pool.fetchval("SELECT client_ref FROM stream_clients") == "client-rqa"


async def test_a_case_opened_alone_links_its_stream_and_an_idempotent_retry_matches(
    sealed: EventStore, pool: asyncpg.Pool
) -> None:
    case_id = uuid.uuid4()
    stream = f"case-{case_id}"
    first = NewEvent(
        event_id=uuid.uuid4(),
        event_type="CaseOpened",
        schema_version=1,
        data=opened(case_id).to_data(),
        metadata=METADATA,
        occurred_at=AT,
    )
    written = await sealed.append(stream, 0, [first])
    again = await sealed.append(stream, 0, [first])
    assert again.duplicate and again.global_positions == written.global_positions
    assert await pool.fetchval(
        "SELECT client_ref FROM stream_clients WHERE stream_id = $1", stream
    ) == ("client-rqa")
    assert await pool.fetchval("SELECT count(*) FROM client_keys") == 1


async def test_cases_opened_at_once_for_a_new_client_share_one_data_key(
    pool: asyncpg.Pool,
) -> None:
    stores = [EventStore(pool, cipher=FieldCipher(RING)) for _ in range(6)]
    streams = await asyncio.gather(*(open_case(s) for s in stores))
    assert await pool.fetchval("SELECT count(*) FROM client_keys") == 1
    assert await pool.fetchval("SELECT count(DISTINCT stream_id) FROM stream_clients") == 6
    for stream in streams:
        case = stores[0].decode((await stores[0].read_stream(stream, limit=1))[0])
        assert isinstance(case, CaseOpened) and case.client.name == NAME


async def test_the_engine_role_makes_keys_but_cannot_destroy_them(
    database_url: str, pool: asyncpg.Pool
) -> None:
    if not await pool.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'casework_engine'"):
        pytest.skip("no casework_engine role (events/migrations/0003_roles.sql)")

    async def as_engine(conn: asyncpg.Connection) -> None:
        await conn.execute("SET ROLE casework_engine")

    engine = await asyncpg.create_pool(database_url, min_size=1, max_size=2, setup=as_engine)
    try:
        store = EventStore(engine, cipher=FieldCipher(RING))
        stream = await open_case(store)
        case = store.decode((await store.read_stream(stream, limit=1))[0])
        assert isinstance(case, CaseOpened) and case.client.name == NAME
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await engine.execute("UPDATE client_keys SET wrapped_key = NULL")
    finally:
        await engine.close()


async def test_personal_data_needs_a_client_and_envelope_lookalikes_are_refused(
    sealed: EventStore, pool: asyncpg.Pool
) -> None:
    with pytest.raises(NoClientForStream, match="no client"):
        await append(sealed, "case-without-opening", contact(1))
    await append(sealed, "case-without-opening", ReviewDue(due_at=AT, assigned_worker="cal"))
    stream = await open_case(sealed)
    with pytest.raises(EventValidationError, match="must not start with"):
        await append(sealed, stream, contact(2, notes="fine"), contact(3, notes="enc:v1:x:y"))
    assert await sealed.stream_version(stream) == 4


async def test_an_unknown_data_key_fails_clearly(sealed: EventStore, pool: asyncpg.Pool) -> None:
    stream = await open_case(sealed)
    # Written behind the cipher's back: an envelope naming a key that does not exist.
    await append(EventStore(pool), stream, contact(9, notes="enc:v1:feedface:AAAA"))
    with pytest.raises(UnknownDataKey, match=r"contact|notes") as caught:
        await sealed.read_stream(stream)
    assert "'feedface'" in str(caught.value) and f"{stream} v5" in str(caught.value)
    assert "not in client_keys" in str(caught.value)


# --- forgetting a client --------------------------------------------------------------------


async def test_forget_erases_every_personal_field_and_keeps_the_log_valid(
    sealed: EventStore, pool: asyncpg.Pool
) -> None:
    await seed_staff(sealed)
    stream = await open_case(sealed)
    second = await open_case(sealed)  # the same client's second case
    other = await open_case(sealed, client_ref="client-other")
    hashes_before = await pool.fetch("SELECT global_position, hash FROM events ORDER BY 1")

    ada = await resolve_actor(sealed, "ada")
    with pytest.raises(NotAdmin, match="only an admin"):
        await forget(sealed, await resolve_actor(sealed, "cal"), "client-rqa", "erasure request")
    result = await forget(sealed, ada, "client-rqa", "erasure request 2026-02")
    assert result.destroyed_now and set(result.streams) == {stream, second}
    assert set(result.recorded_in) == {stream, second}

    # The log: every earlier event and hash as it was; one ClientForgotten per stream.
    hashes_after = await pool.fetch("SELECT global_position, hash FROM events ORDER BY 1")
    assert hashes_after[: len(hashes_before)] == hashes_before
    assert len(hashes_after) == len(hashes_before) + 2
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert report.ok, report.findings
    assert await sealed.stream_version(stream) == 5
    assert await sealed.stream_version(other) == 4
    key = await pool.fetchrow("SELECT * FROM client_keys WHERE client_ref = 'client-rqa'")
    assert key["wrapped_key"] is None and key["destroyed_reason"] == "erasure request 2026-02"

    # Every personal field reads erased; the rest of each event is intact and valid.
    recorded = await sealed.read_stream(stream)
    assert [e.stream_version for e in recorded] == [1, 2, 3, 4, 5]
    events = [sealed.decode(e) for e in recorded]
    case, assessed, planned, logged, forgotten = events
    assert isinstance(case, CaseOpened)
    assert case.client == ClientDetails(name=ERASED_TEXT, notes=ERASED_TEXT)
    assert (case.client_ref, case.assigned_worker, case.referring_agency) == (
        "client-rqa",
        "cal",
        "Northgate GP",
    )
    assert isinstance(assessed, AssessmentRecorded)
    assert assessed.domains[Domain.HOUSING] == DomainRating(rating=3, notes=ERASED_TEXT)
    assert assessed.risk_level is RiskLevel.MEDIUM
    assert isinstance(planned, PlanDrafted)
    assert planned.goals[0].client_words == ERASED_TEXT and planned.crisis_plan == ERASED_TEXT
    assert planned.goals[0].target_date == date(2026, 6, 1)
    assert isinstance(logged, ContactLogged)
    assert logged.notes == ERASED_TEXT and logged.duration_minutes == 45
    assert forgotten == ClientForgotten(client_ref="client-rqa", reason="erasure request 2026-02")
    assert recorded[-1].metadata.actor_id == "ada" and recorded[-1].metadata.actor_role == "admin"
    for event in events:
        assert type(event).model_validate(event.model_dump()) == event
    assert all(sealed.decode(e) for e in await read_all_settled(sealed, len(hashes_after)))

    # The other client reads as before.
    other_case = sealed.decode((await sealed.read_stream(other, limit=1))[0])
    assert isinstance(other_case, CaseOpened) and other_case.client.name == NAME

    # Forgetting again changes nothing.
    again = await forget(sealed, ada, "client-rqa", "erasure request 2026-02")
    assert not again.destroyed_now and again.recorded_in == ()
    assert await sealed.stream_version(stream) == 5
    with pytest.raises(UnknownClient, match="client-nobody"):
        await forget(sealed, await resolve_actor(sealed, "ada"), "client-nobody", "no such client")


async def test_after_forget_new_personal_data_is_stored_erased_and_retries_still_match(
    sealed: EventStore, pool: asyncpg.Pool
) -> None:
    await seed_staff(sealed)
    stream = await open_case(sealed)
    retried = NewEvent(
        event_id=uuid.uuid4(),
        event_type="ContactLogged",
        schema_version=1,
        data=contact(5).to_data(),
        metadata=METADATA,
        occurred_at=AT,
    )
    await sealed.append(stream, 4, [retried])
    await forget(sealed, await resolve_actor(sealed, "ada"), "client-rqa", "erasure request")
    # An activity retried after the erasure still finds its event (as erased) in the log.
    assert (await sealed.append(stream, 4, [retried])).duplicate

    await append(sealed, stream, contact(6, notes="Zanzibar orchard again"))
    last = sealed.decode((await sealed.read_stream(stream))[-1])
    assert isinstance(last, ContactLogged) and last.notes == ERASED_TEXT
    assert not any("Zanzibar orchard" in row for row in await raw_data(pool))
    with pytest.raises(ClientAlreadyForgotten, match="new client reference"):
        await open_case(sealed)


async def test_forget_through_the_command_line(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """`casework client forget` as the signed-in admin, through `casework serve`."""
    ring = keyring()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = EventStore(pool, cipher=FieldCipher(ring))
        await seed_staff(store)
        stream = await open_case(store)
        env = {
            # The API asks Temporal whether each case workflow runs (none does here).
            "TEMPORAL_ADDRESS": time_skipping_env.client.service_client.config.target_host,
            "CASEWORK_CODEC_KEYS": TEST_CODEC_KEYS,
            "CASEWORK_MASTER_KEYS": ring.to_spec(),
        }
        async with served_cli(database_url, monkeypatch, tmp_path, env) as cli:
            for who in ("ada", "cal"):
                await cli.enrol_directly(who, by="ada")
            forget_rqa = ("client", "forget", "client-rqa", "--reason", "client asked")

            # A caseworker may not; a mistyped confirmation refuses, naming the field.
            assert "only an admin" in await cli.refused(*forget_rqa, "--yes", as_="cal")
            code, out, err = await cli.run(*forget_rqa, "--json", input="client-rq\n", as_="ada")
            # (CliRunner echoes the typed answer to stdout: the JSON is the last line.)
            assert code == 1 and json.loads(out.splitlines()[-1])["ok"] is False
            assert "confirm: must repeat the client's reference" in " ".join(err.split())
            case = store.decode((await store.read_stream(stream, limit=1))[0])
            assert isinstance(case, CaseOpened) and case.client.name == NAME  # not forgotten

            # Confirmed by typing the reference, or with --yes.
            code, out, err = await cli.run(*forget_rqa, "--json", input="client-rqa\n", as_="ada")
            assert code == 0, err
            forgotten = json.loads(out.splitlines()[-1])
            assert forgotten["ok"] and forgotten["destroyed_now"]
            assert forgotten["recorded_in"] == [stream]
            again = await cli.ok_json(*forget_rqa, "--yes", as_="ada")
            assert not again["destroyed_now"] and again["recorded_in"] == []
        case = store.decode((await store.read_stream(stream, limit=1))[0])
        assert isinstance(case, CaseOpened) and case.client.name == ERASED_TEXT
        assert "client asked" in json.dumps([e.data for e in await store.read_stream(stream)])
    finally:
        await pool.close()


# --- master keys ------------------------------------------------------------------------


async def test_rotating_the_master_key_keeps_data_readable(pool: asyncpg.Pool) -> None:
    old = keyring("mk-old")
    store = EventStore(pool, cipher=FieldCipher(old))
    await seed_staff(store)
    stream = await open_case(store)

    rotated = old.rotated("mk-new", MasterKeyring.generate("x").keys["x"])
    assert rotated.current_id == "mk-new" and rotated.ids == ("mk-new", "mk-old")
    during = EventStore(pool, cipher=FieldCipher(rotated))
    case = during.decode((await during.read_stream(stream))[0])
    assert isinstance(case, CaseOpened) and case.client.name == NAME
    newcomer = await open_case(during, client_ref="client-new")  # wrapped by the new key

    # Before the rewrap, dropping the old master key leaves the data key unreadable.
    only_new = EventStore(pool, cipher=FieldCipher(rotated.without("mk-old")))
    with pytest.raises(UnknownMasterKey, match=r"'mk-old'.*CASEWORK_MASTER_KEYS"):
        await only_new.read_stream(stream)
    assert (await only_new.read_stream(newcomer))[0].data["client"]["name"] == NAME

    assert await rewrap(during, await resolve_actor(during, "ada")) == 1
    assert await rewrap(during, await resolve_actor(during, "ada")) == 0
    masters = await pool.fetch("SELECT DISTINCT master_key_id FROM client_keys")
    assert [r["master_key_id"] for r in masters] == ["mk-new"]
    case = only_new.decode((await only_new.read_stream(stream))[0])
    assert isinstance(case, CaseOpened) and case.client.name == NAME
    with pytest.raises(NotAdmin):
        await rewrap(during, await resolve_actor(during, "cal"))


def test_master_keys_from_the_environment_or_a_development_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = keyring("mk-a").to_spec() + "," + keyring("mk-b").to_spec()
    monkeypatch.setenv("CASEWORK_MASTER_KEYS", spec)
    configured = master_keyring(Settings(CASEWORK_DATA_DIR=tmp_path))
    assert configured.ids == ("mk-a", "mk-b")
    assert not (tmp_path / "keys").exists()

    monkeypatch.delenv("CASEWORK_MASTER_KEYS")
    first = master_keyring(Settings(CASEWORK_DATA_DIR=tmp_path))
    path = tmp_path / "keys" / "master.keys"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert master_keyring(Settings(CASEWORK_DATA_DIR=tmp_path)) == first  # made once


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "no master key"),
        ("justsomething", "colon"),
        ("k1:not*base64", "not base64"),
        ("k1:" + "QUFB", "32 bytes"),
        ("bad id:" + "A" * 44, "letters, digits"),
    ],
)
def test_malformed_master_keys_are_refused_without_echoing_them(spec: str, problem: str) -> None:
    with pytest.raises(KeyringError, match=problem) as caught:
        MasterKeyring.parse(spec)
    assert "QUFB" not in str(caught.value) and "not*base64" not in str(caught.value)


def test_a_keyring_never_shows_its_keys() -> None:
    ring = keyring()
    assert ring.to_spec().split(":")[1] not in repr(ring)
