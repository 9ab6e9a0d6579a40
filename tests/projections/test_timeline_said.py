"""The audit trail's lines as messages (cases/said.py, issue 33): the English rendering is
byte for byte the line written before (tests/projections/timeline_reference.py), the
Spanish one leaves no English, the read model keeps the message (`description_said`)
and fills it alike by catch-up and rebuild, and a row from before keeps its English."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import asyncpg

from cases.features import TIMELINE as FEATURE_LINES
from cases.said import Said, Word, from_json, render, say, to_json
from casework import i18n
from devtools.simulation import RandomChooser, simulate_case
from events.choices import ContactKind
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionReassigned,
    ActionReminderDue,
    CaseNoteRecorded,
    ClientFeedbackRecorded,
    ClientForgotten,
    ClientLanguageRecorded,
    ClientMatchesReviewed,
    ContactLogged,
    DocumentAttached,
    DocumentKind,
    DocumentWithdrawn,
    FeedbackSubject,
    ProviderReportReceived,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDispatched,
    ReferralDispatchFailed,
    ReferralFollowUpDue,
    ReferralWithdrawn,
)
from events.vocabulary.actions import ActionOwner, ActionOwnerKind
from projections.catalog import projection_named
from projections.rebuild import rebuild
from projections.timeline import DESCRIBE, describe, said, timeline_versions
from tests.projections import timeline_reference as before
from tests.projections.conftest import append_interleaved, catch_up, snapshot

WHEN = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
SHA = "0" * 64


def _simulated(seed: int, cases: int = 120) -> list[DomainEvent]:
    models = {m.model_fields["type"].default: m for m in (*DESCRIBE, *FEATURE_LINES)}
    chooser = RandomChooser(seed)
    out: list[DomainEvent] = []
    for _ in range(cases):
        _case, events = simulate_case(chooser, steps=40)
        out.extend(models[e.event_type].model_validate(e.data) for e in events)
    return out


def _made() -> list[DomainEvent]:
    """Every event type the simulation does not write, and the variants of each line."""
    worker = ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="w-2")
    provider = ActionOwner(kind=ActionOwnerKind.PROVIDER, provider_id="p-1")
    family = ActionOwner(kind=ActionOwnerKind.FAMILY)
    out: list[DomainEvent] = [
        ActionCompleted(action_id="a-1"),
        ActionCompleted(action_id="a-1", late=True),
        ActionDropped(action_id="a-2", reason="private words"),
        ActionOverdue(action_id="a-3", due_at=WHEN, worker="w-1"),
        CaseNoteRecorded(note_id="note-1", text="private words"),
        ClientForgotten(client_ref="c-1", reason="asked"),
        ClientLanguageRecorded(preferred_language="es", interpreter_needed=True),
        ClientMatchesReviewed(candidates=[], hidden=0),
        ClientMatchesReviewed(candidates=["c-1", "c-2"], hidden=0),
        ClientMatchesReviewed(candidates=["c-1"], hidden=3),
        ClientMatchesReviewed(candidates=[], hidden=2),
        DocumentWithdrawn(document_id="d-1", reason="wrong file"),
        ProviderReportReceived(referral_id="r-1", report="private words"),
        ReferralCompleted(referral_id="r-1"),
        ReferralDeclined(referral_id="r-1", reason="full"),
        ReferralFollowUpDue(referral_id="r-1", waiting_since=WHEN),
        ReferralWithdrawn(referral_id="r-1", provider_id="p-1", reason="private"),
        ActionReminderDue(action_id="a-3", due_at=WHEN, worker="w-1"),
        ReferralDispatched(referral_id="r-1", channel="webhook", attempts=1),
        ReferralDispatched(referral_id="r-1", channel="email", attempts=2),
        ReferralDispatchFailed(referral_id="r-1", attempts=3, error="private"),
        ReferralAccepted(referral_id="r-1"),
    ]
    for kind in DocumentKind:
        for size in (1, 999, 1000, 12_345, 999_999, 1_000_000, 4_500_000):
            out.append(
                DocumentAttached(
                    document_id="d-2", kind=kind, title="private", filename="private.pdf",
                    media_type="application/pdf", size=size, sha256=SHA,
                )
            )  # fmt: skip
    for owner in (worker, provider, family):
        for crisis in (False, True):
            for conference in (None, "conf-1"):
                out.append(
                    ActionAdded(
                        action_id="a-4", goal_id="g-1", description="private", owner=owner,
                        due_at=WHEN, crisis_plan=crisis, conference_id=conference,
                    )
                )  # fmt: skip
        out.append(ActionReassigned(action_id="a-4", owner=owner, due_at=WHEN, reason="private"))
    for contact in ContactKind:
        for minutes in (0, 1, 45):
            out.append(
                ContactLogged(
                    contact_id="k-1", kind=contact, contact_date=date(2026, 3, 1),
                    duration_minutes=minutes, notes="private",
                )
            )  # fmt: skip
    for subject in FeedbackSubject:
        for referral in (None, "r-1"):
            for provider_id in (None, "p-1"):
                for version in (None, 2):
                    for agrees in (None, True, False):
                        out.append(
                            ClientFeedbackRecorded(
                                feedback_id="feedback-1", subject=subject,
                                referral_id=referral, provider_id=provider_id,
                                service_id="s-1" if provider_id else None, plan_id="plan-1",
                                plan_version=version, rating=4, words="private",
                                agrees_with_plan=agrees,
                            )
                        )  # fmt: skip
    return out


def _every_line() -> list[DomainEvent]:
    return _simulated(3) + _made()


def test_every_event_type_has_a_sample() -> None:
    sampled = {type(e) for e in _every_line()}
    assert sampled == {*DESCRIBE, *FEATURE_LINES}


def test_english_is_the_line_written_before_byte_for_byte() -> None:
    for event in _every_line():
        assert describe(event) == before.describe(event), type(event).__name__
        assert render(said(event)) == before.describe(event)
        with i18n.speaking("en"):
            assert render(said(event), i18n.raw_gettext, i18n.raw_ngettext) == describe(event)


def test_a_message_survives_its_json() -> None:
    for event in _every_line():
        message = said(event)
        stored = json.loads(json.dumps(to_json(message), sort_keys=True))
        assert from_json(stored) == message
        assert render(from_json(stored)) == describe(event)


ENGLISH = re.compile(
    r"\b(opened|recorded|requested|granted|returned|activated|made to|sent by|could not|"
    r"accepted|declined|completed|received|contact on|Progress|assigned|Transfer|rejected|"
    r"closed|reopened|scheduled|due|lapsed|resolved|on hold|resumed|needs a|added|updated|"
    r"removed|Shared|Consent|held|agreed|done|dropped|reassigned|reminded|overdue|forgotten|"
    r"attached|withdrawn|feedback|rated|duplicates|Case|Review|Referral|Action|Advocacy|"
    r"Document|Client|Goals|Escalation|Approval|Assessment|Reassessment|goal|goals|"
    r"field|fields|provider|providers|staff member|circle member|decision|reason|domain|"
    r"worker|the service|the plan|the referral|nothing|none|late|crisis plan)\b"
)
"""English words of the lines' msgids (ids in the samples are lower case with digits)."""


def test_spanish_leaves_no_english_in_any_line() -> None:
    seen: set[str] = set()
    with i18n.speaking("es"):
        for event in _every_line():
            line = render(said(event), i18n.raw_gettext, i18n.raw_ngettext)
            seen.add(line)
            assert line != describe(event) or not ENGLISH.search(line), line
            # ids (with digits or hyphens) and media types are the only words kept
            words = re.sub(r"[a-z]+/[\w.+-]+|[\w.]*[\d-][\w.-]*", " ", line)
            assert not ENGLISH.search(words), f"English left in {line!r}"
    assert len(seen) > 200


def test_spanish_samples_read_as_spanish() -> None:
    with i18n.speaking("es"):
        shown = {
            type(e).__name__: render(said(e), i18n.raw_gettext, i18n.raw_ngettext) for e in _made()
        }
    assert shown["ReferralWithdrawn"] == "Derivación r-1 retirada"
    assert shown["ClientLanguageRecorded"] == (
        "Idioma del cliente y necesidad de intérprete registrados"
    )
    assert shown["ActionOverdue"] == "Acción a-3 vencida (vencía el 2026-03-02 14:05)"


def test_nested_words_and_counts_are_translated() -> None:
    message = say(
        "Consent recorded: %(fields)s may be shared with %(providers)s",
        fields=Said("%(num)s field", plural="%(num)s fields", n=1),
        providers=Said("%(num)s provider", plural="%(num)s providers", n=3),
    )
    assert render(message) == "Consent recorded: 1 field may be shared with 3 providers"
    with i18n.speaking("es"):
        assert render(message, i18n.raw_gettext, i18n.raw_ngettext) == (
            "Consentimiento registrado: se pueden compartir 1 dato con 3 proveedores"
        )
        assert render(say("Case closed: %(reason)s", reason=Word("goals_met")),
                      i18n.raw_gettext, i18n.raw_ngettext) != "Case closed: goals met"  # fmt: skip


# --- the read model ---------------------------------------------------------------------------


async def test_the_read_model_keeps_the_message_alike_by_catch_up_and_rebuild(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(5)
    cases = [simulate_case(chooser, steps=30) for _ in range(4)]
    await append_interleaved(store, cases, chooser)
    await catch_up(database_url, store)
    rows = await pool.fetch("SELECT description, description_said::text AS said FROM case_timeline")
    assert rows and all(r["said"] is not None for r in rows)
    for row in rows:
        assert render(from_json(json.loads(row["said"]))) == row["description"]
    timeline = projection_named("timeline")
    projected = await snapshot(pool, timeline)
    await rebuild(database_url, timeline, batch_size=7, settle=30)
    assert await snapshot(pool, timeline) == projected


async def test_a_row_from_before_the_messages_shows_its_english(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    chooser = RandomChooser(9)
    case_id, events = simulate_case(chooser, steps=5)
    await append_interleaved(store, [(case_id, events)], chooser)
    await catch_up(database_url, store)
    await pool.execute(
        "UPDATE case_timeline SET description_said = NULL WHERE case_id = $1 "
        "AND stream_version = 1",
        str(case_id),
    )
    entries = await timeline_versions(pool, case_id, first=1, last=len(events))
    by_version = {e.entry.stream_version: e for e in entries}
    assert by_version[1].said is None
    assert all(e.said is not None for v, e in by_version.items() if v > 1)
    assert by_version[2].said is not None
    assert render(by_version[2].said) == by_version[2].entry.description
