"""Case files an auditor verifies alone: `casework case export` (a staff command, through
the API) and `casework verify-export` (offline: no database, no Temporal, no sign-in)."""

from __future__ import annotations

from pathlib import Path

import typer

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
        fail(f"--out: cannot write {out}: {exc.strerror}", as_json, kind="io", field="--out")
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
        lambda d: console.print(
            f"wrote {d['out']}: {d['events']} event(s), {d['notarised']} within the latest "
            f"signed checkpoint; personal fields {d['personal_fields']}"
            + (f"; {len(d['documents'])} document(s) in {documents}" if documents else ""),
            highlight=False,
        ),
    )


def _write_documents(
    case_id: str, directory: Path, as_json: bool, headers: dict[str, str]
) -> list[str]:
    """Every readable document of the case into `directory`: the files' names."""
    from casework.cli.document_commands import download, file_name_for

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--documents: cannot write {directory}: {exc.strerror}", as_json, kind="io")
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
        fail(f"FILE: cannot read {file}: {exc.strerror}", as_json, kind="io", field="FILE")
    try:
        keys = load_public_keys(public_key.read_text(encoding="utf-8"), str(public_key))
    except OSError as exc:
        fail(
            f"--public-key: cannot read {public_key}: {exc.strerror}",
            as_json,
            kind="io",
            field="--public-key",
        )
    except (CheckpointError, UnicodeDecodeError) as exc:
        fail(f"--public-key: {exc}", as_json, kind="invalid", field="--public-key")
    report = verify_case_file(content, keys, default_registry())
    from events.case_file_documents import check_documents, listed_documents

    if documents is not None:
        if not documents.is_dir():
            fail(
                f"--documents: {documents} is not a directory",
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
            fail(f"--html: cannot write {html}: {exc.strerror}", as_json, kind="io", field="--html")

    def render(_: object) -> None:
        if report.ok:
            console.print(
                f"[green]verified[/]: case {report.case_id}, {len(report.events)} event(s)"
            )
        else:
            console.print(f"[bold red]NOT verified[/]: {len(report.problems)} problem(s)")
            for problem in report.problems:
                console.print(f"  - {problem}", highlight=False, markup=False)
        if listed:
            console.print("Documents:")
            for d in listed:
                state = " (withdrawn)" if d.withdrawn else ""
                console.print(
                    f"  - {d.document_id} {d.kind} {d.media_type}, {d.size} bytes, "
                    f"sha256 {d.sha256}{state}",
                    highlight=False,
                    markup=False,
                )
        if report.proven:
            console.print("Proven:")
            for line in report.proven:
                console.print(f"  - {line}", highlight=False, markup=False)
        console.print("Not proven:")
        for line in report.not_proven:
            console.print(f"  - {line}", highlight=False, markup=False)
        if html is not None:
            console.print(f"rendering written to {html}", highlight=False)

    emit({**report.to_json(), "documents": [d.to_json() for d in listed]}, as_json, render)
    if not report.ok:
        raise typer.Exit(ExitCode.REFUSED)
