"""Case files an auditor verifies alone: `casework case export` (a staff command, through
the API) and `casework verify-export` (offline: no database, no Temporal, no sign-in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from casework.cli.api_client import api, api_path
from casework.cli.case_commands import case_app
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    read_headers,
    settings_from_context,
)
from casework.cli.output import ExitCode, console, emit, fail
from casework.i18n import _

app = typer.Typer(no_args_is_help=False)

OutOption = typer.Option(..., "--out", help="Where to write the case file (JSON).")
HtmlOption = typer.Option(
    None, "--html", help="Also write a human-readable rendering (HTML) of the verified file."
)


@case_app.command("export")
def export(
    case_id: str,
    out: Path = OutOption,
    without_personal: bool = typer.Option(
        False, "--without-personal", help="Leave the personal fields sealed (withheld)."
    ),
    documents: Path | None = typer.Option(
        None,
        "--documents",
        help="Also write the case's documents into this directory, each as "
        "<document id>-<file name> (each download recorded in the access log).",
    ),
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a case file the auditor verifies alone: the case's events as stored, each with
    its proof against the latest signed checkpoint (recorded in the access log). Check it
    with `casework verify-export FILE --public-key KEY [--documents DIR]`."""
    settings = settings_from_context()
    answer = api(
        settings,
        "GET",
        api_path("/api/v1/cases/{}/export", case_id),
        as_json=as_json,
        params={"personal": "false"} if without_personal else None,
        headers=read_headers(reason, break_glass),
    )
    try:
        out.write_bytes(answer.content)
    except OSError as exc:
        fail(
            _("--out: cannot write %(path)s: %(reason)s", path=out, reason=exc.strerror),
            as_json,
            kind="io",
            field="--out",
        )
    data = answer.data if isinstance(answer.data, dict) else {}
    events = data.get("events") or []
    written: list[str] = []
    if documents is not None:
        written = _write_documents(case_id, documents, as_json, read_headers(reason, break_glass))
    emit(
        {
            "ok": True,
            "out": str(out),
            "bytes": len(answer.content),
            "events": len(events),
            "notarised": sum(1 for e in events if e.get("notarised")),
            "personal_fields": data.get("personal_fields"),
            "documents": written,
        },
        as_json,
        lambda d: console.print(_wrote(d, documents), highlight=False),
    )


def _wrote(d: dict[str, Any], documents: Path | None) -> str:
    """What `case export` wrote, as people read it."""
    figures = {
        "out": d["out"],
        "events": d["events"],
        "notarised": d["notarised"],
        "personal": d["personal_fields"],
    }
    if documents:
        return _(
            "wrote %(out)s: %(events)s event(s), %(notarised)s within the latest signed "
            "checkpoint; personal fields %(personal)s; %(documents)s document(s) in %(directory)s",
            **figures,
            documents=len(d["documents"]),
            directory=documents,
        )
    return _(
        "wrote %(out)s: %(events)s event(s), %(notarised)s within the latest signed "
        "checkpoint; personal fields %(personal)s",
        **figures,
    )


def _write_documents(
    case_id: str, directory: Path, as_json: bool, headers: dict[str, str]
) -> list[str]:
    """Every readable document of the case into `directory`: the files' names."""
    from casework.cli.document_commands import download, file_name_for

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            _(
                "%(option)s: cannot write %(path)s: %(reason)s",
                option="--documents",
                path=directory,
                reason=exc.strerror,
            ),
            as_json,
            kind="io",
        )
    settings = settings_from_context()
    listed = api(
        settings, "GET", api_path("/api/v1/cases/{}/documents", case_id),
        as_json=as_json, headers=headers,
    ).data  # fmt: skip
    names = []
    for document in listed:
        if document["withdrawn"]:
            continue
        name = file_name_for(document)
        download(
            case_id, document["document_id"], directory / name, as_json=as_json, headers=headers
        )
        names.append(name)
    return names


@app.command("verify-export")
def verify_export(
    file: Path = typer.Argument(..., help="A case file written by `casework case export`."),
    public_key: Path = typer.Option(
        ...,
        "--public-key",
        help="The notary's public key: its trusted-keys file ('<key id> <base64>' lines, "
        "such as <data dir>/keys/notary.pub) or one base64 Ed25519 public key.",
    ),
    html: Path | None = HtmlOption,
    documents: Path | None = typer.Option(
        None,
        "--documents",
        help="A directory of the case's documents handed over beside the file (as "
        "`case export --documents` writes them): each is checked against its record.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check a case file offline (no database, no Temporal): say exactly what it proves and
    what it does not, the documents it lists and, with --documents, whether the document
    files handed over are the ones recorded. Exit 1 naming every problem."""
    from events.case_file import load_public_keys, verify_case_file
    from events.case_file_html import render_html
    from events.catalog import default_registry
    from events.checkpoints import CheckpointError

    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(
            _("FILE: cannot read %(path)s: %(reason)s", path=file, reason=exc.strerror),
            as_json,
            kind="io",
            field="FILE",
        )
    try:
        keys = load_public_keys(public_key.read_text(encoding="utf-8"), str(public_key))
    except OSError as exc:
        fail(
            _(
                "--public-key: cannot read %(path)s: %(reason)s",
                path=public_key,
                reason=exc.strerror,
            ),
            as_json,
            kind="io",
            field="--public-key",
        )
    except (CheckpointError, UnicodeDecodeError) as exc:
        fail(_("--public-key: %(error)s", error=exc), as_json, kind="invalid", field="--public-key")
    report = verify_case_file(content, keys, default_registry())
    from events.case_file_documents import check_documents, listed_documents

    if documents is not None:
        if not documents.is_dir():
            fail(
                _("--documents: %(path)s is not a directory", path=documents),
                as_json,
                kind="invalid",
                field="--documents",
            )
        check_documents(report, (p for p in documents.iterdir() if p.is_file()))
    listed = listed_documents(report)
    if html is not None:
        try:
            html.write_text(render_html(report, sorted(keys.keys)), encoding="utf-8")
        except OSError as exc:
            fail(
                _(
                    "%(option)s: cannot write %(path)s: %(reason)s",
                    option="--html",
                    path=html,
                    reason=exc.strerror,
                ),
                as_json,
                kind="io",
                field="--html",
            )

    def render(_data: object) -> None:
        if report.ok:
            summary = _(
                "case %(case)s, %(count)s event(s)", case=report.case_id, count=len(report.events)
            )
            label = escape(_("verified"))
            console.print(f"[green]{label}[/]: {summary}")
        else:
            summary = _("%(count)s problem(s)", count=len(report.problems))
            label = escape(_("NOT verified"))
            console.print(f"[bold red]{label}[/]: {summary}")
            for problem in report.problems:
                console.print(f"  - {problem}", highlight=False, markup=False)
        if listed:
            console.print(_("Documents:"))
            for d in listed:
                facts = {
                    "document": d.document_id,
                    "kind": d.kind,
                    "type": d.media_type,
                    "size": d.size,
                    "sha256": d.sha256,
                }
                line = (
                    _(
                        "%(document)s %(kind)s %(type)s, %(size)s bytes, sha256 %(sha256)s "
                        "(withdrawn)",
                        **facts,
                    )
                    if d.withdrawn
                    else _(
                        "%(document)s %(kind)s %(type)s, %(size)s bytes, sha256 %(sha256)s",
                        **facts,
                    )
                )
                console.print(f"  - {line}", highlight=False, markup=False)
        if report.proven:
            console.print(_("Proven:"))
            for line in report.proven:
                console.print(f"  - {line}", highlight=False, markup=False)
        console.print(_("Not proven:"))
        for line in report.not_proven:
            console.print(f"  - {line}", highlight=False, markup=False)
        if html is not None:
            console.print(_("rendering written to %(path)s", path=html), highlight=False)

    emit({**report.to_json(), "documents": [d.to_json() for d in listed]}, as_json, render)
    if not report.ok:
        raise typer.Exit(ExitCode.REFUSED)
