"""A case file the auditor verifies alone (events/case_file.py, application/case_export.py):
export -> verify offline passes; any single byte changed fails, naming what; a forgotten
client's case verifies with the personal fields shown as erased."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from application.access_log import entries
from application.bootstrap import Casework, open_casework
from application.case_export import export_case
from application.forget import forget_client_in_log
from application.notary import checkpoint_now, public_keys_path
from cases.access import AccessDenied, CaseNotVisible
from cases.actors import Actor, Role
from devtools.simulation import CLIENT_NAME, RandomChooser, simulate_case
from events.case_file import load_public_keys, verify_case_file
from events.case_file_html import render_html
from events.catalog import default_registry
from events.checkpoints import TrustedKeys
from events.envelope import EventMetadata
from events.keys import MasterKeyring
from infrastructure.settings import Settings
from tests.events.factories import contact_event

AUDITOR = Actor(staff_id="audit-1", role=Role.AUDITOR, team=None)
REGISTRY = default_registry()


@pytest.fixture
async def app(
    database_url: str, master_keyring: MasterKeyring, tmp_path: Path
) -> AsyncIterator[Casework]:
    settings = Settings(
        database_url=database_url, master_keys=master_keyring.to_spec(), data_dir=tmp_path
    )
    async with open_casework(settings, pool_size=3) as app:
        yield app


async def notarise(app: Casework) -> None:
    """Publish a checkpoint covering the whole log (events become readable to the notary
    once no older transaction of the cluster is in progress: wait for that)."""
    dsn = app.settings.database_url or ""
    total = await app.pool.fetchval("SELECT count(*) FROM events")
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        signed = await checkpoint_now(app.settings, dsn)
        latest = signed
        if latest is None:
            from application.notary import checkpoint_sink

            latest = checkpoint_sink(app.settings).latest()
        if latest is not None and latest.tree_size >= total:
            return
        assert asyncio.get_running_loop().time() < deadline, "the notary did not catch up"
        await asyncio.sleep(0.05)


async def open_generated_case(app: Casework, seed: int = 0, steps: int = 4) -> tuple[str, str]:
    case_id, events = simulate_case(RandomChooser(seed), steps=steps)
    await app.store.append(f"case-{case_id}", 0, events)
    return str(case_id), str(events[0].data["client_ref"])


def public_keys(app: Casework) -> TrustedKeys:
    return load_public_keys(public_keys_path(app.settings).read_text(), "notary.pub")


async def test_an_export_verifies_offline_and_says_what_it_proves(app: Casework) -> None:
    other, _ = await open_generated_case(app, seed=1)
    case_id, _ = await open_generated_case(app, seed=0)
    await notarise(app)
    # One more event after the checkpoint: in the file, chained, but not proven.
    version = await app.store.stream_version(f"case-{case_id}")
    hostile = "<script>alert('x')</script> & \"quotes\""
    await app.store.append(f"case-{case_id}", version, [contact_event(9, notes=hostile)])

    content = await export_case(app, AUDITOR, case_id)
    document = json.loads(content)
    assert document["personal_fields"] == "disclosed"
    assert document["client_key"] is not None
    opened = document["events"][0]["data"]
    assert opened["client"]["name"] == CLIENT_NAME
    assert "enc:v1:" in document["events"][0]["data_text"]  # as stored: ciphertext

    report = verify_case_file(content, public_keys(app), REGISTRY)
    assert report.ok, report.problems
    assert len(report.events) == version + 1
    assert [e.notarised for e in report.events] == [True] * version + [False]
    assert f"Events v1-v{version} of case-{case_id}, in this order" in report.proven[0]
    assert any(f"Events v{version + 1}-v{version + 1} were appended after" in s
               for s in report.not_proven)  # fmt: skip
    assert any("Who wrote each event" in s for s in report.not_proven)

    # The rendering for people: the same verdict, every value escaped.
    page = render_html(report, ["k1"])
    assert "Verified with the public key given (k1)" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert CLIENT_NAME in page and page.count("<tr>") >= len(report.events)

    # Recorded in the access log.
    [entry] = [e for e in await entries(app.pool, AUDITOR, case_id) if e.view == "case export"]
    assert entry.staff_id == AUDITOR.staff_id and entry.allowed

    # Another key does not verify it.
    from events.checkpoints import NotaryKey

    stranger = TrustedKeys()
    stranger.add(NotaryKey.generate().public)
    refused = verify_case_file(content, stranger, REGISTRY)
    assert not refused.ok and "not by the key given" in refused.problems[0]
    assert refused.proven == []

    # Without personal fields: withheld, still verifies.
    withheld = await export_case(app, AUDITOR, case_id, personal=False)
    report = verify_case_file(withheld, public_keys(app), REGISTRY)
    assert report.ok, report.problems
    assert json.loads(withheld)["client_key"] is None
    assert CLIENT_NAME not in withheld.decode()
    assert report.events[0].data["client"]["name"] == "[sealed]"
    assert other  # a second case in the log: the tree holds more than this case


async def test_flipping_any_byte_fails_naming_what(app: Casework) -> None:
    case_id, _ = await open_generated_case(app, seed=2, steps=2)
    await notarise(app)
    content = await export_case(app, AUDITOR, case_id)
    keys = public_keys(app)
    assert verify_case_file(content, keys, REGISTRY).ok
    named: dict[str, int] = {}
    for at in range(len(content)):
        for mask in (0x01, 0x20):
            changed = bytearray(content)
            changed[at] ^= mask
            report = verify_case_file(bytes(changed), keys, REGISTRY)
            assert not report.ok, f"byte {at} ^ {mask:#x} ({content[at : at + 1]!r}) went unnoticed"
            assert report.problems and report.proven == []
            for problem in report.problems:
                named[re.sub(r"[0-9a-f-]{36}|'[^']*'|\d+", "N", problem)] = at
    # Not only "the file is not in its exported form": the semantic checks name fields.
    print(f"{2 * len(content)} altered files, {len(named)} distinct problems named")
    text = "\n".join(named)
    for expected in (
        "not a JSON document",
        "the file is not in the form it was exported in",
        "checkpoint #N: the signature does not verify",
        "its inclusion proof does not lead to checkpoint #N's root",
        "its hash does not match its contents (altered)",
        "personal fields decrypted from the stored ciphertext (altered)",
        "does not open with data key",
    ):
        assert expected in text, expected


async def test_a_forgotten_clients_case_verifies_with_personal_fields_erased(
    app: Casework,
) -> None:
    case_id, client_ref = await open_generated_case(app, seed=3)
    await forget_client_in_log(
        app.store,
        client_ref,
        "the client asked",
        EventMetadata(actor_id="ada", actor_role="admin"),
        occurred_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    await notarise(app)
    content = await export_case(app, AUDITOR, case_id)
    document = json.loads(content)
    assert document["personal_fields"] == "erased" and document["client_key"] is None
    report = verify_case_file(content, public_keys(app), REGISTRY)
    assert report.ok, report.problems
    assert report.events[-1].event_type == "ClientForgotten"
    assert any("That the client was forgotten" in s for s in report.not_proven)
    opened = report.events[0].data
    assert CLIENT_NAME not in json.dumps(opened) and CLIENT_NAME not in content.decode()
    # The erased values are checked too: "un-erasing" a field by hand is named.
    document["events"][0]["data"]["client"]["name"] = "Someone Else"
    from events.case_file import dumps

    report = verify_case_file(dumps(document), public_keys(app), REGISTRY)
    assert not report.ok
    assert report.problems == [
        f"event v1 ({document['events'][0]['event_id']}) data.client.name: not what the "
        "stored event holds, its personal fields erased (altered)"
    ]


async def test_who_may_export(app: Casework) -> None:
    case_id, _ = await open_generated_case(app, seed=4, steps=1)
    team = json.loads(
        await app.pool.fetchval(
            "SELECT data::text FROM events WHERE stream_id = $1 AND stream_version = 1",
            f"case-{case_id}",
        )
    )["team"]  # fmt: skip
    with pytest.raises(AccessDenied):
        await export_case(app, Actor(staff_id="cal", role=Role.CASEWORKER, team=team), case_id)
    with pytest.raises(AccessDenied):
        await export_case(app, Actor(staff_id="ada", role=Role.ADMIN, team=None), case_id)
    with pytest.raises(CaseNotVisible):
        await export_case(app, Actor(staff_id="sue", role=Role.SUPERVISOR, team="x"), case_id)
    with pytest.raises(CaseNotVisible):
        await export_case(app, AUDITOR, str(uuid.uuid4()))
    # The supervisor of the case's team may; the refusals are on record too.
    await export_case(app, Actor(staff_id="sam", role=Role.SUPERVISOR, team=team), case_id)
    seen = await entries(app.pool, AUDITOR, case_id)
    assert [(e.staff_id, e.allowed) for e in reversed(seen)] == [
        ("cal", False), ("ada", False), ("sue", False), ("sam", True),
    ]  # fmt: skip
