"""One path for every command (issue 29): the HTTP API and the console decide alike.

Every command the API's command route serves (cases/command_table.py, less
`NOT_BY_THIS_ROUTE`) is sent by a principal standing in each role × position of the
access table's walk (tests/security/test_access_table.py `positions`: the case's own
worker, a colleague of its team, someone of another team, the team-less roles), once
through `POST /api/v1/cases/{id}/commands/{update}` and once through the case page's
form (`POST /console/cases/{id}/do/{update}`, the same session as a cookie). Both must
give the access table's decision — allowed (200 / 303), 403, or 404 exactly as for a
case that does not exist — and leave the same access-log entries (a refusal recorded as
`command <update>`, not allowed; nothing for an allowed command).

The cases are built as tests/api/test_role_table.py builds them (so that only the table
can refuse). Refused principals try both entry points on one case, which they leave
unchanged; of the allowed ones every principal tries a command that may run again, and
the first one (a representative position) a command that may not, on a case of its own
for each entry point: the walk stays within a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import httpx

from application import access_log
from cases import commands as c
from cases.actors import Actor, Role
from casework.console.case_actions import forms_for
from casework.console.forms import ActionForm
from casework.console.web import SESSION_COOKIE, csrf_for_session
from directory import load_resource_directory
from tests.api.conftest import api  # noqa: F401 (a fixture)
from tests.api.test_role_table import (  # noqa: F401 (fixtures)
    CELLS,
    PRINCIPALS,
    Outcome,
    Walk,
    _actor,
    channel,
    expected_command,
    walk,
)
from tests.cases import inputs
from tests.security.test_access_table import Position, positions

POSITIONS: dict[tuple[Role, Position], str] = {
    (Role.CASEWORKER, Position.OWN): "alice",
    (Role.CASEWORKER, Position.TEAM): "frank",
    (Role.CASEWORKER, Position.OTHER): "erin",
    (Role.SUPERVISOR, Position.TEAM): "carol",
    (Role.SUPERVISOR, Position.OTHER): "sam",
    (Role.MANAGER, Position.AGENCY): "max",
    (Role.AUDITOR, Position.AGENCY): "audrey",
    (Role.ADMIN, Position.AGENCY): "root",
    (Role.OPERATOR, Position.AGENCY): "olga",
    (Role.PROVIDER, Position.REFERRED): "pia",
    (Role.PROVIDER, Position.OTHER_PROVIDER): "otis",
}
"""Who stands where: the cases are team north's, assigned to alice, their referral to
pia's provider. Not walked: the engine (it signs in nowhere) and a supervisor's own case
(cases are a caseworker's)."""

PORTAL_ACTS = {"referral_reply": "accept", "provider_report": "progress"}
"""A provider's console is the provider portal, not the case page: its answers to a
referral go through the portal's forms (`POST /console/portal/{case}/{referral}/{act}`),
the same `case_commands.send`; every other command is tried on the case page's route."""

NO_CONSOLE_FORM = {"provider_report", "reassign_action"}
"""Commands the case page offers no form for (a provider's report comes by the API; an
action is reassigned through the API): their refusals are compared, and an allowed one
answers the console's 409, "not open to you on the case as it stands"."""

CONSOLE_STATUS: dict[Outcome, int] = {"allowed": 303, "forbidden": 403, "hidden": 404}
API_STATUS: dict[Outcome, int] = {"allowed": 200, "forbidden": 403, "hidden": 404}
AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)


def test_the_walk_stands_in_every_position_of_the_access_table() -> None:
    walked = {
        (role, position)
        for role in Role
        if role is not Role.SYSTEM
        for position in positions(role)
        if (role, position) != (Role.SUPERVISOR, Position.OWN)
    }
    assert set(POSITIONS) == walked
    assert set(POSITIONS.values()) == set(PRINCIPALS.values())
    for (role, _), staff_id in POSITIONS.items():
        assert _actor(staff_id).role is role


def _form_values(spec: ActionForm, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The API's JSON body as the form's inputs would send it (defaults where it says
    nothing)."""

    def lookup(path: str) -> Any:
        node: Any = body
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    values: list[tuple[str, str]] = []
    for item in spec.inputs:
        value = lookup(item.name)
        if value is None:
            defaults = item.default if isinstance(item.default, tuple) else (item.default,)
            values += [(item.name, d) for d in defaults]
        elif item.kind == "checkboxes":
            values += [(item.name, str(v)) for v in value]
        elif item.kind == "lines":
            values.append((item.name, "\n".join(str(v) for v in value)))
        elif isinstance(value, bool):
            values.append((item.name, "true" if value else "false"))
        else:
            values.append((item.name, str(value)))
    return values


class OnePath:
    def __init__(self, walked: Walk) -> None:
        self.walk = walked

    async def log(self, case_id: str, staff_id: str) -> list[tuple[Any, ...]]:
        found = await access_log.entries(self.walk.api.app.pool, AUDITOR, case_id)
        return [
            (e.access_id, e.staff_id, e.role, e.team, e.case_id, e.view, e.reason,
             e.break_glass, e.allowed, e.auth_method, e.credential_id)
            for e in found
            if e.staff_id == staff_id
        ]  # fmt: skip

    async def new_entries(self, case_id: str, staff_id: str, before: int) -> list[tuple[Any, ...]]:
        return [e[1:] for e in await self.log(case_id, staff_id) if e[0] > before]

    async def last_id(self, case_id: str, staff_id: str) -> int:
        return max((e[0] for e in await self.log(case_id, staff_id)), default=0)

    async def by_api(self, staff_id: str, case_id: str, update: str) -> tuple[int, Any]:
        before = await self.last_id(case_id, staff_id)
        body = await self.walk.body(update, case_id)
        answer = await self.walk.send(staff_id, case_id, update, body)
        return answer.status_code, await self.new_entries(case_id, staff_id, before)

    async def by_portal(self, staff_id: str, case_id: str, update: str) -> tuple[int, Any]:
        before = await self.last_id(case_id, staff_id)
        token = self.walk.api.tokens[staff_id]
        body = await self.walk.body(update, case_id)
        fields = [("csrf", csrf_for_session(token)), ("note", body.get("report", ""))]
        answer = await self.walk.api.http.post(
            f"/console/portal/{case_id}/{body['referral_id']}/{PORTAL_ACTS[update]}",
            content=urlencode(fields).encode(),
            headers={
                "Cookie": f"{SESSION_COOKIE}={token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        return answer.status_code, await self.new_entries(case_id, staff_id, before)

    async def by_console(self, staff_id: str, case_id: str, update: str) -> tuple[int, Any]:
        if _actor(staff_id).role is Role.PROVIDER and update in PORTAL_ACTS:
            return await self.by_portal(staff_id, case_id, update)
        before = await self.last_id(case_id, staff_id)
        app = self.walk.api.app
        token = self.walk.api.tokens[staff_id]
        state = await self.walk.builder.cases.state(case_id)
        resources = await load_resource_directory(app.store)
        spec = next(
            (f for f in forms_for(state, _actor(staff_id), resources) if f.action == update), None
        )
        fields = [("csrf", csrf_for_session(token)), ("version", str(state.stream_version))]
        if spec is not None:
            fields += _form_values(spec, await self.walk.body(update, case_id))
        answer = await self.walk.api.http.post(
            f"/console/cases/{case_id}/do/{update}",
            content=urlencode(fields).encode(),
            headers={
                "Cookie": f"{SESSION_COOKIE}={token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        return answer.status_code, await self.new_entries(case_id, staff_id, before)

    async def command(self, update: str) -> list[tuple[str, str, Outcome, tuple[Any, ...]]]:
        """(update, staff id, expected, (api status, api entries, console status, console
        entries)) for every principal walked on `update`."""
        cell = CELLS[update]
        outcomes = {s: expected_command(_actor(s), update, cell) for s in PRINCIPALS.values()}
        done: list[tuple[str, str, Outcome, tuple[Any, ...]]] = []
        case_id = await cell.build(self.walk.builder)
        for staff_id in (s for s, o in outcomes.items() if o != "allowed"):
            by_api = await self.by_api(staff_id, case_id, update)
            console = await self.by_console(staff_id, case_id, update)
            done.append((update, staff_id, outcomes[staff_id], (*by_api, *console)))
        allowed = [s for s, o in outcomes.items() if o == "allowed"]
        for staff_id in allowed if cell.repeatable else allowed[:1]:
            by_api = await self.by_api(staff_id, case_id, update)
            if not cell.repeatable:
                case_id = await cell.build(self.walk.builder)
            console = await self.by_console(staff_id, case_id, update)
            done.append((update, staff_id, "allowed", (*by_api, *console)))
        return done


async def test_every_command_answers_alike_through_the_api_and_the_console(
    walk: Walk,  # noqa: F811 (the fixture)
) -> None:
    one_path = OnePath(walk)
    results = await asyncio.gather(*(one_path.command(update) for update in CELLS))
    rows = [row for rows in results for row in rows]
    assert {update for update, *_ in rows} == set(CELLS), "every command is walked"
    wrong = []
    for update, staff_id, outcome, (api_status, api_log, console_status, console_log) in rows:
        role, team = _who(staff_id)
        expected = (
            []
            if outcome == "allowed"
            else [(staff_id, role, team, f"command {update}", None, False, False)]
        )
        if outcome == "allowed" and update in NO_CONSOLE_FORM and role != "provider":
            # The page re-rendered with the refusal is a read of the case, on record.
            console_status = 303 if console_status == 409 else console_status
            console_log = [e for e in console_log if e[4] != "case show"]
        if (
            api_status != API_STATUS[outcome]
            or console_status != CONSOLE_STATUS[outcome]
            or api_log != console_log
            or [(e[0], e[1], e[2], e[4], e[5], e[6], e[7]) for e in api_log] != expected
        ):
            wrong.append((update, staff_id, outcome, api_status, console_status, api_log,
                          console_log))  # fmt: skip
    assert not wrong, "\n".join(map(str, wrong))
    assert {outcome for _, _, outcome, _ in rows} == {"allowed", "forbidden", "hidden"}


def _who(staff_id: str) -> tuple[str, str | None]:
    actor = _actor(staff_id)
    return actor.role.value, actor.team


async def _inbox_decision(
    walked: Walk, staff_id: str, case_id: str, approval_id: str
) -> httpx.Response:
    token = walked.api.tokens[staff_id]
    version = await walked.builder.store.stream_version(f"case-{case_id}")
    fields = [
        ("csrf", csrf_for_session(token)),
        ("decision", "approve"),
        ("reason", ""),
        ("note", ""),
        ("version", str(version)),
    ]
    return await walked.api.http.post(
        f"/console/approvals/{case_id}/{approval_id}",
        content=urlencode(fields).encode(),
        headers={
            "Cookie": f"{SESSION_COOKIE}={token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


async def test_the_approvals_inbox_decides_by_the_approval_rule(
    walk: Walk,  # noqa: F811 (the fixture)
) -> None:
    """The inbox admits by the access table's APPROVE row (a refusal on record), and the
    one approval rule refuses the plan's author, as the API and the case page do."""
    b = walk.builder
    case_id = await b.assessed()
    await b.run(case_id, inputs.plan(actor=b.supervisor), c.SubmitPlan(actor=b.manager))
    state = await b.cases.state(case_id)
    [pending] = state.approvals.values()
    resources = await load_resource_directory(walk.api.app.store)
    offered = {f.action for f in forms_for(state, b.supervisor, resources)}
    assert "decide_approval" not in offered, "carol wrote the plan: no form for her"
    answers = {
        s: await _inbox_decision(walk, s, case_id, pending.approval_id)
        for s in ("alice", "sam", "carol")
    }
    assert answers["alice"].status_code == 403, answers["alice"].text  # caseworkers do not
    assert answers["sam"].status_code == 404  # another team's supervisor: no such approval
    assert "No such approval waiting for you." in answers["sam"].text
    assert answers["carol"].status_code == 409  # the author
    assert "carol wrote plan v1 and may not approve it" in answers["carol"].text
    log = await access_log.entries(walk.api.app.pool, AUDITOR, case_id)
    assert sorted((e.staff_id, e.view, e.allowed) for e in log) == [
        ("alice", "command decide_approval", False),
        ("sam", "command decide_approval", False),
    ]
    by_api = await walk.send("carol", case_id, "decide_approval", {"kind": "plan", "approve": True})
    assert by_api.status_code == 409 and "carol wrote plan v1" in by_api.json()["detail"]
