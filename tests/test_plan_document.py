"""The approved plan printed for signature (application/plan_document.py): HTML and PDF."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from application.plan_document import PlanNotApproved, plan_html, render_plan_pdf
from cases import commands as c
from cases import decide as rules
from cases.command_table import entry_for
from cases.evolve import evolve
from cases.scoring import score
from cases.state import CaseState
from events.personal import ERASED_TEXT
from events.registry import DomainEvent
from events.vocabulary import (
    ActionOwner,
    ActionOwnerKind,
    ApprovalKind,
    CircleMemberDetails,
    CircleRole,
    ClientForgotten,
    ClientParticipation,
    Domain,
    Goal,
    GoalKind,
    GoalTerm,
    Participants,
)
from tests.cases import inputs
from tests.cases.people import ALICE, BOB, CAROL
from tests.cases.test_rules import NOW, opened

PRINTED_AT = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
STAFF = {"alice": "Alice Okonkwo", "bob": "Bob Lindqvist", "carol": "Carol Marsh"}
CLIENT = "Rosalind Quennell-Ashby"


def _poppler_installed() -> None:
    """pdftotext and pdfinfo read the PDF back; `make test` installs them (poppler-utils,
    the Makefile's system-packages): a missing one fails the test, never skips it."""
    missing = [tool for tool in ("pdftotext", "pdfinfo") if shutil.which(tool) is None]
    assert not missing, f"{', '.join(missing)} missing: run `make system-packages`"


needs_pdftotext = pytest.mark.usefixtures("poppler")


@pytest.fixture
def poppler() -> None:
    _poppler_installed()


def run(state: CaseState, cmd: c.Command) -> list[DomainEvent]:
    """Decide through the command table (as the workflow does) and fold the events."""
    events = entry_for(type(cmd)).decide(state, cmd, NOW)
    for event in events:
        evolve(state, event, cmd.actor.staff_id, NOW)
    return events


def goal(goal_id: str, words: str, domain: Domain = Domain.HOUSING) -> Goal:
    return Goal(
        goal_id=goal_id,
        client_words=words,
        domain=domain,
        term=GoalTerm.SHORT,
        kind=GoalKind.LOGISTICAL,
        objective=f"Objective of {goal_id}",
        target_date=date(2027, 3, 1),
    )


GOALS = [
    goal("housing", "I want a stable place to live", Domain.HOUSING),
    goal("income", "Get my benefits sorted so I can pay rent", Domain.BENEFITS),
    goal("health", "Feel less anxious in the mornings", Domain.MENTAL_HEALTH),
]


def case_with_plan(goals: list[Goal], *, approve: bool = True) -> CaseState:
    """Opened, consent, assessment, a sister in the circle, the plan drafted with Bob and
    the sister, submitted by Alice and (if `approve`) approved by Carol."""
    state = opened()
    run(state, inputs.consent())
    assessment = inputs.assessment()
    scored = score(assessment.assessment.domains)  # the workflow scores before deciding
    for event in rules.decide_assessment(state, assessment, scored):
        evolve(state, event, ALICE.staff_id, NOW)
    run(
        state,
        c.AddCircleMember(
            actor=ALICE,
            role=CircleRole.FAMILY_MEMBER,
            details=CircleMemberDetails(name="Mona Quennell", relationship="older sister"),
        ),
    )
    plan = c.PlanInput(
        goals=goals,
        crisis_plan="Call the crisis line; sister's flat as fallback",
        participation=ClientParticipation(participated=True, agreed=True),
        participants=Participants(staff=["bob"], circle=["member-1"]),
    )
    run(state, c.DraftPlan(actor=ALICE, plan=plan))
    run(state, c.SubmitPlan(actor=ALICE))
    if approve:
        run(state, c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True))
    return state


def add_action(
    state: CaseState, goal_id: str, description: str, owner: ActionOwner, days: int
) -> None:
    run(
        state,
        c.AddAction(
            actor=ALICE,
            goal_id=goal_id,
            description=description,
            owner=owner,
            due_at=NOW + timedelta(days=days),
        ),
    )


def approved_case() -> CaseState:
    """Three goals, four actions (owners: Bob, the case worker, the client, the sister) and
    a case conference."""
    state = case_with_plan(GOALS)
    add_action(
        state,
        "housing",
        "Fill in the housing application",
        ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="bob"),
        days=7,
    )
    add_action(
        state,
        "income",
        "Book the benefits appointment",
        ActionOwner(kind=ActionOwnerKind.CASEWORKER),
        days=10,
    )
    add_action(
        state,
        "income",
        "Bring ID documents to the appointment",
        ActionOwner(kind=ActionOwnerKind.CLIENT),
        days=14,
    )
    add_action(
        state,
        "health",
        "Go with Rosalind to the GP",
        ActionOwner(kind=ActionOwnerKind.FAMILY, name="Mona (sister)"),
        days=21,
    )
    run(
        state,
        c.RecordConference(
            actor=ALICE,
            conference=c.ConferenceInput(
                held_on=NOW.date(),
                client_attended=True,
                participants=Participants(staff=["alice", "carol"], circle=["member-1"]),
                decisions=["Mona drives Rosalind to viewings"],
            ),
        ),
    )
    return state


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "plan.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return done.stdout.decode("utf-8")


def render(state: CaseState) -> bytes:
    return render_plan_pdf(state, client_name=CLIENT, staff_names=STAFF, printed_at=PRINTED_AT)


def html_of(state: CaseState) -> str:
    return plan_html(state, client_name=CLIENT, staff_names=STAFF, printed_at=PRINTED_AT)


def squeeze(text: str) -> str:
    """The text with every run of whitespace as one space (layout columns and wraps)."""
    return re.sub(r"\s+", " ", text)


@needs_pdftotext
def test_the_pdf_shows_the_goals_actions_owners_due_dates_and_signature_lines(
    tmp_path: Path,
) -> None:
    state = approved_case()
    pdf = render(state)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    flat = squeeze(text)

    assert "Support plan" in text
    assert str(state.case_id) in flat
    assert "plan-1, version 1 · approved" in flat
    assert CLIENT in text
    for g in GOALS:
        assert g.client_words in flat
    assert "benefits" in flat and "mental health" in flat  # the goals' domains
    for what, who, due in [
        ("Fill in the housing application", "Bob Lindqvist", NOW + timedelta(days=7)),
        ("Book the benefits appointment", "Alice Okonkwo (case worker)", NOW + timedelta(10)),
        ("Bring ID documents to the appointment", CLIENT, NOW + timedelta(days=14)),
        ("Go with Rosalind to the GP", "Mona (sister)", NOW + timedelta(days=21)),
    ]:
        line = next(line for line in text.splitlines() if what in line)
        assert who in line and due.date().isoformat() in line, line
    # who took part: the plan's participants and the conference's attendees, by name
    assert "Bob Lindqvist (staff)" in flat
    assert "Mona Quennell (older sister)" in flat
    assert f"{NOW.date().isoformat()}: the client, Alice Okonkwo, Carol Marsh, Mona" in flat
    # the signature block
    for label in ("Client signature", "Case worker signature"):
        assert re.search(rf"^\s*{label}\s+Date\s*$", text, re.MULTILINE), label
    assert f"Client: {CLIENT}" in text and "Case worker: Alice Okonkwo" in text
    assert f"Printed {PRINTED_AT.date().isoformat()}" in flat
    assert "Page 1 of" in text


@needs_pdftotext
def test_the_same_state_prints_the_same_bytes_dated_when_printed(tmp_path: Path) -> None:
    state = approved_case()
    first, second = render(state), render(state)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    source = tmp_path / "plan.pdf"
    source.write_bytes(first)
    info = subprocess.run(
        ["pdfinfo", "-isodates", str(source)], check=True, capture_output=True, timeout=60
    ).stdout.decode("utf-8")
    assert re.search(r"^CreationDate:\s+2026-11-24T15:30:00Z$", info, re.MULTILINE), info
    assert re.search(r"^ModDate:\s+2026-11-24T15:30:00Z$", info, re.MULTILINE), info
    later = render_plan_pdf(
        state, client_name=CLIENT, staff_names=STAFF, printed_at=PRINTED_AT + timedelta(1)
    )
    assert later != first


def test_a_case_without_an_approved_plan_has_nothing_to_print() -> None:
    submitted = case_with_plan(GOALS, approve=False)
    for state in (opened(), submitted):
        with pytest.raises(PlanNotApproved, match=r"^plan: the case has no approved plan"):
            html_of(state)
        with pytest.raises(PlanNotApproved):
            render(state)


def test_printed_at_must_say_its_timezone() -> None:
    with pytest.raises(ValueError, match="printed_at"):
        plan_html(
            approved_case(),
            client_name=CLIENT,
            staff_names=STAFF,
            printed_at=datetime(2026, 11, 24, 15, 30),
        )


def test_unknown_staff_read_as_their_id() -> None:
    html = plan_html(approved_case(), client_name=CLIENT, staff_names={}, printed_at=PRINTED_AT)
    assert "bob (staff)" in html and "Case worker: alice" in html


@needs_pdftotext
def test_the_client_words_are_escaped_not_run(tmp_path: Path) -> None:
    words = '<script>alert("hi")</script> & <b>bold</b>'
    state = case_with_plan([goal("housing", words)])
    html = html_of(state)
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert words in squeeze(pdf_text(render(state), tmp_path))


@needs_pdftotext
def test_a_plan_of_ten_goals_runs_over_pages(tmp_path: Path) -> None:
    goals = [goal(f"goal-{n}", f"Goal number {n} in my own words") for n in range(1, 11)]
    state = case_with_plan(goals)
    for n in range(1, 11):
        for k in range(1, 4):
            add_action(
                state,
                f"goal-{n}",
                f"Step {k} of goal {n}",
                ActionOwner(kind=ActionOwnerKind.WORKER, staff_id="bob"),
                days=n + k,
            )
    text = pdf_text(render(state), tmp_path)
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) > 1
    flat = squeeze(text)
    for n in range(1, 11):
        assert f"Goal number {n} in my own words" in flat
        assert f"Step 3 of goal {n}" in flat
    assert "Client signature" in pages[-1] or "Client signature" in pages[-2]


def test_a_forgotten_clients_plan_shows_the_erased_marker() -> None:
    state = approved_case()
    evolve(
        state,
        ClientForgotten(client_ref=state.client_ref, reason="client asked"),
        BOB.staff_id,
        NOW,
    )
    html = plan_html(state, client_name=ERASED_TEXT, staff_names=STAFF, printed_at=PRINTED_AT)
    assert f'<span class="erased">{ERASED_TEXT}</span>' in html
    assert "I want a stable place to live" not in html
    assert "not for signature" in html
