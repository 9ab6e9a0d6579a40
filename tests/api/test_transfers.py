"""`GET /api/v1/transfers` through HTTP: each caller sees the transfers waiting for
their answer (named, or to their team), answered and withdrawn ones gone, roles that
answer none refused; each row's `case_version` is the If-Match its answer needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.case_client import CaseClient
from cases import commands as c
from events.vocabulary import ApprovalKind, ClosureReason
from tests.api.conftest import Api
from tests.cases import inputs
from tests.projections.conftest import catch_up


@dataclass(frozen=True)
class Seeded:
    named: str
    """A case of team south being transferred to alice (north)."""
    to_team: str
    """A case of team south being transferred to team north, naming no worker."""
    rejected: str
    """A case of north whose transfer to erin (south) erin rejected."""
    withdrawn: str
    """A case of south, transferred to frank (north), closed before frank answered."""


async def _opened(cases: CaseClient, api: Api, worker: str) -> str:
    manager = await api.actor("max")
    opened = await cases.open(inputs.open_case(actor=manager, assignee=await api.actor(worker)))
    return str(opened.case_id)


async def seed(api: Api, database_url: str) -> Seeded:
    cases = await api.app.cases()
    manager = await api.actor("max")
    named = await _opened(cases, api, "erin")
    await cases.execute(named, c.RequestTransfer(
        actor=manager, to_team="north", to_worker=await api.actor("alice"), reason="moved north",
    ))  # fmt: skip
    to_team = await _opened(cases, api, "erin")
    await cases.execute(
        to_team, c.RequestTransfer(actor=manager, to_team="north", reason="closer to family")
    )
    rejected = await _opened(cases, api, "alice")
    await cases.execute(rejected, c.RequestTransfer(
        actor=manager, to_team="south", to_worker=await api.actor("erin"), reason="moved south",
    ))  # fmt: skip
    await cases.execute(
        rejected, c.ReplyTransfer(actor=await api.actor("erin"), accept=False, reason="full")
    )
    withdrawn = await _opened(cases, api, "erin")
    await cases.execute(withdrawn, c.RequestTransfer(
        actor=manager, to_team="north", to_worker=await api.actor("frank"), reason="moved",
    ))  # fmt: skip
    await cases.execute(withdrawn, c.RequestClosure(actor=manager, reason=ClosureReason.GOALS_MET))
    await cases.execute(withdrawn, c.DecideApproval(
        actor=await api.actor("sam"), kind=ApprovalKind.CLOSURE, approve=True,
    ))  # fmt: skip
    await catch_up(database_url, api.app.store)
    return Seeded(named, to_team, rejected, withdrawn)


async def _listed(api: Api, staff_id: str) -> dict[str, dict[str, object]]:
    answer = await api.http.get("/api/v1/transfers", headers=await api.sign_in(staff_id))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_cursor"] is None
    return {row["case_id"]: row for row in body["items"]}


async def test_each_caller_sees_the_transfers_waiting_for_their_answer(
    api: Api, database_url: str
) -> None:
    seeded = await seed(api, database_url)
    waiting = {seeded.named, seeded.to_team}
    assert set(await _listed(api, "alice")) == waiting  # named, and the team's unnamed one
    assert set(await _listed(api, "frank")) == {seeded.to_team}  # not alice's; not withdrawn
    assert set(await _listed(api, "carol")) == waiting  # the receiving team's supervisor
    assert set(await _listed(api, "max")) == waiting  # a manager: every one
    assert await _listed(api, "erin") == {}  # she rejected hers; nothing is to south now
    assert await _listed(api, "sam") == {}

    row = (await _listed(api, "alice"))[seeded.named]
    assert row["transfer_id"] == "transfer-1"
    assert (row["to_team"], row["to_worker"], row["reason"]) == ("north", "alice", "moved north")
    assert (row["from_team"], row["from_worker"], row["requested_by"]) == ("south", "erin", "max")
    assert row["client_ref"] == "CL-1042"
    version = await api.app.store.stream_version(f"case-{seeded.named}")
    assert row["case_version"] == version

    for staff_id in ("audrey", "olga", "root"):  # auditor, operator, admin answer none
        answer = await api.http.get("/api/v1/transfers", headers=await api.sign_in(staff_id))
        assert answer.status_code == 403, (staff_id, answer.text)


async def test_the_listed_version_answers_the_transfer(api: Api, database_url: str) -> None:
    seeded = await seed(api, database_url)
    alice = await api.sign_in("alice")
    row = (await _listed(api, "alice"))[seeded.named]
    answer = await api.http.post(
        f"/api/v1/cases/{seeded.named}/commands/reply_transfer",
        json={"accept": True},
        headers={**alice, "If-Match": f'"{row["case_version"]}"'},
    )
    assert answer.status_code == 200, answer.text
    state = await (await api.app.cases()).state(seeded.named)
    assert (state.assigned_worker, state.team, state.pending_transfer) == ("alice", "north", None)
    await catch_up(database_url, api.app.store)
    assert set(await _listed(api, "alice")) == {seeded.to_team}
    assert set(await _listed(api, "carol")) == {seeded.to_team}

    # An answer sent for a version the case has moved on from changes nothing.
    stale = (await _listed(api, "frank"))[seeded.to_team]["case_version"]
    await (await api.app.cases()).execute(
        seeded.to_team, c.RecordNote(actor=await api.actor("max"), text="called the client")
    )
    answer = await api.http.post(
        f"/api/v1/cases/{seeded.to_team}/commands/reply_transfer",
        json={"accept": True},
        headers={**await api.sign_in("frank"), "If-Match": f'"{stale}"'},
    )
    assert answer.status_code == 412, answer.text
    state = await (await api.app.cases()).state(seeded.to_team)
    assert state.pending_transfer is not None and state.assigned_worker == "erin"


async def test_pages_and_bad_parameters(api: Api, database_url: str) -> None:
    seeded = await seed(api, database_url)
    manager = await api.sign_in("max")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        answer = await api.http.get("/api/v1/transfers", params=params, headers=manager)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [row["case_id"] for row in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted({seeded.named, seeded.to_team})  # each exactly once, in order
    assert seen == sorted(seen, key=[seeded.named, seeded.to_team].index)

    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": str(uuid.uuid4())}, "cursor"),
    ):
        answer = await api.http.get("/api/v1/transfers", params=params, headers=manager)
        assert answer.status_code == 422, (params, answer.text)
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.text
