"""The role × action table walked cell by cell through HTTP, each cell with a real
signed-in principal of every role (a caseworker assigned to the case, one of its team,
one of another team, a supervisor of the team and of another, a manager, an auditor, an
administrator, an operator).

The expected answer of each cell comes from the one access table in code
(cases/access.py: `COMMANDS` for commands, by the command table's `action`, and
`decide_read` / `QUERIES` for reads): allowed → 2xx; a role that may never do it → 403;
a caller who may see the case but not do this to it → 403; a caller who may not see the
case → 404, the same problem a read gets (the case's existence stays hidden). A handful
of cells are pinned by hand as well, so that the walk cannot pass vacuously.

Each case a command is tried on is put, beforehand, in the state the command needs (by
the application layer, as a manager and the team's supervisor), so that only the access
table can refuse it; an allowed cell then runs the command for real, on a case of its
own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from application import access_log
from application.case_client import CaseClient
from cases import commands as c
from cases.access import (
    COMMANDS,
    QUERIES,
    AccessDenied,
    Action,
    CaseNotVisible,
    Query,
    decide_read,
    may,
    query_relation,
)
from cases.actors import Actor, Role
from cases.command_table import BY_UPDATE, TABLE
from cases.features.documents import AttachDocument
from casework.api.cases import NOT_BY_THIS_ROUTE
from events.store import EventStore
from events.vocabulary import (
    ApprovalKind,
    CircleMemberDetails,
    CircleRole,
    CircleShare,
    ClosureReason,
    DocumentKind,
)
from tests.api.conftest import PROVIDERS, STAFF, Api
from tests.cases import advocacy_inputs, inputs
from tests.projections.conftest import catch_up

Outcome = Literal["allowed", "forbidden", "hidden"]
STATUS: dict[Outcome, int] = {"allowed": 200, "forbidden": 403, "hidden": 404}

PRINCIPALS: dict[str, str] = {
    "caseworker assigned": "alice",
    "caseworker of the team": "frank",
    "caseworker of another team": "erin",
    "supervisor of the team": "carol",
    "supervisor of another team": "sam",
    "manager": "max",
    "auditor": "audrey",
    "admin": "root",
    "operator": "olga",
    "provider of the referral": "pia",
    "another provider": "otis",
}
"""Who tries each cell. The cases are team north's, assigned to alice; their referral
(referral-1) is to shelter-1, pia's provider."""

REFERRAL_PROVIDER = "shelter-1"
"""The provider of referral-1 of the cases built (tests/cases/inputs.py `refer`)."""

TEAM, WORKER = "north", "alice"
WAIT = 120.0
"""Seconds to wait for a referral's dispatch (generous: a shared two-core machine)."""


def test_every_role_that_signs_in_has_a_principal() -> None:
    roles = {Role(role) for staff_id, role, _ in STAFF if staff_id in PRINCIPALS.values()}
    assert roles | {Role.ADMIN} == set(Role) - {Role.SYSTEM}, "a role without a principal"
    assert set(PRINCIPALS.values()) <= {s for s, _, _ in STAFF} | {"root"}


# --- the cases, in the state each command needs -------------------------------------------


@dataclass
class Builder:
    """Puts cases in a state through the application layer (never under test)."""

    cases: CaseClient
    store: EventStore
    manager: Actor
    supervisor: Actor
    worker: Actor
    other_worker: Actor
    channel: str

    async def run(self, case_id: str, *cmds: c.Command) -> None:
        for cmd in cmds:
            await self.cases.execute(case_id, cmd)

    async def opened(self) -> str:
        result = await self.cases.open(inputs.open_case(actor=self.manager, assignee=self.worker))
        return str(result.case_id)

    async def assessed(self) -> str:
        case_id = await self.opened()
        m = self.manager
        await self.run(case_id, inputs.consent(actor=m), inputs.assessment(actor=m))
        return case_id

    async def drafted(self) -> str:
        case_id = await self.assessed()
        await self.run(case_id, inputs.plan(actor=self.manager))
        return case_id

    async def submitted(self) -> str:
        case_id = await self.drafted()
        await self.run(case_id, c.SubmitPlan(actor=self.manager))
        return case_id

    async def active(self) -> str:
        case_id = await self.submitted()
        grant = c.DecideApproval(actor=self.supervisor, kind=ApprovalKind.PLAN, approve=True)
        await self.run(case_id, grant)
        return case_id

    async def referred(self) -> str:
        """Active, with referral-1 made and dispatched (its dispatch's event written)."""
        case_id = await self.active()
        await self.run(case_id, inputs.refer(actor=self.manager, url=self.channel))
        stream = f"case-{case_id}"
        async with asyncio.timeout(WAIT):
            while True:
                events = await self.store.read_stream(stream)
                if "ReferralDispatched" in {e.event_type for e in events}:
                    break
                await asyncio.sleep(0.05)
        return case_id

    async def advocating(self) -> str:
        """Opened, with advocacy-1 open (its next step a week after opening)."""
        case_id = await self.opened()
        step = (await self.cases.state(case_id)).opened_at.date() + timedelta(days=7)
        await self.run(case_id, advocacy_inputs.open_advocacy(step, actor=self.manager))
        return case_id

    async def with_member(self) -> str:
        """Opened, with member-1 (the client's sister) in the circle of support."""
        case_id = await self.opened()
        await self.run(case_id, _add_member(self.manager))
        return case_id

    async def sharing(self) -> str:
        """Active, with member-1 consented to see the plan."""
        case_id = await self.active()
        consent = c.RecordCircleConsent(
            actor=self.manager, member_id="member-1", shared=[CircleShare.PLAN]
        )
        await self.run(case_id, _add_member(self.manager), consent)
        return case_id

    async def with_document(self) -> str:
        """Opened, with document d0c1 attached (its bytes are not needed by the rule)."""
        case_id = await self.opened()
        await self.run(case_id, _attach(self.manager))
        return case_id

    async def with_action(self) -> str:
        """Active, with action-1 open (the client's, due long after the walk)."""
        case_id = await self.active()
        add = c.AddAction(actor=self.manager, **_ADD_ACTION)
        await self.run(case_id, add)
        return case_id

    async def on_hold(self) -> str:
        case_id = await self.opened()
        until = (await self.cases.state(case_id)).opened_at + timedelta(days=30)
        await self.run(case_id, c.HoldCase(actor=self.manager, reason="in hospital", until=until))
        return case_id

    async def transfer_pending(self) -> str:
        """A case of team south, being transferred to team north and its worker alice."""
        result = await self.cases.open(
            inputs.open_case(actor=self.manager, assignee=self.other_worker)
        )
        case_id = str(result.case_id)
        ask = c.RequestTransfer(
            actor=self.manager, to_team=TEAM, to_worker=self.worker, reason="moved"
        )
        await self.run(case_id, ask)
        return case_id

    async def closed(self) -> str:
        case_id = await self.opened()
        await self.run(
            case_id,
            c.RequestClosure(actor=self.manager, reason=ClosureReason.GOALS_MET),
            c.DecideApproval(actor=self.supervisor, kind=ApprovalKind.CLOSURE, approve=True),
        )
        return case_id


@dataclass(frozen=True)
class Cell:
    """One command: the state it needs, its body, whether it may run twice in a row."""

    build: Callable[[Builder], Awaitable[str]]
    body: Callable[[], dict[str, Any]]
    repeatable: bool = False
    judged: tuple[str, str] = (TEAM, WORKER)
    """The team and worker the table judges the command against (the receiving side's
    for a transfer reply)."""
    seen: tuple[str, str] = (TEAM, WORKER)
    """The case's own team and worker (who may see it)."""


def _attach(actor: Actor) -> AttachDocument:
    return AttachDocument(
        actor=actor,
        document_id="d0c1",
        kind=DocumentKind.CONSENT_FORM,
        title="Signed consent",
        filename="consent.pdf",
        media_type="application/pdf",
        size=5120,
        sha256="ab" * 32,
    )


def _add_member(actor: Actor) -> c.AddCircleMember:
    details = CircleMemberDetails(name="Mona Quennell", relationship="sister")
    return c.AddCircleMember(actor=actor, role=CircleRole.FAMILY_MEMBER, details=details)


_ADD_ACTION: dict[str, Any] = {
    "goal_id": "housing",
    "description": "Bring ID documents to the housing office",
    "owner": {"kind": "client"},
    "due_at": "2099-12-31",
}


def _plan() -> dict[str, Any]:
    return inputs.plan().plan.model_dump(mode="json")


CELLS: dict[str, Cell] = {
    "record_consent": Cell(Builder.opened, lambda: {"shared_fields": ["name"]}),
    "record_assessment": Cell(
        Builder.opened,
        lambda: {"assessment": {"domains": {"housing": {"rating": 3}}}},
    ),
    "draft_plan": Cell(Builder.assessed, lambda: {"plan": _plan()}),
    "submit_plan": Cell(Builder.drafted, lambda: {}),
    "decide_approval": Cell(Builder.submitted, lambda: {"kind": "plan", "approve": True}),
    "referral_reply": Cell(
        Builder.referred, lambda: {"referral_id": "referral-1", "outcome": "accepted"}
    ),
    "provider_report": Cell(
        Builder.referred,
        lambda: {"referral_id": "referral-1", "report": "first visit went well"},
        repeatable=True,
    ),
    "withdraw_referral": Cell(
        Builder.referred, lambda: {"referral_id": "referral-1", "reason": "the client moved"}
    ),
    "record_client_language": Cell(
        Builder.opened, lambda: {"preferred_language": "es", "interpreter_needed": True}
    ),
    "withdraw_document": Cell(
        Builder.with_document, lambda: {"document_id": "d0c1", "reason": "the wrong case"}
    ),
    "log_contact": Cell(Builder.opened, lambda: {}, repeatable=True),  # see `Walk.body`
    "record_progress": Cell(
        Builder.active, lambda: {"goal_id": "housing", "status": "in_progress"}, repeatable=True
    ),
    "evaluate": Cell(
        Builder.active,
        lambda: {
            "evaluations": [{"goal_id": "housing", "outcome": "met", "reason": "housed"}],
            "next_step": "continue",
        },
    ),
    "assign": Cell(Builder.opened, lambda: {"assignee": "frank", "reason": "leave cover"}),
    "request_transfer": Cell(Builder.opened, lambda: {"to_team": "south", "reason": "moved"}),
    "reply_transfer": Cell(
        Builder.transfer_pending, lambda: {"accept": True}, seen=("south", "erin")
    ),
    "request_closure": Cell(Builder.opened, lambda: {"reason": "goals_met"}),
    "hold": Cell(Builder.opened, lambda: {}),  # see `Walk.body`
    "resume": Cell(Builder.on_hold, lambda: {"reason": "home again"}),
    "record_note": Cell(Builder.opened, lambda: {"text": "called the GP"}, repeatable=True),
    "reopen": Cell(Builder.closed, lambda: {"reason": "relapse"}),
    "open_advocacy": Cell(Builder.opened, lambda: {}, repeatable=True),  # see `Walk.body`
    "advocacy_step": Cell(Builder.advocating, lambda: {}, repeatable=True),  # see `Walk.body`
    "conclude_advocacy": Cell(
        Builder.advocating, lambda: {"advocacy_id": "advocacy-1", "outcome": "resolved"}
    ),
    "add_action": Cell(Builder.active, lambda: dict(_ADD_ACTION), repeatable=True),
    "complete_action": Cell(Builder.with_action, lambda: {"action_id": "action-1"}),
    "drop_action": Cell(
        Builder.with_action, lambda: {"action_id": "action-1", "reason": "no longer needed"}
    ),
    "reassign_action": Cell(
        Builder.with_action,
        lambda: {"action_id": "action-1", "owner": {"kind": "family"}, "reason": "sister helps"},
    ),
    "record_feedback": Cell(
        Builder.drafted,
        lambda: {"subject": "plan", "rating": 4, "agrees_with_plan": True},
        repeatable=True,
    ),
    "add_circle_member": Cell(
        Builder.opened,
        lambda: {"role": "gp", "details": {"name": "Dr Okafor"}},  # once: a name is added once
    ),
    "update_circle_member": Cell(
        Builder.with_member, lambda: {"member_id": "member-1", "relationship": "older sister"}
    ),
    "remove_circle_member": Cell(
        Builder.with_member, lambda: {"member_id": "member-1", "reason": "moved away"}
    ),
    "record_circle_consent": Cell(
        Builder.with_member, lambda: {"member_id": "member-1", "shared": ["plan"]}
    ),
    "share_with_circle": Cell(
        Builder.sharing, lambda: {"member_id": "member-1", "items": ["plan"]}, repeatable=True
    ),
    "record_conference": Cell(Builder.opened, lambda: {}, repeatable=True),  # see `Walk.body`
}


def test_every_command_of_the_table_has_a_cell() -> None:
    routed = {e.update for e in TABLE if e.update not in NOT_BY_THIS_ROUTE}
    assert set(CELLS) == routed
    assert len(routed) >= 15  # the table is not empty


def expected_command(actor: Actor, update: str, cell: Cell) -> Outcome:
    """The access table's answer for `actor` sending `update` to the cell's case."""
    action = BY_UPDATE[update].action
    if COMMANDS[action].get(actor.role) is None:
        return "forbidden"  # the role may never do it, whatever the case
    team, worker = cell.judged
    if may(actor, action, team=team, assigned_worker=worker, referral_provider=REFERRAL_PROVIDER):
        return "allowed"
    return "forbidden" if _sees(actor, Query.CASE_DETAILS, cell.seen) else "hidden"


def _sees(actor: Actor, query: Query, seen: tuple[str, str]) -> bool:
    try:
        decide_read(actor, query, "case", team=seen[0], worker=seen[1])
    except (CaseNotVisible, AccessDenied):
        return False
    return True


def expected_read(actor: Actor, query: Query, seen: tuple[str, str] = (TEAM, WORKER)) -> Outcome:
    try:
        decide_read(actor, query, "case", team=seen[0], worker=seen[1])
    except AccessDenied:
        return "forbidden"
    except CaseNotVisible:
        return "hidden"
    return "allowed"


PINNED: dict[tuple[str, str], Outcome] = {
    ("record_note", "frank"): "allowed",  # a colleague covering the case may write a note
    ("record_note", "erin"): "hidden",
    ("log_contact", "alice"): "allowed",
    ("log_contact", "frank"): "hidden",
    ("log_contact", "audrey"): "forbidden",  # auditors change nothing
    ("log_contact", "root"): "forbidden",  # administrators see no case data
    ("decide_approval", "carol"): "allowed",
    ("decide_approval", "alice"): "forbidden",  # caseworkers do not approve
    ("decide_approval", "sam"): "hidden",  # a supervisor of another team
    ("reopen", "max"): "allowed",
    ("reopen", "sam"): "hidden",
    ("reply_transfer", "alice"): "allowed",  # the receiving worker
    ("reply_transfer", "erin"): "forbidden",  # the case's worker sees it, may not answer
    ("assign", "olga"): "forbidden",
    ("referral_reply", "pia"): "allowed",  # the provider the referral was sent to
    ("provider_report", "pia"): "allowed",
    ("referral_reply", "otis"): "hidden",  # another provider: no such referral for them
    ("log_contact", "pia"): "forbidden",  # providers do no case work
}
"""Cells written out by hand: the derived walk must agree with them."""


def test_the_pinned_cells_are_what_the_table_says() -> None:
    actors = {staff_id: _actor(staff_id) for staff_id in PRINCIPALS.values()}
    for (update, staff_id), outcome in PINNED.items():
        assert expected_command(actors[staff_id], update, CELLS[update]) == outcome, (
            update,
            staff_id,
        )
    assert {o for o in PINNED.values()} == {"allowed", "forbidden", "hidden"}


def _actor(staff_id: str) -> Actor:
    if staff_id == "root":
        return Actor(staff_id="root", role=Role.ADMIN)
    _, role, team = next(s for s in STAFF if s[0] == staff_id)
    return Actor(staff_id=staff_id, role=Role(role), team=team, provider_id=PROVIDERS.get(staff_id))


# --- through HTTP ---------------------------------------------------------------------------


@pytest.fixture
async def channel() -> AsyncIterator[str]:
    """A provider's webhook that accepts every referral."""

    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"status": "received", "provider_reference": "P-1"})

    app = web.Application()
    app.router.add_post("/referrals", accept)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/referrals"))


@dataclass
class Walk:
    api: Api
    builder: Builder
    headers: dict[str, dict[str, str]]
    """Each principal's Authorization header."""

    async def version(self, case_id: str) -> str:
        return f'"{await self.builder.store.stream_version(f"case-{case_id}")}"'

    async def send(
        self, staff_id: str, case_id: str, update: str, body: dict[str, Any]
    ) -> httpx.Response:
        return await self.api.http.post(
            f"/api/v1/cases/{case_id}/commands/{update}",
            json=body,
            headers={**self.headers[staff_id], "If-Match": await self.version(case_id)},
        )

    async def body(self, update: str, case_id: str) -> dict[str, Any]:
        """The cell's body; dates from the case's own time (never today's)."""
        opened_at = (await self.builder.cases.state(case_id)).opened_at
        if update == "hold":
            until = opened_at + timedelta(days=30)
            return {"reason": "in hospital", "until": until.isoformat()}
        if update == "log_contact":
            return {"kind": "phone", "contact_date": opened_at.date().isoformat()}
        if update == "record_conference":
            conference = {
                "held_on": opened_at.date().isoformat(),
                "participants": {"staff": [WORKER]},
                "decisions": ["the sister drives to the viewings"],
            }
            return {"conference": conference}
        step = (opened_at.date() + timedelta(days=14)).isoformat()
        if update == "open_advocacy":
            return {
                "barrier": "benefit_stopped",
                "organisation": "Benefits Office",
                "action": "request",
                "consent_by": "client",
                "next_step": "a decision",
                "next_step_date": step,
            }
        if update == "advocacy_step":
            return {
                "advocacy_id": "advocacy-1",
                "action": "appeal",
                "next_step": "tribunal",
                "next_step_date": step,
            }
        return CELLS[update].body()

    async def command(self, update: str) -> list[tuple[str, Outcome, int, str]]:
        """Every principal on `update`: (staff id, expected outcome, status, body). Refused
        principals first, on one case, which they must leave unchanged; allowed ones on
        the same case while the command may run again, else on a fresh case each."""
        cell = CELLS[update]
        outcomes = {s: expected_command(_actor(s), update, cell) for s in PRINCIPALS.values()}
        done: list[tuple[str, Outcome, int, str]] = []
        case_id = await cell.build(self.builder)
        for staff_id in (s for s, o in outcomes.items() if o != "allowed"):
            before = await self.version(case_id)
            answer = await self.send(staff_id, case_id, update, await self.body(update, case_id))
            done.append((staff_id, outcomes[staff_id], answer.status_code, answer.text))
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert await self.version(case_id) == before, (update, staff_id, "wrote")
            await self.refusal_reveals_no_more_than_a_read(staff_id, case_id, update, answer)
        fresh = False
        for staff_id in (s for s, o in outcomes.items() if o == "allowed"):
            if fresh:
                case_id = await cell.build(self.builder)
            answer = await self.send(staff_id, case_id, update, await self.body(update, case_id))
            done.append((staff_id, "allowed", answer.status_code, answer.text))
            fresh = not cell.repeatable
        return done

    async def refusal_reveals_no_more_than_a_read(
        self, staff_id: str, case_id: str, update: str, refused: httpx.Response
    ) -> None:
        read = await self.api.http.get(f"/api/v1/cases/{case_id}", headers=self.headers[staff_id])
        if refused.status_code == 404:
            # Same status, same problem as a read (and as a case that does not exist);
            # a provider reads no case at all (403, whatever the case), so for them only
            # the case that does not exist compares.
            if _actor(staff_id).role is not Role.PROVIDER:
                assert read.status_code == 404
                assert _problem(refused) == _problem(read), (update, staff_id)
            else:
                assert read.status_code == 403
            missing = str(uuid.uuid4())
            ghost = await self.api.http.post(
                f"/api/v1/cases/{missing}/commands/{update}",
                json=await self.body(update, case_id),
                headers={**self.headers[staff_id], "If-Match": '"1"'},
            )
            assert ghost.status_code == 404
            assert _problem(ghost) == {
                k: str(v).replace(case_id, missing) for k, v in _problem(refused).items()
            }
        # The refused attempt is on record.
        auditor = _actor("audrey")
        entries = await access_log.entries(self.api.app.pool, auditor, case_id)
        assert any(
            e.staff_id == staff_id and e.view == f"command {update}" and not e.allowed
            for e in entries
        ), (update, staff_id)


def _problem(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    return {k: str(v) for k, v in body.items() if k != "instance"}


@pytest.fixture
async def walk(api: Api, channel: str) -> Walk:
    builder = Builder(
        cases=await api.app.cases(),
        store=api.app.store,
        manager=await api.actor("max"),
        supervisor=await api.actor("carol"),
        worker=await api.actor("alice"),
        other_worker=await api.actor("erin"),
        channel=channel,
    )
    headers = {staff_id: await api.sign_in(staff_id) for staff_id in PRINCIPALS.values()}
    return Walk(api, builder, headers)


async def test_every_command_cell_answers_as_the_access_table_says(walk: Walk) -> None:
    results = await asyncio.gather(*(walk.command(update) for update in CELLS))
    cells = {
        (update, staff_id): (outcome, status, text)
        for update, rows in zip(CELLS, results, strict=True)
        for staff_id, outcome, status, text in rows
    }
    assert len(cells) == len(CELLS) * len(PRINCIPALS)
    wrong = {cell: got for cell, got in cells.items() if STATUS[got[0]] != got[1]}
    assert not wrong, "\n".join(f"{cell}: {got}" for cell, got in wrong.items())
    for (update, staff_id), outcome in PINNED.items():
        assert cells[update, staff_id][:2] == (outcome, STATUS[outcome])
    # Every kind of answer occurs (the walk is not all one outcome).
    assert {o for o, _, _ in cells.values()} == {"allowed", "forbidden", "hidden"}


CASE_READS: dict[str, Query] = {
    "": Query.CASE_DETAILS,
    "/history": Query.CASE_HISTORY,
    "/timeline": Query.CASE_HISTORY,
    "/summary": Query.CASE_DETAILS,
    "/export": Query.CASE_EXPORT,
}
LIST_READS: dict[str, Query] = {
    "/api/v1/caseload": Query.CASELOAD,
    "/api/v1/approvals": Query.APPROVALS,
    "/api/v1/referrals": Query.REFERRALS,
    "/api/v1/reviews": Query.REVIEWS,
    "/api/v1/escalations": Query.ESCALATIONS,
    "/api/v1/outcomes": Query.OUTCOMES,
    "/api/v1/conferences": Query.CONFERENCES,
}


async def test_every_read_cell_answers_as_the_access_table_says(
    walk: Walk, database_url: str
) -> None:
    case_id = await walk.builder.opened()
    await catch_up(database_url, walk.builder.store)
    for staff_id in PRINCIPALS.values():
        actor, auth = _actor(staff_id), walk.headers[staff_id]
        for suffix, query in CASE_READS.items():
            answer = await walk.api.http.get(f"/api/v1/cases/{case_id}{suffix}", headers=auth)
            outcome = expected_read(actor, query)
            assert answer.status_code == STATUS[outcome], (staff_id, suffix, answer.text)
        # The access log: by role, for any case.
        log = await walk.api.http.get(f"/api/v1/cases/{case_id}/access-log", headers=auth)
        allowed = actor.role in QUERIES[Query.ACCESS_LOG]
        assert log.status_code == (200 if allowed else 403), (staff_id, log.text)
        for path, query in LIST_READS.items():
            answer = await walk.api.http.get(path, headers=auth)
            try:
                query_relation(actor, query)
            except AccessDenied:
                assert answer.status_code == 403, (staff_id, path, answer.text)
            else:
                assert answer.status_code == 200, (staff_id, path, answer.text)
        # The caseload lists the case exactly for those who may see it.
        rows = await walk.api.http.get("/api/v1/caseload?by=worker", headers=auth)
        if rows.status_code == 200:
            items = rows.json()["items"]
            listed = any(r["worker"] == WORKER and r["open_cases"] for r in items)
            assert listed == _sees(actor, Query.CASELOAD, (TEAM, WORKER)), (staff_id, rows.json())
    # Pinned by hand.
    pins = {
        ("alice", ""): 200,
        ("erin", ""): 404,
        ("root", ""): 403,
        ("audrey", "/history"): 200,
        ("frank", "/summary"): 404,
        ("olga", "/timeline"): 403,
    }
    for (staff_id, suffix), status in pins.items():
        answer = await walk.api.http.get(
            f"/api/v1/cases/{case_id}{suffix}", headers=walk.headers[staff_id]
        )
        assert answer.status_code == status, (staff_id, suffix, answer.text)


async def test_opening_a_case_answers_as_the_access_table_says(walk: Walk) -> None:
    """Opening a case for alice of team north: there is no case to hide yet, so a refusal
    is 403 (the role may not open cases, or not for that team), and nothing is opened."""
    body = {
        "client_ref": "CL-ROLE-1",
        "client": {"name": "Rosalind Quennell-Ashby"},
        "assignee": WORKER,
        "presenting_needs": ["housing"],
    }
    statuses: dict[str, int] = {}
    for staff_id in PRINCIPALS.values():
        answer = await walk.api.http.post(
            "/api/v1/cases", json=body, headers=walk.headers[staff_id]
        )
        allowed = may(_actor(staff_id), Action.OPEN, team=TEAM, assigned_worker=WORKER)
        assert answer.status_code == (201 if allowed else 403), (staff_id, answer.text)
        statuses[staff_id] = answer.status_code
    pinned = {"alice": 201, "frank": 201, "carol": 201, "max": 201, "erin": 403, "sam": 403}
    assert {s: statuses[s] for s in pinned} == pinned
    assert statuses["audrey"] == statuses["root"] == statuses["olga"] == 403
