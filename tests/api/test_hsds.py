"""The community's service directory through the HTTP API (casework/api/hsds.py), in
process over the real event store: an admin imports HSDS packages (refusals name the
field and write nothing), the directory is published in HSDS's shape and filtered for
referring, and an imported service takes a referral end to end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from application.referrals import refer
from cases import commands as c
from events.directory_events import PROVIDER_STREAM
from events.hsds_events import IMPORTS_STREAM
from events.vocabulary import ApprovalKind, SharedField
from tests.api.test_api import Api, problem
from tests.api.test_api import api as api  # the fixture: signed-in staff over a real store
from tests.cases import inputs
from tests.projections.conftest import catch_up
from tests.security.test_access_log import ALICE, CAROL

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hsds"
HARBOUR = "0b6a3c2e-1f1a-4e7e-9d0a-000000000001"
BEDS = "5e7c0000-0000-4000-8000-000000000001"
IMPORTS = "/api/v1/directory/imports"


async def _written(api: Api) -> tuple[int, int]:
    store = api.app.store
    return await store.stream_version(PROVIDER_STREAM), await store.stream_version(IMPORTS_STREAM)


async def _import(api: Api, name: str, auth: dict[str, str], **params: str) -> dict[str, object]:
    answer = await api.http.post(
        IMPORTS, content=(FIXTURES / name).read_bytes(), headers=auth, params=params
    )
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_import_twice_then_a_changed_package(api: Api) -> None:
    root = await api.sign_in("root")
    first = await _import(api, "directory.json", root)
    assert (first["added"], first["unchanged"], first["refused"]) == (3, 0, 0)
    before = await _written(api)
    again = await _import(api, "directory.json", root)
    assert (again["added"], again["changed"], again["unchanged"]) == (0, 0, 3)
    assert (await _written(api))[0] == before[0]  # no directory event the second time
    second = await _import(api, "directory_v2.json", root)
    assert second["changed_services"] == {BEDS: ["description", "languages"]}
    assert second["withdrawn"] == 1
    shown = await api.http.get(f"{IMPORTS}/{second['import_id']}", headers=root)
    assert shown.status_code == 200 and shown.json()["changed"] == 1


async def test_broken_rows_are_named_and_the_rest_imports(api: Api) -> None:
    root = await api.sign_in("root")
    report = await _import(api, "broken.json", root)
    assert report["added"] == 3
    wheres = sorted(r["where"] for r in report["refusals"])  # type: ignore[attr-defined]
    assert wheres == [
        "services[3].name",
        "services[4].organization_id",
        "services[5].id",
        "services[6].attributes",
    ]


async def test_refused_packages_write_nothing(api: Api) -> None:
    root = await api.sign_in("root")
    before = await _written(api)
    cases = [
        ("wrong_version.json", 422, "version"),
        ("not_hsds.txt", 415, "file"),
    ]
    for name, status, field in cases:
        answer = await api.http.post(IMPORTS, content=(FIXTURES / name).read_bytes(), headers=root)
        assert answer.status_code == status, answer.text
        assert [e["field"] for e in problem(answer, status)["errors"]] == [field]
    too_big = await api.http.post(
        IMPORTS,
        content=b"{}",
        headers={**root, "Content-Length": str(200_000_000)},
    )
    assert too_big.status_code == 413
    # Only an admin imports.
    alice = await api.sign_in("alice")
    denied = await api.http.post(
        IMPORTS, content=(FIXTURES / "directory.json").read_bytes(), headers=alice
    )
    assert denied.status_code == 403
    dry = await _import(api, "directory.json", root, dry_run="true")
    assert dry["added"] == 3 and dry["events_written"] == 0
    assert await _written(api) == before


async def test_publication_filters_and_a_referral(api: Api, database_url: str) -> None:
    root = await api.sign_in("root")
    await _import(api, "directory.json", root)
    await catch_up(database_url, api.app.store)
    alice = await api.sign_in("alice")
    listed = await api.http.get("/api/v1/hsds/services?per_page=2", headers=alice)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert (page["total_items"], page["size"], page["last_page"]) == (3, 2, False)
    assert {"id", "organization", "languages", "schedules"} <= set(page["contents"][0])
    later = api.clock() + timedelta(days=1)
    none = await api.http.get(
        "/api/v1/hsds/services", params={"modified_after": later.isoformat()}, headers=alice
    )
    assert none.json()["total_items"] == 0
    assert (await api.http.get("/api/v1/hsds/services")).status_code == 401

    spanish = await api.http.get(
        "/api/v1/services", params={"need": "housing", "language": "es"}, headers=alice
    )
    assert [s["service_id"] for s in spanish.json()] == [BEDS]
    north = await api.http.get("/api/v1/services", params={"area": "n1"}, headers=alice)
    assert [s["service_id"] for s in north.json()] == [BEDS]
    bad = await api.http.get("/api/v1/services", params={"need": "flying"}, headers=alice)
    assert bad.status_code == 422

    # An imported service takes a referral: ReferralMade names it.
    cases = await api.app.cases()
    opened = await cases.open(inputs.open_case(actor=ALICE, assignee=ALICE))
    case_id = str(opened.case_id)
    for cmd in (
        inputs.consent(actor=ALICE, providers=(HARBOUR,)),
        inputs.assessment(actor=ALICE),
        inputs.plan(actor=ALICE),
        c.SubmitPlan(actor=ALICE),
        c.DecideApproval(actor=CAROL, kind=ApprovalKind.PLAN, approve=True),
    ):
        await cases.execute(case_id, cmd)
    await refer(
        api.app, ALICE, case_id, provider=HARBOUR, service=BEDS, goal="housing",
        shared_fields=[SharedField.NAME],
    )  # fmt: skip
    async with asyncio.timeout(60):
        while True:
            events = await api.app.store.read_stream(f"case-{case_id}")
            made = [e for e in events if e.event_type == "ReferralMade"]
            if made:
                break
            await asyncio.sleep(0.05)
    assert (made[0].data["provider_id"], made[0].data["service_id"]) == (HARBOUR, BEDS)
