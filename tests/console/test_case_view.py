"""The reads behind the case page and the board (issue 29: render from read models).

* The case page's timeline comes a page at a time from the timeline read model, and a
  version the read model lacks (the projector behind, or an event type it keeps no line
  for) from the log, so a page is whole; the details it lists (contacts …) are read
  from the log, only those events, opened by the cipher, and read as erased once the
  client is forgotten: nothing decrypted is kept anywhere.
* The board's query answers each team's most urgent rows, in the order and with the
  scope of the `reviews(overdue_only=True)` and `escalations` queries, and how many
  each team has in all.

No browser: these run on a migrated database (tests/conftest.py); the paged timeline in
the browser is in test_inboxes.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import asyncpg
import pytest

from application import board as board_use_case
from application.bootstrap import Casework
from application.case_view import case_details, timeline_page
from cases.access import AccessDenied
from events.envelope import EventMetadata
from events.personal import ERASED_TEXT
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    CaseNoteRecorded,
    CaseOpened,
    ClientDetails,
    ContactKind,
    ContactLogged,
    ReferralSource,
)
from projections import queries
from projections.timeline import describe
from tests.projections.conftest import catch_up
from tests.projections.test_queries import (  # noqa: F401  (`seeded`: the fixture)
    ADMIN,
    AUDITOR,
    MANAGER,
    NOW,
    SUPER_A,
    SUPER_B,
    TEAMLESS_SUPER,
    WORKER_A1,
    WORKER_A2,
    seeded,
)

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
SECRET = "Rang her sister Philippa at 07700 900123"


def _app(store: EventStore) -> Casework:
    """What the case page's reads use of the application: its pool and event store."""
    return cast(Casework, SimpleNamespace(pool=store.pool, store=store))


async def _long_case(store: EventStore, database_url: str, notes: int) -> str:
    """A sealed case: opened, one contact with personal notes, then `notes` notes;
    every projection caught up."""
    case_id = uuid.uuid4()
    events: list[DomainEvent] = [
        CaseOpened(
            case_id=case_id, client_ref=f"client-{case_id.hex[:8]}",
            client=ClientDetails(name="Philomena Private"),
            referral_source=ReferralSource.SELF_REFERRAL, assigned_worker="worker-a1",
            team="team-a", presenting_needs=["housing"],
        ),
        ContactLogged(contact_id="c1", kind=ContactKind.PHONE, contact_date=date(2026, 1, 11),
                      notes=SECRET),
        *(CaseNoteRecorded(note_id=f"n{n}", text=f"{SECRET} ({n})") for n in range(notes)),
    ]  # fmt: skip
    for version, event in enumerate(events):
        await store.append_domain(
            f"case-{case_id}", version, [(uuid.uuid4(), event)],
            EventMetadata(actor_id="worker-a1", actor_role="caseworker"),
            T0 + timedelta(hours=version),
        )  # fmt: skip
    await catch_up(database_url, store)
    return str(case_id)


async def test_the_timeline_is_paged_from_the_read_model_and_whole(
    sealed_store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    case_id = await _long_case(sealed_store, database_url, notes=8)  # 10 events
    app = _app(sealed_store)
    newest = await timeline_page(app, case_id, 10, size=4)
    assert [line.version for line in newest.lines] == [10, 9, 8, 7]
    assert (newest.older, newest.newer, newest.is_newest) == (7, None, True)
    assert newest.lines[0].text == "Case note n7 recorded"  # the read model's line
    assert newest.lines[0].actor == "worker-a1" and newest.lines[0].role == "caseworker"
    middle = await timeline_page(app, case_id, 10, size=4, before=newest.older)
    assert [line.version for line in middle.lines] == [6, 5, 4, 3]
    assert (middle.older, middle.newer, middle.is_newest) == (3, None, False)
    oldest = await timeline_page(app, case_id, 10, size=4, before=middle.older)
    assert [line.version for line in oldest.lines] == [2, 1]
    assert (oldest.older, oldest.newer) == (None, 7)
    assert not (await timeline_page(app, case_id, 10, size=4, before=1)).lines
    beyond = await timeline_page(app, case_id, 10, size=4, before=99)
    assert [line.version for line in beyond.lines] == [10, 9, 8, 7]

    # The read model holds no personal text, and never stored a line with it.
    stored = await pool.fetch("SELECT description FROM case_timeline WHERE case_id = $1", case_id)
    assert len(stored) == 10 and not any("Philippa" in r["description"] for r in stored)

    # A version the read model lacks (not projected yet; a type it has no line for) is
    # read from the log and described as the projector would, so no page has a gap.
    await pool.execute(
        "DELETE FROM case_timeline WHERE case_id = $1 AND stream_version IN (2, 9)", case_id
    )
    [contact] = await sealed_store.read_stream(f"case-{case_id}", from_version=2, limit=1)
    filled = await timeline_page(app, case_id, 10, size=10)
    assert [line.version for line in filled.lines] == list(range(10, 0, -1))
    assert filled.lines[8].text == describe(sealed_store.decode(contact))
    assert filled.lines[1].text == "Case note n6 recorded"
    # Events the read model has not reached yet, past its newest line, too.
    ahead = await timeline_page(app, case_id, 10, size=3)
    assert [line.version for line in ahead.lines] == [10, 9, 8]


async def test_the_details_are_read_from_the_log_and_erased_with_the_key(
    sealed_store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    case_id = await _long_case(sealed_store, database_url, notes=5)
    app = _app(sealed_store)
    details = await case_details(app, case_id, 7)
    [(_, who, contact)] = details.contacts
    assert (who, contact.notes) == ("worker-a1", SECRET)  # opened by the cipher
    assert details.assessment is None and not details.progress and not details.feedback
    assert not (await case_details(app, case_id, 1)).contacts  # up to the state's version

    assert sealed_store.cipher is not None
    client = await pool.fetchval(
        "SELECT client_ref FROM stream_clients WHERE stream_id = $1", f"case-{case_id}"
    )
    assert await sealed_store.cipher.keys.destroy(pool, client, "erasure request")  # type: ignore[attr-defined]
    [(_, _, erased)] = (await case_details(app, case_id, 7)).contacts
    assert erased.notes == ERASED_TEXT
    # The timeline's lines never held the notes: they read the same after the erasure.
    after = await timeline_page(app, case_id, 7, size=7)
    assert after.lines[-2].text == "Phone contact on 2026-01-11"


def _grouped(rows: list[object], per_team: int) -> dict[str, tuple[list[str], int]]:
    by_team: dict[str, list[str]] = {}
    for row in rows:
        by_team.setdefault(row.team, []).append(row.case_id)  # type: ignore[attr-defined]
    return {team: (ids[:per_team], len(ids)) for team, ids in by_team.items()}


@pytest.mark.parametrize("per_team", [1, 50])
async def test_the_board_ranks_each_team_as_the_lists_do(
    seeded: asyncpg.Pool,  # noqa: F811
    per_team: int,
) -> None:
    for actor in (MANAGER, AUDITOR, SUPER_A, SUPER_B, WORKER_A1, WORKER_A2, TEAMLESS_SUPER):
        teams = await board_use_case.board(
            cast(Casework, SimpleNamespace(pool=seeded)), actor, per_team=per_team, now=NOW
        )
        overdue = await queries.reviews(seeded, actor, overdue_only=True, now=NOW)
        escalations = await queries.escalations(seeded, actor, now=NOW)
        shown_overdue = {
            t.team: ([r.case_id for r in t.overdue], t.overdue_total)
            for t in teams
            if t.overdue_total
        }
        shown_escalations = {
            t.team: ([e.case_id for e in t.escalations], t.escalations_total)
            for t in teams
            if t.escalations_total
        }
        assert shown_overdue == _grouped(list(overdue), per_team)
        assert shown_escalations == _grouped(list(escalations), per_team)
        assert [t.team for t in teams] == sorted(t.team for t in teams)
        for t in teams:
            full = [r for r in overdue if r.team == t.team][:per_team]
            assert t.overdue == full  # the very rows, not only their ids
    manager = await board_use_case.board(
        cast(Casework, SimpleNamespace(pool=seeded)), MANAGER, per_team=1, now=NOW
    )
    assert [(t.team, len(t.escalations), t.escalations_total) for t in manager] == [
        ("team-a", 1, 2),
        ("team-b", 1, 1),
    ]
    with pytest.raises(AccessDenied):
        await board_use_case.board(
            cast(Casework, SimpleNamespace(pool=seeded)), ADMIN, per_team=1, now=NOW
        )
