"""Documents on the case page, in a real browser over the real stack (tests/console/
conftest.py): a caseworker uploads a PDF through the form, sees it listed, downloads the
very bytes and withdraws it; a file whose content is no type a case keeps is refused
beside the file input and nothing is kept; an auditor reads and downloads but is
offered no form (and is refused one sent anyway); the plan for signature is offered
only with an approved plan and attaches a PDF of kind `plan`; a break-the-glass page's
downloads send the reason again; axe finds nothing serious on the section."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from application.access_log import entries
from application.documents import use_cases
from cases.actors import Actor, Role
from cases.features.documents import size_text
from directory import resolve_actor
from events.choices import DocumentKind
from tests.console.conftest import Stack
from tests.console.test_pages import AXE, browser
from workflows.case import CommandResult

AUDITOR = Actor(staff_id="audrey", role=Role.AUDITOR)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_of(size: int) -> bytes:
    """A file whose content is a PDF's, `size` bytes long (random after the header)."""
    return PDF + os.urandom(size - len(PDF))


def upload_form(page: Page) -> Any:
    return page.locator("form[action$='/documents']")


async def recorded(page: Page, action: str) -> None:
    await expect(page.locator("#outcome")).to_contain_text(f"Recorded: {action.replace('_', ' ')}")


async def choose(page: Page, name: str, content: bytes, mime: str = "application/pdf") -> None:
    await (
        upload_form(page)
        .locator("input[type=file]")
        .set_input_files(files=[{"name": name, "mimeType": mime, "buffer": content}])
    )


async def blobs(stack: Stack, case_id: str) -> int:
    count: int = await stack.app.pool.fetchval(
        "SELECT count(*) FROM document_blobs WHERE case_id = $1::uuid", case_id
    )
    return count


async def attached(stack: Stack, case_id: str, content: bytes, title: str, filename: str) -> str:
    """A document attached by alice through the use case (as the API attaches one)."""

    async def one() -> AsyncIterator[bytes]:
        yield content

    alice = await resolve_actor(stack.app.store, "alice")
    details = {"kind": "report", "title": title, "filename": filename}
    answer = await use_cases.attach(stack.app, alice, case_id, details, one(),
                                    expected_version=None)  # fmt: skip
    assert isinstance(answer, use_cases.Attached), answer
    return answer.document.document_id


async def downloaded(page: Page, click: Any) -> tuple[str, bytes]:
    async with page.expect_download() as caught:
        await click()
    download = await caught.value
    path = await download.path()
    assert path is not None
    return download.suggested_filename, await asyncio.to_thread(Path(path).read_bytes)


async def csrf_of(page: Page) -> str:
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    return token


async def test_a_caseworker_uploads_downloads_and_withdraws_a_document(stack: Stack) -> None:
    case_id = await stack.open_case("CL-DOC-C1")
    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{case_id}")
    await alice.locator("details#documents > summary").click()  # closed: no documents yet
    await expect(alice.locator("section[aria-labelledby=documents-title]")).to_contain_text(
        "No documents on this case."
    )
    # Larger than Starlette's in-memory spool and than one chunk read from it.
    content = pdf_of(1_500_000 + 17)
    await choose(alice, "consent.pdf", content)
    form = upload_form(alice)
    await form.get_by_label("What it is").select_option("consent_form")
    await form.get_by_label("Title").fill("Signed consent")
    await form.get_by_role("button", name="Upload the document").click()
    await recorded(alice, "attach_document")

    row = alice.locator("tr.document", has_text="Signed consent")
    await expect(row.locator("td.document-size")).to_have_text(size_text(len(content)))
    await expect(row.locator("td.document-size")).to_have_text("1.5 MB")
    await expect(row.locator("td.document-by")).to_have_text("alice")
    await expect(row.locator("td.document-kind")).to_have_text("consent form")
    await expect(row.locator("td.document-type")).to_have_text("PDF")
    [document] = (await stack.cases.state(case_id)).documents.values()
    assert document.filename == "consent.pdf" and document.added_by == "alice"
    assert document.sha256 == hashlib.sha256(content).hexdigest()

    name, got = await downloaded(alice, row.get_by_role("link", name="Download consent.pdf").click)
    assert (name, got) == ("consent.pdf", content)
    answer = await alice.request.get(f"/console/cases/{case_id}/documents/{document.document_id}")
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith('attachment; filename="consent.pdf"')
    assert "default-src 'none'" in answer.headers["content-security-policy"]

    # Withdrawing asks why first.
    await row.get_by_text("Withdraw", exact=True).click()
    await row.get_by_role("button", name="Withdraw the document").click()
    reason = row.get_by_label("Why withdraw “Signed consent”")
    await expect(row.locator(".field.invalid .field-error")).to_have_text(
        "Say why it is withdrawn."
    )
    assert await blobs(stack, case_id) == 1
    await reason.fill("Attached to the wrong case")
    await row.get_by_role("button", name="Withdraw the document").click()
    await recorded(alice, "withdraw_document")
    await expect(row.locator("td.document-file")).to_contain_text("withdrawn")
    await expect(row.locator("td.document-file")).to_contain_text("by alice")
    await expect(row.get_by_role("link")).to_have_count(0)
    await expect(row.locator("form")).to_have_count(0)
    withdrawn = (await stack.cases.state(case_id)).documents[document.document_id]
    assert withdrawn.withdrawn_by == "alice"
    assert withdrawn.withdrawn_reason == "Attached to the wrong case"
    assert await blobs(stack, case_id) == 0
    gone = await alice.request.get(f"/console/cases/{case_id}/documents/{document.document_id}")
    assert gone.status == 410 and "withdrawn" in await gone.text()


async def test_a_file_of_a_type_a_case_does_not_keep_is_refused_and_nothing_kept(
    stack: Stack,
) -> None:
    case_id = await stack.open_case("CL-DOC-C2")
    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{case_id}")
    await alice.locator("details#documents > summary").click()  # closed: no documents yet
    version = await stack.app.store.stream_version(f"case-{case_id}")
    form = upload_form(alice)

    # Nothing chosen and no title: both said at once, nothing sent.
    await form.get_by_label("What it is").select_option("letter")
    await form.get_by_role("button", name="Upload the document").click()
    file_field = alice.locator(".field.invalid:has(#attach_document-file)")
    await expect(file_field.locator(".field-error")).to_have_text("Choose the file to attach.")
    title_field = alice.locator(".field.invalid:has(#attach_document-title)")
    await expect(title_field.locator(".field-error")).to_contain_text("Field required")
    await expect(form.get_by_label("What it is")).to_have_value("letter")

    # A text file named x.pdf: its content decides, and it is refused.
    await choose(alice, "x.pdf", b"Notes from the phone call, not a PDF at all.\n" * 40)
    await form.get_by_label("Title").fill("Benefits letter")
    async with alice.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/documents")
    ) as caught:
        await form.get_by_role("button", name="Upload the document").click()
    assert (await caught.value).status == 415
    await expect(form.locator(".error-summary")).to_contain_text("file: its content is")
    await expect(form.locator(".error-summary")).to_contain_text("nothing was kept")
    await expect(file_field.locator(".field-error")).to_contain_text("its content is")
    await expect(alice.locator("#attach_document-file")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Title")).to_have_value("Benefits letter")
    assert await blobs(stack, case_id) == 0
    assert await stack.app.store.stream_version(f"case-{case_id}") == version
    assert not (await stack.cases.state(case_id)).documents

    # A form sent from another site is refused before its body is read; one without
    # the page's token after.
    url = f"/console/cases/{case_id}/documents"
    fields: dict[str, Any] = {
        "version": str(version), "kind": "letter", "title": "Forged",
        "file": {"name": "f.pdf", "mimeType": "application/pdf", "buffer": PDF},
    }  # fmt: skip
    forged = await alice.request.post(
        url, multipart={**fields, "csrf": await csrf_of(alice)},
        headers={"Sec-Fetch-Site": "cross-site"}, max_redirects=0,
    )  # fmt: skip
    assert forged.status == 403 and "The form had expired" in await forged.text()
    tokenless = await alice.request.post(url, multipart=fields, max_redirects=0)
    assert tokenless.status == 403
    assert await blobs(stack, case_id) == 0
    assert await stack.app.store.stream_version(f"case-{case_id}") == version


async def test_an_auditor_reads_and_downloads_but_is_offered_no_form(stack: Stack) -> None:
    case_id = await stack.open_case("CL-DOC-C3")
    content = pdf_of(40_000)
    document_id = await attached(stack, case_id, content, "Provider report", "report.pdf")
    version = await stack.app.store.stream_version(f"case-{case_id}")

    audrey = await stack.signed_in("audrey")
    await audrey.goto(f"/console/cases/{case_id}")
    row = audrey.locator("tr.document", has_text="Provider report")
    await expect(row.locator("td.document-by")).to_have_text("alice")
    await expect(row.locator("td.document-size")).to_have_text("40.0 KB")
    await expect(upload_form(audrey)).to_have_count(0)
    await expect(audrey.locator("form[action$='/withdraw']")).to_have_count(0)
    await expect(audrey.locator("form[action$='/documents/plan']")).to_have_count(0)
    name, got = await downloaded(audrey, row.get_by_role("link", name="Download report.pdf").click)
    assert (name, got) == ("report.pdf", content)
    log = await entries(stack.app.pool, AUDITOR, case_id)
    assert any(e.view == f"document get {document_id}" and e.staff_id == "audrey" for e in log)

    # Forms sent anyway are refused by the access table, and recorded.
    csrf = await csrf_of(audrey)
    sent = await audrey.request.post(
        f"/console/cases/{case_id}/documents",
        multipart={
            "csrf": csrf, "version": str(version), "kind": "letter", "title": "Mine",
            "file": {"name": "m.pdf", "mimeType": "application/pdf", "buffer": PDF},
        },
    )  # fmt: skip
    assert sent.status == 403
    withdraw = await audrey.request.post(
        f"/console/cases/{case_id}/documents/{document_id}/withdraw",
        form={"csrf": csrf, "version": str(version), "reason": "tidying"},
    )
    assert withdraw.status == 403
    assert await blobs(stack, case_id) == 1
    assert await stack.app.store.stream_version(f"case-{case_id}") == version
    log = await entries(stack.app.pool, AUDITOR, case_id)
    refused = {e.view for e in log if e.staff_id == "audrey" and not e.allowed}
    assert {"command attach_document", "command withdraw_document"} <= refused


async def test_the_plan_for_signature_needs_an_approved_plan(stack: Stack) -> None:
    bare = await stack.open_case("CL-DOC-C4")
    alice = await stack.signed_in("alice")
    await alice.goto(f"/console/cases/{bare}")
    await expect(upload_form(alice)).to_have_count(1)
    button = alice.get_by_role("button", name="Print the plan for signature")
    await expect(button).to_have_count(0)
    # Sent anyway: the case's answer above the form, nothing kept.
    version = await stack.app.store.stream_version(f"case-{bare}")
    refused = await alice.request.post(
        f"/console/cases/{bare}/documents/plan",
        form={"csrf": await csrf_of(alice), "version": str(version)},
    )
    assert refused.status == 409 and "approved plan" in await refused.text()
    assert await blobs(stack, bare) == 0

    case_id = await stack.open_case_with_plan("CL-DOC-C5")
    await alice.goto(f"/console/cases/{case_id}")
    await alice.locator("details#documents > summary").click()  # closed: no documents yet
    await button.click()
    await recorded(alice, "plan_for_signature")
    row = alice.locator("tr.document", has_text="for signature")
    await expect(row.locator("td.document-kind")).to_have_text("plan for signature")
    await expect(row.locator("td.document-type")).to_have_text("PDF")
    await expect(row.locator("td.document-by")).to_have_text("alice")
    [document] = (await stack.cases.state(case_id)).documents.values()
    assert document.kind is DocumentKind.PLAN and document.media_type == "application/pdf"
    name, got = await downloaded(alice, row.get_by_role("link").click)
    assert name == document.filename and got.startswith(b"%PDF")
    assert hashlib.sha256(got).hexdigest() == document.sha256


async def test_a_break_the_glass_page_downloads_with_its_reason(stack: Stack) -> None:
    case_id = await stack.open_case("CL-DOC-C6")  # alice's, team north
    content = pdf_of(5_000)
    document_id = await attached(stack, case_id, content, "Tenancy letter", "tenancy.pdf")
    link = f"/console/cases/{case_id}/documents/{document_id}"
    erin = await stack.signed_in("erin")  # team south
    hidden = await erin.request.get(link)
    assert hidden.status == 404 and "Case not found" in await hidden.text()
    await erin.goto(f"/console/cases/{case_id}")
    await erin.fill("#bg-reason", "Client at our front desk")
    await erin.get_by_role("button", name="Open the case in an emergency").click()
    row = erin.locator("tr.document", has_text="Tenancy letter")
    await expect(row.get_by_role("link")).to_have_count(0)  # no address carries the reason
    await expect(upload_form(erin)).to_have_count(0)
    await expect(erin.locator("form[action$='/withdraw']")).to_have_count(0)
    name, got = await downloaded(erin, row.get_by_role("button", name="Download tenancy.pdf").click)
    assert (name, got) == ("tenancy.pdf", content)
    assert "front" not in erin.url
    log = await entries(stack.app.pool, AUDITOR, case_id)
    gets = [e for e in log if e.view == f"document get {document_id}"]
    assert [(e.staff_id, e.allowed) for e in gets] == [("erin", True), ("erin", False)]
    glass = gets[0]
    assert (glass.staff_id, glass.break_glass, glass.reason) == (
        "erin", True, "Client at our front desk",
    )  # fmt: skip


async def test_the_documents_section_passes_axe(stack: Stack) -> None:
    """axe-core (as test_pages.py runs it, without its screenshots) on the section with
    a kept and a withdrawn document, the plan button and a refused upload shown."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make` (npm ci in tools/node)")
    case_id = await stack.open_case_with_plan("CL-DOC-C7")
    await attached(stack, case_id, pdf_of(2_000), "Signed consent", "consent.pdf")
    withdrawn = await attached(stack, case_id, pdf_of(3_000), "Old letter", "old.pdf")
    alice_actor = await resolve_actor(stack.app.store, "alice")
    result = await use_cases.withdraw(stack.app, alice_actor, case_id, withdrawn,
                                      "superseded", expected_version=None)  # fmt: skip
    assert isinstance(result, CommandResult), result

    alice = await browser(stack, "alice")
    await alice.goto(f"/console/cases/{case_id}")
    await choose(alice, "x.pdf", b"plain text\n")
    await upload_form(alice).get_by_label("What it is").select_option("letter")
    await upload_form(alice).get_by_label("Title").fill("Notes")
    await upload_form(alice).get_by_role("button", name="Upload the document").click()
    await expect(upload_form(alice).locator(".error-summary")).to_be_visible()
    await (
        alice.locator("tr.document", has_text="Signed consent")
        .get_by_text("Withdraw", exact=True)
        .click()
    )
    await expect(alice.get_by_role("button", name="Print the plan for signature")).to_be_visible()
    await alice.evaluate(AXE.read_text())
    found: dict[str, Any] = await alice.evaluate(
        "axe.run(document.querySelector('section.documents'), {resultTypes: ['violations']})"
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in found["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad
