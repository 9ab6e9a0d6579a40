"""`casework case document …`: documents on a case, through the HTTP API.

`add` sends the file as it is read (never whole in memory) with its kind and title;
`list` shows the case's documents; `get` writes one to a file as it arrives and checks
its SHA-256 against the one the case recorded; `withdraw` takes one back with a reason
(its bytes are deleted, the record stays); `plan` attaches the approved plan as a PDF for
the client to sign. Reads are recorded in the access log (`--reason`, `--break-glass`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from casework.cli.api_client import (
    RETRIES,
    api_path,
    fail_with,
    language_header,
    not_signed_in,
    stored_token,
    timeout,
    unreachable,
)
from casework.cli.case_commands import IfVersionOption
from casework.cli.choices import DocumentKind
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    read_headers,
    settings_from_context,
    staff_drive,
)
from casework.cli.output import ExitCode, console, emit, fail
from casework.i18n import _

document_app = typer.Typer(
    help="Documents on a case: add, list, get, withdraw, print the plan.",
    no_args_is_help=True,
)

CHUNK = 256 * 1024
"""How much of a file is read and sent at a time."""


def _if_match(if_version: int | None) -> str:
    return "*" if if_version is None else f'"{if_version}"'


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


def _signed_in(as_json: bool) -> tuple[Any, dict[str, str]]:
    settings = settings_from_context()
    token = stored_token(settings)
    if token is None:
        fail(
            not_signed_in(settings),
            as_json,
            ExitCode.NOT_SIGNED_IN,
            kind="not-signed-in",
        )
    return settings, {**language_header(), "Authorization": f"Bearer {token}"}


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def _render_one(d: dict[str, Any]) -> None:
    console.print(
        _(
            "document %(document)s on the case: %(kind)s %(title)s (%(type)s, %(size)s), "
            "sha256 %(sha256)s",
            document=d["document_id"],
            kind=d["kind"],
            title=repr(d["title"]),
            type=d["media_type"],
            size=_size(int(d["size"])),
            sha256=d["sha256"],
        )
    )


@document_app.command("add")
def add(
    case_id: str,
    file: Path = typer.Argument(..., help="The file to attach (read as it is sent)."),
    kind: DocumentKind = typer.Option(..., help="What the document is."),
    title: str = typer.Option(..., help="Its title, as staff will see it (confidential)."),
    name: str | None = typer.Option(
        None, "--name", help="The document's file name (default: the file's own)."
    ),
    goal: str | None = typer.Option(None, help="The plan's goal it belongs to."),
    referral: str | None = typer.Option(None, help="The referral it belongs to."),
    conference: str | None = typer.Option(None, help="The case conference it belongs to."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Attach a document to the case (its type is judged by its content)."""
    import httpx

    if not file.is_file():
        fail(
            _("FILE: %(path)s is not a readable file", path=file),
            as_json,
            kind="invalid",
            field="FILE",
        )
    settings, headers = _signed_in(as_json)
    size = file.stat().st_size
    headers.update(
        {
            "If-Match": _if_match(if_version),
            # A retry after a dropped connection keeps one document, not two.
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
    )
    params = {
        key: value
        for key, value in (
            ("kind", kind.value), ("title", title), ("filename", name or file.name),
            ("goal_id", goal), ("referral_id", referral), ("conference_id", conference),
        )
        if value is not None
    }  # fmt: skip
    url = f"{settings.api_base_url}{api_path('/api/v1/cases/{}/documents', case_id)}"
    response: httpx.Response | None = None
    failure: Exception | None = None
    with httpx.Client(timeout=timeout()) as client:
        for _attempt in range(RETRIES):
            try:
                response = client.post(url, params=params, content=_read(file), headers=headers)
                break
            except httpx.TransportError as exc:
                failure = exc
            except OSError as exc:
                fail(
                    _("FILE: cannot read %(path)s: %(reason)s", path=file, reason=exc.strerror),
                    as_json,
                    kind="io",
                    field="FILE",
                )
    if response is None:
        unreachable(settings, failure, as_json)
    if not 200 <= response.status_code < 300:
        fail_with(response, as_json)
    emit(response.json(), as_json, _render_one)


@document_app.command("list")
def list_(
    case_id: str,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The case's documents, newest first (the read is recorded in the access log)."""

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table(
            _("document"), _("kind"), _("title"), _("type"), _("size"), _("added by"), _("when"), ""
        )
        for d in rows:
            table.add_row(
                d["document_id"], d["kind"], d["title"], d["media_type"],
                _size(int(d["size"])), d["added_by"], d["added_at"][:16].replace("T", " "),
                _("withdrawn by %(who)s", who=d["withdrawn_by"]) if d["withdrawn"] else "",
            )  # fmt: skip
        console.print(table)

    staff_drive(
        "GET",
        api_path("/api/v1/cases/{}/documents", case_id),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
        render=render,
    )


def download(
    case_id: str,
    document_id: str,
    out: Path,
    *,
    as_json: bool,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Write the document to `out` as it arrives, checked against the SHA-256 the case
    recorded (nothing is left at `out` otherwise): its size and digest."""
    import httpx

    settings, sent = _signed_in(as_json)
    sent.update(headers or {})
    url = (
        f"{settings.api_base_url}{api_path('/api/v1/cases/{}/documents/{}', case_id, document_id)}"
    )
    partial = out.with_name(f".{out.name}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            httpx.Client(timeout=timeout()) as client,
            client.stream("GET", url, headers=sent) as response,
        ):
            if response.status_code != 200:
                response.read()
                fail_with(response, as_json)
            expected = response.headers.get("casework-document-sha256", "")
            with partial.open("wb") as file:
                for chunk in response.iter_bytes(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    file.write(chunk)
    except httpx.TransportError as exc:
        partial.unlink(missing_ok=True)
        unreachable(settings, exc, as_json)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(
            _("--out: cannot write %(path)s: %(reason)s", path=out, reason=exc.strerror),
            as_json,
            kind="io",
            field="--out",
        )
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        fail(
            _(
                "document %(document)s: what arrived (%(size)s bytes) differs from the SHA-256 "
                "the case recorded; nothing was written",
                document=document_id,
                size=size,
            ),
            as_json,
            ExitCode.UNAVAILABLE,
            kind="corrupt",
        )
    os.replace(partial, out)
    return size, expected


@document_app.command("get")
def get(
    case_id: str,
    document_id: str,
    out: Path = typer.Option(..., "--out", help="Where to write the document."),
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """Download a document to a file, checked against the case's SHA-256 (recorded in
    the access log)."""
    size, sha256 = download(
        case_id, document_id, out, as_json=as_json, headers=read_headers(reason, break_glass)
    )
    emit(
        {"document_id": document_id, "out": str(out), "size": size, "sha256": sha256},
        as_json,
        lambda d: console.print(
            _(
                "wrote %(path)s (%(size)s, sha256 %(sha256)s)",
                path=d["out"],
                size=_size(d["size"]),
                sha256=d["sha256"],
            )
        ),
    )


def file_name_for(document: dict[str, Any]) -> str:
    """`<document id>-<its file name>` (what verify-export matches by), path-safe."""
    name = "".join(
        ch if ch.isalnum() or ch in "._- " else "_" for ch in str(document["filename"])
    ).strip(" .")
    return f"{document['document_id']}-{name or 'document'}"


@document_app.command("withdraw")
def withdraw(
    case_id: str,
    document_id: str,
    reason: str = typer.Option(..., "--reason", help="Why it is withdrawn (confidential)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Withdraw a document: its bytes are deleted; who withdrew it, when and why stay."""
    staff_drive(
        "POST",
        api_path("/api/v1/cases/{}/commands/withdraw_document", case_id),
        as_json=as_json,
        body={"document_id": document_id, "reason": reason},
        headers={"If-Match": _if_match(if_version)},
    )


@document_app.command("plan")
def plan(
    case_id: str,
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Attach the case's approved plan as a PDF for the client to sign."""
    staff_drive(
        "POST",
        api_path("/api/v1/cases/{}/documents/plan", case_id),
        as_json=as_json,
        headers={"If-Match": _if_match(if_version)},
        render=_render_one,
    )
