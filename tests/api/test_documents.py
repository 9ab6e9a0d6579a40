"""Documents on a case through the HTTP API (in-process, the real event store, a real
case worker on the time-skipping server): upload as the request body, list, download,
withdraw; every refusal names its field and keeps nothing (no staged row, no block, no
event); every download is in the access log; the plan for signature is a PDF whose
SHA-256 is in the log. (The autouse fixture replays what the
tests made from a cold cache.)"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from application.access_log import entries
from application.notary import public_keys_path
from cases import commands as c
from cases.actors import Actor, Role
from cases.features.documents import MAX_DOCUMENTS_PER_CASE
from events.vocabulary import ApprovalKind
from infrastructure.logs import configure_logging
from infrastructure.settings import LogFormat
from tests.api.conftest import Api, problem
from tests.cases import inputs
from tests.clamd_server import EICAR, SIGNATURE_NAME, start_clamd
from tests.codec_keys import settings_for_tests
from tests.events.test_case_file import notarise
from tests.projections.conftest import catch_up
from tests.security.conftest import logging_restored
from tests.test_case_export_cli import verify_offline

__all__ = ["logging_restored"]  # a fixture of the security tests, used here

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def pdf_of(size: int) -> bytes:
    """A file whose content is a PDF's, `size` bytes long (random after the header)."""
    return PDF + os.urandom(size - len(PDF))


async def _open(api: Api, who: dict[str, str], client_ref: str) -> str:
    opened = await api.http.post(
        "/api/v1/cases",
        json={
            "client_ref": client_ref,
            "client": {"name": "Rosalind Quennell-Ashby"},
            "assignee": "alice",
            "presenting_needs": ["housing"],
        },
        headers=who,
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


def _upload(
    api: Api,
    who: dict[str, str],
    case_id: str,
    content: bytes | AsyncIterator[bytes],
    **params: str,
) -> Any:
    query = {"kind": "consent_form", "title": "Signed consent", "filename": "consent.pdf"}
    query.update(params)
    return api.http.post(
        f"/api/v1/cases/{case_id}/documents",
        params=query,
        content=content,
        headers={**who, "If-Match": "*"},
    )


async def _nothing_kept(api: Api, case_id: str, events_before: int) -> None:
    assert await api.app.pool.fetchval(
        "SELECT count(*) FROM document_blobs WHERE case_id = $1::uuid", case_id
    ) == len(
        [d for d in (await (await api.app.cases()).state(case_id)).documents.values() if d.readable]
    )
    assert await api.app.store.stream_version(f"case-{case_id}") == events_before


async def test_attach_list_download_withdraw(api: Api, database_url: str) -> None:
    alice, erin, audrey = [await api.sign_in(s) for s in ("alice", "erin", "audrey")]
    case_id = await _open(api, alice, "CL-DOC-1")
    content = pdf_of(3 * 1024 * 1024 + 17)  # several sealed blocks, the last a short one

    answer = await _upload(api, alice, case_id, content)
    assert answer.status_code == 201, answer.text
    document = answer.json()
    assert document["media_type"] == "application/pdf"
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["added_by"] == "alice" and document["withdrawn"] is False
    document_id = document["document_id"]

    # The log holds the hash, size and type, never the bytes; the title is sealed.
    events = await api.app.store.read_stream(f"case-{case_id}")
    attached = [e for e in events if e.event_type == "DocumentAttached"]
    assert len(attached) == 1 and attached[0].data["sha256"] == document["sha256"]
    raw = await api.app.pool.fetchval(
        "SELECT data::text FROM events WHERE stream_id = $1 AND event_type = 'DocumentAttached'",
        f"case-{case_id}",
    )
    assert "Signed consent" not in raw and "consent.pdf" not in raw
    stored = await api.app.pool.fetchval(
        "SELECT string_agg(encode(sealed, 'hex'), '') FROM document_blocks WHERE document_id = $1",
        document_id,
    )
    assert content[:64].hex() not in stored, "the bytes are sealed at rest"

    listed = await api.http.get(f"/api/v1/cases/{case_id}/documents", headers=audrey)
    assert listed.status_code == 200, listed.text
    assert [d["document_id"] for d in listed.json()] == [document_id]
    assert listed.json()[0]["title"] == "Signed consent"

    got = await api.http.get(f"/api/v1/cases/{case_id}/documents/{document_id}", headers=audrey)
    assert got.status_code == 200, got.text
    assert got.content == content
    assert got.headers["content-type"] == "application/pdf"
    assert 'filename="consent.pdf"' in got.headers["content-disposition"]
    log = await entries(api.app.pool, AUDITOR, case_id)
    assert any(e.view == f"document get {document_id}" and e.staff_id == "audrey" for e in log)

    # Out of scope: a caseworker of another team neither lists nor downloads.
    assert (
        await api.http.get(f"/api/v1/cases/{case_id}/documents/{document_id}", headers=erin)
    ).status_code == 404
    # ... unless they break the glass, which is recorded.
    glass = {**erin, "Casework-Break-Glass": "client%20at%20our%20front%20desk"}
    broken = await api.http.get(f"/api/v1/cases/{case_id}/documents/{document_id}", headers=glass)
    assert broken.status_code == 200 and broken.content == content
    # An auditor reads but does not add.
    refused = await _upload(api, audrey, case_id, PDF)
    assert refused.status_code == 403, refused.text

    # Withdrawn: recorded with who and why, unreadable at once, bytes gone once projected.
    withdrawn = await api.http.post(
        f"/api/v1/cases/{case_id}/commands/withdraw_document",
        json={"document_id": document_id, "reason": "attached to the wrong case"},
        headers={**alice, "If-Match": "*"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    gone = await api.http.get(f"/api/v1/cases/{case_id}/documents/{document_id}", headers=alice)
    problem(gone, 410)
    await catch_up(database_url, api.app.store)
    assert not await api.app.pool.fetchval(
        "SELECT count(*) FROM document_blocks WHERE document_id = $1", document_id
    )
    row = await api.app.pool.fetchrow(
        "SELECT withdrawn_by FROM case_documents WHERE document_id = $1", document_id
    )
    assert row["withdrawn_by"] == "alice"
    again = await api.http.post(
        f"/api/v1/cases/{case_id}/commands/withdraw_document",
        json={"document_id": document_id, "reason": "twice"},
        headers={**alice, "If-Match": "*"},
    )
    assert "withdrawn already" in problem(again, 409)["detail"]


async def _chunks(content: bytes, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    for at in range(0, len(content), piece):
        yield content[at : at + piece]


@pytest.mark.parametrize(
    ("content", "params", "status", "field"),
    [
        (b"", {}, 422, "file"),
        (b"MZ\x90\x00" + b"\x00" * 100, {}, 415, "file"),  # a program named consent.pdf
        (b"just some text that is no known type\n" * 10, {}, 415, "file"),
        (PDF, {"filename": "../../etc/passwd"}, 422, "filename"),
        (PDF, {"filename": "a\\b.pdf"}, 422, "filename"),
        (PDF, {"filename": "bad\x07name.pdf"}, 422, "filename"),
        (PDF, {"kind": "passport_photo"}, 422, "kind"),
        (PDF, {"title": ""}, 422, "title"),
        (PDF, {"goal_id": "goal-9"}, 409, None),
    ],
)
async def test_bad_uploads_are_refused_and_nothing_is_kept(
    api: Api, content: bytes, params: dict[str, str], status: int, field: str | None
) -> None:
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-BAD")
    before = await api.app.store.stream_version(f"case-{case_id}")
    body = problem(await _upload(api, alice, case_id, content, **params), status)
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body
    await _nothing_kept(api, case_id, before)


async def test_too_large_and_streamed(api: Api) -> None:
    """Over the limit (a setting): refused as the bytes pass it, declared or streamed."""
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-BIG")
    before = await api.app.store.stream_version(f"case-{case_id}")
    limit = api.app.settings.document_max_bytes
    streamed = problem(await _upload(api, alice, case_id, _chunks(pdf_of(limit + 1))), 413)
    assert streamed["errors"][0]["field"] == "file"
    assert "CASEWORK_DOCUMENT_MAX_BYTES" in streamed["detail"]
    await _nothing_kept(api, case_id, before)
    # Exactly the limit is kept.
    kept = await _upload(api, alice, case_id, _chunks(pdf_of(limit)))
    assert kept.status_code == 201, kept.text


async def test_an_upload_cut_off_keeps_nothing(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-CUT")
    before = await api.app.store.stream_version(f"case-{case_id}")
    content = pdf_of(2 * 1024 * 1024)
    # Declares the whole, sends half (as a client whose connection dropped).
    answer = await api.http.post(
        f"/api/v1/cases/{case_id}/documents",
        params={"kind": "letter", "title": "Benefits letter", "filename": "letter.pdf"},
        content=_chunks(content[: len(content) // 2]),
        headers={**alice, "If-Match": "*", "Content-Length": str(len(content))},
    )
    assert problem(answer, 400)["errors"][0]["field"] == "file"
    await _nothing_kept(api, case_id, before)


async def test_a_retried_upload_keeps_one_document(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-RETRY")
    keyed = {"Idempotency-Key": "upload-consent-1"}
    first = await _upload(api, {**alice, **keyed}, case_id, PNG, filename="id.png")
    second = await _upload(api, {**alice, **keyed}, case_id, PNG, filename="id.png")
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["document_id"] == second.json()["document_id"]
    assert first.json()["media_type"] == "image/png"
    assert (
        await api.app.pool.fetchval(
            "SELECT count(*) FROM document_blobs WHERE case_id = $1::uuid", case_id
        )
        == 1
    )
    other = problem(await _upload(api, {**alice, **keyed}, case_id, PDF), 422)
    assert other["errors"][0]["field"] == "Idempotency-Key"


async def test_the_per_case_limit(api: Api) -> None:
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-MANY")
    for n in range(MAX_DOCUMENTS_PER_CASE):
        answer = await _upload(api, alice, case_id, PNG, filename=f"page-{n}.png")
        assert answer.status_code == 201, answer.text
    before = await api.app.store.stream_version(f"case-{case_id}")
    over = problem(await _upload(api, alice, case_id, PNG, filename="one-more.png"), 409)
    assert "withdraw one first" in over["detail"]
    await _nothing_kept(api, case_id, before)


async def test_the_plan_for_signature(api: Api, tmp_path: Any) -> None:
    alice, carol = [await api.sign_in(s) for s in ("alice", "carol")]
    cases = await api.app.cases()
    max_, supervisor = await api.actor("max"), await api.actor("carol")
    case_id = await _open(api, alice, "CL-DOC-PLAN")
    early = problem(
        await api.http.post(
            f"/api/v1/cases/{case_id}/documents/plan", headers={**alice, "If-Match": "*"}
        ),
        409,
    )
    assert "no approved plan" in early["detail"]
    for cmd in (
        inputs.consent(actor=max_),
        inputs.assessment(actor=max_),
        inputs.plan(actor=max_),
        c.SubmitPlan(actor=max_),
        c.DecideApproval(actor=supervisor, kind=ApprovalKind.PLAN, approve=True),
    ):
        await cases.execute(case_id, cmd)
    made = await api.http.post(
        f"/api/v1/cases/{case_id}/documents/plan", headers={**alice, "If-Match": "*"}
    )
    assert made.status_code == 201, made.text
    document = made.json()
    assert (document["kind"], document["media_type"]) == ("plan", "application/pdf")
    got = await api.http.get(
        f"/api/v1/cases/{case_id}/documents/{document['document_id']}", headers=carol
    )
    assert got.content.startswith(b"%PDF")
    assert hashlib.sha256(got.content).hexdigest() == document["sha256"]
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(got.content)
    extract = await asyncio.create_subprocess_exec(
        "pdftotext", "-layout", str(pdf), "-", stdout=asyncio.subprocess.PIPE
    )
    text = (await extract.communicate())[0].decode()
    assert extract.returncode == 0
    goal = inputs.plan().plan.goals[0]
    assert goal.client_words.split()[0] in text


async def test_an_export_with_its_documents_verifies_offline(
    api: Api, tmp_path: Path, database_url: str
) -> None:
    """The case file lists every document with its hash; the documents handed beside it
    are checked against it offline, and a changed one is caught."""
    # The notary of this test's database, its keys in this test's data directory.
    api.app.settings = api.app.settings.model_copy(
        update={"database_url": database_url, "data_dir": tmp_path / "data"}
    )
    alice, audrey = [await api.sign_in(s) for s in ("alice", "audrey")]
    case_id = await _open(api, alice, "CL-DOC-EXPORT")
    consent, photo = pdf_of(40_000), PNG + os.urandom(5000)
    ids = []
    for content, name in ((consent, "consent.pdf"), (photo, "id.png")):
        answer = await _upload(api, alice, case_id, content, filename=name)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["document_id"])
    await notarise(api.app)
    exported = await api.http.get(f"/api/v1/cases/{case_id}/export", headers=audrey)
    assert exported.status_code == 200, exported.text
    case_file = tmp_path / "case.json"
    case_file.write_bytes(exported.content)
    handed = tmp_path / "documents"
    handed.mkdir()
    for document_id, name in zip(ids, ("consent.pdf", "id.png"), strict=True):
        got = await api.http.get(f"/api/v1/cases/{case_id}/documents/{document_id}", headers=audrey)
        (handed / f"{document_id}-{name}").write_bytes(got.content)
    key = public_keys_path(api.app.settings)

    checked = await verify_offline(
        str(case_file), "--public-key", str(key), "--documents", str(handed), "--json"
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    listed = {d["document_id"]: d for d in report["documents"]}
    assert set(listed) == set(ids)
    assert listed[ids[0]]["sha256"] == hashlib.sha256(consent).hexdigest()
    assert all(d["notarised"] for d in listed.values())
    assert sum(f"document {i}" in line for line in report["proven"] for i in ids) == 2

    # One byte of the consent form changed: caught, naming the document.
    changed = handed / f"{ids[0]}-consent.pdf"
    tampered = bytearray(changed.read_bytes())
    tampered[-1] ^= 0x01
    changed.write_bytes(bytes(tampered))
    caught = await verify_offline(
        str(case_file), "--public-key", str(key), "--documents", str(handed), "--json"
    )
    assert caught.returncode == 1
    report = json.loads(caught.stdout.strip().splitlines()[-1])
    assert any(f"document {ids[0]}" in p and "changed" in p for p in report["problems"])
    # A file that is no document of the case is named too.
    (handed / "holiday.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(100))
    stray = await verify_offline(
        str(case_file), "--public-key", str(key), "--documents", str(handed), "--json"
    )
    report = json.loads(stray.stdout.strip().splitlines()[-1])
    assert any("holiday.jpg" in p and "not a document" in p for p in report["problems"])


@pytest.fixture
def log_file(logging_restored: None, tmp_path: Path) -> Path:
    """Every log line of the test (JSON), as the API writes them where operators look."""
    path = tmp_path / "casework.log"
    configure_logging(
        settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.JSON, CASEWORK_LOG_LEVEL="INFO"),
        force=True,
        to_file=path,
    )
    return path


async def test_a_virus_scan_refuses_an_infected_upload(
    api: Api, tmp_path: Path, log_file: Path
) -> None:
    """With CASEWORK_CLAMD_ADDRESS set, every upload streams through a real clamd (its
    signature database written here: the EICAR test string): an infected file is refused
    and the refusal logged; with clamd down, uploads are refused, never let through."""
    alice = await api.sign_in("alice")
    case_id = await _open(api, alice, "CL-DOC-SCAN")
    with start_clamd(tmp_path) as clamd:
        api.app.settings = api.app.settings.model_copy(update={"clamd_address": clamd.address})
        clean = await _upload(api, alice, case_id, pdf_of(600_000))
        assert clean.status_code == 201, clean.text
        before = await api.app.store.stream_version(f"case-{case_id}")
        # The test signature at a chunk's edge, deep in a file that looks like a PDF.
        infected = pdf_of(300_000)[:-100] + EICAR + b"\n" * 32
        refused = problem(await _upload(api, alice, case_id, _chunks(infected, 4096)), 422)
        assert (
            refused["errors"] == [{"field": "file", "message": refused["errors"][0]["message"]}]
            and SIGNATURE_NAME in refused["detail"]
        ), refused
        text = await asyncio.to_thread(log_file.read_text)
        lines = [json.loads(line) for line in text.splitlines() if line]
        logged = [e for e in lines if e.get("event") == "documents.infected_refused"]
        assert logged and logged[0]["case_id"] == case_id and logged[0]["actor_id"] == "alice"
        await _nothing_kept(api, case_id, before)
        clamd.stop()
        down = problem(await _upload(api, alice, case_id, pdf_of(10_000)), 503)
        assert "CASEWORK_CLAMD_ADDRESS" in down["detail"]
        await _nothing_kept(api, case_id, before)
