"""The read side of the API (casework/api/reads.py) over the real store and the real
projector: each role sees its own cases, paging returns every row exactly once, bad
parameters are named, and one case's reads are checked and recorded."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from application import access_log
from directory import resolve_actor
from events.envelope import EventMetadata
from events.registry import DomainEvent
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    ApprovalRequested,
    AssessmentRecorded,
    CaseOpened,
    ClientDetails,
    Domain,
    DomainRating,
    EscalationRaised,
    EscalationSubject,
    ReferralDispatched,
    ReferralMade,
    ReferralSource,
    ReviewReason,
    ReviewScheduled,
    RiskLevel,
)
from projections import queries
from tests.api.test_api import OPEN_CASE, Api, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store
from tests.projections.conftest import catch_up

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=30)

WORKERS = (
    ("alice", "north"), ("alice", "north"), ("alice", "north"), ("alice", "north"),
    ("alice", "north"), ("carol", "north"), ("carol", "north"),
    ("erin", "south"), ("erin", "south"), ("erin", "south"), ("erin", "south"),
    ("sam", "south"),
)  # fmt: skip
"""The seeded cases' workers and teams (the staff of tests.security.test_access_log)."""

LISTS = ("approvals", "referrals", "reviews?within=30", "escalations")


@dataclass(frozen=True)
class Seeded:
    case_ids: list[str]
    worker: dict[str, str]
    team: dict[str, str]

    def of(self, *, worker: str | None = None, team: str | None = None) -> set[str]:
        return {
            c
            for c in self.case_ids
            if (worker is None or self.worker[c] == worker)
            and (team is None or self.team[c] == team)
        }


def _case_events(i: int, case_id: uuid.UUID, worker: str, team: str) -> list[DomainEvent]:
    events: list[DomainEvent] = [
        CaseOpened(
            case_id=case_id,
            client_ref=f"CL-READ-{i}",
            client=ClientDetails(name="Private Person"),
            referral_source=ReferralSource.SELF_REFERRAL,
            assigned_worker=worker,
            team=team,
            presenting_needs=["housing"],
        ),
        AssessmentRecorded(
            assessment_id=f"as-{i}",
            domains={Domain.HOUSING: DomainRating(rating=2)},
            needs=[],
            risk_level=list(RiskLevel)[i % 4],
            scoring_rules="v1",
        ),
        ReviewScheduled(
            due_at=NOW + timedelta(days=i - 6, hours=12),
            reason=ReviewReason.OPENED,
            risk_level=RiskLevel.MEDIUM,
            policy_version=1,
        ),
    ]
    if i % 2 == 0:
        events.append(
            ApprovalRequested(
                approval_id=f"ap-{i}", kind=ApprovalKind.PLAN, plan_id="plan-1", plan_version=1
            )
        )
    if i % 3 != 0:
        for n in (1, 2):
            events.append(
                ReferralMade(
                    referral_id=f"ref-{n}",
                    provider_id=("provider-food", "provider-clinic")[(i + n) % 2],
                    service_id="s1",
                    goal_id="goal-1",
                )
            )
        events.append(ReferralDispatched(referral_id="ref-1", channel="email", attempts=1))
    if i % 2 == 1:
        events.append(
            EscalationRaised(
                escalation_id=f"esc-{i}",
                subject=EscalationSubject.REVIEW,
                subject_id="review-1",
                level=1 + i % 3,
                notify="supervisor",
                team=team,
                reason="review lapsed",
            )
        )
    return events


async def seed(store: EventStore, database_url: str) -> Seeded:
    """Twelve cases of two teams with approvals, referrals, reviews and escalations, with
    equal times across cases (ties broken by the pages' keys), projected."""
    ids: list[str] = []
    worker: dict[str, str] = {}
    team: dict[str, str] = {}
    for i, (who, where) in enumerate(WORKERS):
        case_id = uuid.uuid4()
        for version, event in enumerate(_case_events(i, case_id, who, where)):
            system = isinstance(event, ReviewScheduled | EscalationRaised | ReferralDispatched)
            await store.append_domain(
                f"case-{case_id}",
                version,
                [(uuid.uuid4(), event)],
                EventMetadata(
                    actor_id="casework" if system else who,
                    actor_role="system" if system else "caseworker",
                ),
                T0 + timedelta(hours=i // 3, minutes=version),
            )
        ids.append(str(case_id))
        worker[str(case_id)], team[str(case_id)] = who, where
    await catch_up(database_url, store)
    return Seeded(ids, worker, team)


async def get(api: Api, path: str, auth: dict[str, str], status: int = 200) -> Any:
    answer = await api.http.get(f"/api/v1/{path}", headers=auth)
    assert answer.status_code == status, answer.text
    return answer.json()


async def every_page(api: Api, path: str, auth: dict[str, str], limit: int) -> list[Any]:
    """Every row of `path`, page by page of `limit` rows."""
    rows: list[Any] = []
    cursor: str | None = None
    join = "&" if "?" in path else "?"
    for _ in range(1000):
        page = await get(
            api, f"{path}{join}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), auth
        )
        assert len(page["items"]) <= limit and page["limit"] == limit
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
        assert page["items"], "a page with a next cursor has rows"
    raise AssertionError("paging did not end")


IDENTITY = {
    "approvals": ("case_id", "approval_id"),
    "referrals": ("case_id", "referral_id"),
    "reviews?within=30": ("case_id", "due_at"),
    "escalations": ("case_id", "escalation_id"),
    "caseload": ("team", "worker"),
    "caseload?by=team": ("team", "worker"),
    "referrals/by-provider": ("provider_id", "status"),
}
"""What tells the rows of a list apart (other columns, such as hours waiting, move on)."""


def _ids(path: str, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    found = [tuple(r[c] for c in IDENTITY[path]) for r in rows]
    assert len(set(found)) == len(found), f"{path}: a row twice"
    return found


def _cases(rows: Sequence[dict[str, Any]]) -> set[str]:
    return {r["case_id"] for r in rows}


async def test_each_role_sees_its_own_cases_and_admins_none(api: Api, database_url: str) -> None:
    seeded = await seed(api.app.store, database_url)
    auth = {who: await api.sign_in(who) for who in ("alice", "carol", "erin", "audrey", "root")}
    expected = {
        "alice": seeded.of(worker="alice"),
        "carol": seeded.of(team="north"),
        "erin": seeded.of(worker="erin"),
        "audrey": set(seeded.case_ids),
    }
    for who, cases in expected.items():
        for path in LISTS:
            rows = (await get(api, f"{path}{'&' if '?' in path else '?'}limit=500", auth[who]))[
                "items"
            ]
            assert rows and _cases(rows) <= cases, (who, path)
        reviews = (await get(api, "reviews?within=30&limit=500", auth[who]))["items"]
        assert _cases(reviews) == cases, who  # every seeded case has a review
        caseload = (await get(api, "caseload", auth[who]))["items"]
        assert sum(r["open_cases"] for r in caseload) == len(cases), who
    by_team = (await get(api, "caseload?by=team", auth["audrey"]))["items"]
    assert [(r["team"], r["worker"], r["open_cases"]) for r in by_team] == [
        ("north", None, 7),
        ("south", None, 5),
    ]
    # Filters narrow within the scope, never widen it.
    assert (await get(api, "caseload?team=south", auth["carol"]))["items"] == []
    assert _cases(
        (await get(api, "reviews?within=30&overdue=true&limit=500", auth["audrey"]))["items"]
    ) == {c for i, c in enumerate(seeded.case_ids) if i < 6}
    # An administrator sees no case data at all: 403 for every query.
    for path in (*LISTS, "caseload", "referrals/by-provider", "outcomes"):
        body = problem(await api.http.get(f"/api/v1/{path}", headers=auth["root"]), 403)
        assert "administrator" in body["detail"]
    case_id = seeded.case_ids[0]
    for view in ("timeline", "summary", "access-log"):
        problem(await api.http.get(f"/api/v1/cases/{case_id}/{view}", headers=auth["root"]), 403)
    # The access log is for auditors and managers only.
    problem(await api.http.get(f"/api/v1/cases/{case_id}/access-log", headers=auth["alice"]), 403)
    problem(await api.http.get("/api/v1/access-log/break-glass", headers=auth["carol"]), 403)


async def test_an_auditor_reads_every_case_and_changes_nothing(api: Api, database_url: str) -> None:
    alice, audrey = await api.sign_in("alice"), await api.sign_in("audrey")
    opened = await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    case_id, etag = opened.json()["case_id"], opened.headers["ETag"]
    await catch_up(database_url, api.app.store)
    summary = await get(api, f"cases/{case_id}/summary", audrey)
    assert (summary["worker"], summary["team"]) == ("alice", "north")
    timeline = await get(api, f"cases/{case_id}/timeline", audrey)
    assert timeline["items"][0]["event_type"] == "CaseOpened"
    before = await api.app.store.stream_version(f"case-{case_id}")
    refused = await api.http.post(
        f"/api/v1/cases/{case_id}/commands/record_note",
        json={"text": "an auditor's note"},
        headers={**audrey, "If-Match": etag},
    )
    problem(refused, 403)
    problem(await api.http.post("/api/v1/cases", json=OPEN_CASE, headers=audrey), 403)
    assert await api.app.store.stream_version(f"case-{case_id}") == before


async def test_paging_returns_every_row_exactly_once(api: Api, database_url: str) -> None:
    seeded = await seed(api.app.store, database_url)
    audrey = await api.sign_in("audrey")
    reader = await resolve_actor(api.app.store, "audrey")
    pool = api.app.pool
    # The order is the CLI's (the read models' own queries), in one page as in many.
    approvals = await queries.pending_approvals(pool, reader)
    referrals = await queries.referrals(pool, reader)
    reviews = await queries.reviews(pool, reader, within_days=30)
    escalations = await queries.escalations(pool, reader)
    in_order = {
        "approvals": [r.case_id for r in approvals],
        "referrals": [r.case_id for r in referrals],
        "reviews?within=30": [r.case_id for r in reviews],
        "escalations": [r.case_id for r in escalations],
    }
    sizes = {"approvals": 6, "referrals": 16, "reviews?within=30": 12, "escalations": 6}
    for path, expected in in_order.items():
        whole = (await get(api, f"{path}{'&' if '?' in path else '?'}limit=500", audrey))["items"]
        assert len(whole) == len(expected) == sizes[path]
        assert [r["case_id"] for r in whole] == expected, path
        for limit in (1, 2, 5):
            paged = await every_page(api, path, audrey, limit)
            assert _ids(path, paged) == _ids(path, whole), (path, limit)
    for path in ("caseload", "caseload?by=team", "referrals/by-provider"):
        whole = (await get(api, f"{path}{'&' if '?' in path else '?'}limit=500", audrey))["items"]
        assert whole
        for limit in (1, 3):
            paged = await every_page(api, path, audrey, limit)
            assert _ids(path, paged) == _ids(path, whole), (path, limit)
    # A case's timeline pages by stream version; each page is a read on record.
    case_id = seeded.case_ids[1]
    timeline = await every_page(api, f"cases/{case_id}/timeline", audrey, 2)
    assert [e["stream_version"] for e in timeline] == list(range(1, len(timeline) + 1))
    assert len(timeline) == await api.app.store.stream_version(f"case-{case_id}")
    reads = [e for e in await access_log.entries(pool, reader, case_id) if e.view == "timeline"]
    assert len(reads) == (len(timeline) + 1) // 2 and all(e.allowed for e in reads)
    # The access log pages newest first.
    log = await every_page(api, f"cases/{case_id}/access-log", audrey, 1)
    assert [e["access_id"] for e in log] == sorted((e.access_id for e in reads), reverse=True)
    # Paging through a list the caller sees part of: only their rows, each once.
    alice = await api.sign_in("alice")
    mine = await every_page(api, "referrals", alice, 3)
    assert _cases(mine) <= seeded.of(worker="alice")
    assert len({(r["case_id"], r["referral_id"]) for r in mine}) == len(mine) > 0


async def test_bad_parameters_answer_422_naming_them(api: Api, database_url: str) -> None:
    seeded = await seed(api.app.store, database_url)
    audrey = await api.sign_in("audrey")
    first = await get(api, "escalations?limit=1", audrey)
    other_query = first["next_cursor"]
    forged = base64.urlsafe_b64encode(b'{"q":"escalations","k":[true]}').decode()
    for path, field in (
        ("escalations?cursor=not-a-cursor", "cursor"),
        ("escalations?cursor=%21%21%21", "cursor"),
        (f"escalations?cursor={forged}", "cursor"),
        (f"approvals?cursor={other_query}", "cursor"),
        (f"cases/{seeded.case_ids[0]}/timeline?cursor={other_query}", "cursor"),
        ("escalations?cursor=" + "A" * 2000, "cursor"),
        ("approvals?limit=0", "limit"),
        ("approvals?limit=501", "limit"),
        ("approvals?limit=many", "limit"),
        ("approvals?kind=everything", "kind"),
        ("referrals?status=lost", "status"),
        ("referrals?open=perhaps", "open"),
        ("caseload?by=mood", "by"),
        ("caseload?worker=%20drop%20table", "worker"),
        ("reviews?within=-1", "within"),
        ("escalations?level=0", "level"),
        ("outcomes?since=yesterday", "since"),
        ("outcomes?since=2026-03-01&until=2026-02-01", "until"),
    ):
        body = problem(await api.http.get(f"/api/v1/{path}", headers=audrey), 422)
        assert [e["field"] for e in body["errors"]] == [field], (path, body)
        assert field in body["detail"]
    # Without a token, nothing is said about the parameters.
    problem(await api.http.get("/api/v1/escalations?cursor=not-a-cursor"), 401)
    # A good cursor still works after the bad ones.
    assert (await get(api, f"escalations?limit=1&cursor={other_query}", audrey))["items"]
    outcomes = await get(api, "outcomes?since=2000-01-01", audrey)
    assert set(outcomes) == {
        "since", "until", "goals", "closures", "plan_approval",
        "advocacy", "feedback", "plan_feedback",  # issue 16
    }  # fmt: skip


async def test_one_case_reads_are_checked_and_recorded(api: Api, database_url: str) -> None:
    seeded = await seed(api.app.store, database_url)
    alice, erin_auth, carol_auth = [await api.sign_in(w) for w in ("alice", "erin", "carol")]
    alices, erins = sorted(seeded.of(worker="alice"))[0], sorted(seeded.of(worker="erin"))[0]
    summary = await get(api, f"cases/{alices}/summary", alice)
    assert (summary["worker"], summary["team"], summary["case_id"]) == ("alice", "north", alices)
    # Out of scope reads exactly as missing, for the summary and the timeline alike.
    for view in ("summary", "timeline"):
        missing = problem(
            await api.http.get(f"/api/v1/cases/{uuid.uuid4()}/{view}", headers=erin_auth), 404
        )
        hidden = problem(
            await api.http.get(f"/api/v1/cases/{alices}/{view}", headers=erin_auth), 404
        )
        assert hidden["title"] == missing["title"] and "north" not in str(hidden)
    problem(await api.http.get("/api/v1/cases/not-a-case/summary", headers=erin_auth), 404)
    # Breaking the glass lets erin in, recorded, and tells the case's supervisor.
    urgent = await api.http.get(
        f"/api/v1/cases/{alices}/timeline",
        headers={**erin_auth, "Casework-Break-Glass": "client in A&E, named us"},
    )
    assert urgent.status_code == 200 and urgent.json()["items"]
    assert (await get(api, f"cases/{erins}/summary", erin_auth))["worker"] == "erin"
    problem(await api.http.get(f"/api/v1/cases/{erins}/summary", headers=carol_auth), 404)
    auditor = await resolve_actor(api.app.store, "audrey")
    entries = await access_log.entries(api.app.pool, auditor, alices)
    assert [(e.staff_id, e.view, e.allowed, e.break_glass) for e in reversed(entries)] == [
        ("alice", "summary", True, False),
        ("erin", "summary", False, False),
        ("erin", "timeline", False, False),
        ("erin", "timeline", True, True),
    ]
    glass = (await get(api, "access-log/break-glass", await api.sign_in("audrey")))["items"]
    assert [(e["case_id"], e["staff_id"]) for e in glass] == [(alices, "erin")]
