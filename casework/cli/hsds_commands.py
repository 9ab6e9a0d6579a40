"""`casework directory import FILE_OR_URL`: the community's service directory (Open
Referral HSDS 3.0) into Casework's resource directory, as the signed-in admin.

FILE_OR_URL is a JSON file, a CSV data package (a directory with `datapackage.json`,
zipped here before it is sent, or such a zip), or an http(s) URL of either, fetched by
the command and streamed with the same byte cap as the server's
(`CASEWORK_HSDS_MAX_BYTES`): a bigger package is refused here before it is read whole.
The server plans the import (`--dry-run`: and stops there), names each refused row, and
says what was added, changed, unchanged and withdrawn.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from casework.cli.api_client import (
    fail_with,
    language_header,
    not_signed_in,
    stored_token,
    timeout,
    unreachable,
)
from casework.cli.context import JsonOption, settings_from_context
from casework.cli.output import ExitCode, console, emit, fail
from casework.i18n import _

directory_app = typer.Typer(help="The community's service directory (Open Referral HSDS).")

CHUNK = 1024 * 1024


def _limit() -> int:
    return settings_from_context().hsds_max_bytes


def _too_large(limit: int, as_json: bool) -> None:
    fail(
        _(
            "FILE_OR_URL: over %(limit)s bytes (CASEWORK_HSDS_MAX_BYTES); nothing was sent",
            limit=limit,
        ),
        as_json,
        kind="invalid",
        field="FILE_OR_URL",
    )


def _zip(folder: Path, limit: int, as_json: bool) -> bytes:
    if not (folder / "datapackage.json").is_file():
        fail(
            _("FILE_OR_URL: %(path)s has no datapackage.json", path=folder),
            as_json,
            kind="invalid",
            field="FILE_OR_URL",
        )
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if sum(p.stat().st_size for p in files) > limit:
        _too_large(limit, as_json)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    return buffer.getvalue()


def _fetch(url: str, limit: int, as_json: bool) -> bytes:
    import httpx

    data = bytearray()
    try:
        with (
            httpx.Client(timeout=timeout(), follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                fail(
                    _(
                        "FILE_OR_URL: %(url)s answered %(status)s",
                        url=url,
                        status=response.status_code,
                    ),
                    as_json,
                    kind="invalid",
                    field="FILE_OR_URL",
                )
            for chunk in response.iter_bytes(CHUNK):
                data.extend(chunk)
                if len(data) > limit:
                    _too_large(limit, as_json)
    except httpx.HTTPError as exc:
        fail(
            _("FILE_OR_URL: cannot fetch %(url)s: %(reason)s", url=url, reason=type(exc).__name__),
            as_json,
            kind="io",
            field="FILE_OR_URL",
        )
    return bytes(data)


def _read(source: str, limit: int, as_json: bool) -> bytes:
    if source.startswith(("http://", "https://")):
        return _fetch(source, limit, as_json)
    path = Path(source)
    if path.is_dir():
        return _zip(path, limit, as_json)
    if not path.is_file():
        fail(
            _("FILE_OR_URL: %(path)s is not a readable file", path=path),
            as_json,
            kind="invalid",
            field="FILE_OR_URL",
        )
    if path.stat().st_size > limit:
        _too_large(limit, as_json)
    return path.read_bytes()


def _render(d: dict[str, Any]) -> None:
    line = _(
        "%(added)s added, %(changed)s changed, %(unchanged)s unchanged, "
        "%(withdrawn)s withdrawn, %(refused)s refused",
        added=d["added"],
        changed=d["changed"],
        unchanged=d["unchanged"],
        withdrawn=d["withdrawn"],
        refused=d["refused"],
    )
    if d["dry_run"]:
        console.print(
            _("Dry run (nothing written): %(line)s", line=line), highlight=False, soft_wrap=True
        )
    else:
        console.print(
            _("Import %(id)s: %(line)s", id=d["import_id"], line=line),
            highlight=False,
            soft_wrap=True,
        )
    for service_id, fields in d["changed_services"].items():
        console.print(
            _(
                "  changed %(service)s: %(fields)s",
                service=escape(service_id),
                fields=", ".join(fields),
            ),
            highlight=False,
            soft_wrap=True,
        )
    for refusal in d["refusals"]:
        console.print(
            _(
                "  refused %(where)s: %(reason)s",
                where=escape(refusal["where"]),
                reason=escape(refusal["reason"]),
            ),
            highlight=False,
            soft_wrap=True,
        )


@directory_app.command("import")
def import_(
    source: str = typer.Argument(
        ..., metavar="FILE_OR_URL", help="An HSDS 3.0 JSON file, CSV data package or URL."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would change."),
    withdraw_missing: bool = typer.Option(
        False, "--withdraw-missing", help="Withdraw imported services the package no longer lists."
    ),
    needs_map: Path | None = typer.Option(
        None, "--needs-map", help="A JSON file: taxonomy term → need (a domain)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Import the community's service directory (admins)."""
    import httpx

    settings = settings_from_context()
    token = stored_token(settings)
    if token is None:
        fail(not_signed_in(settings), as_json, ExitCode.NOT_SIGNED_IN, kind="not-signed-in")
    limit = _limit()
    data = _read(source, limit, as_json)
    params: dict[str, str] = {"filename": source.rsplit("/", 1)[-1][:200]}
    if dry_run:
        params["dry_run"] = "true"
    if withdraw_missing:
        params["withdraw_missing"] = "true"
    if needs_map is not None:
        try:
            params["needs_map"] = json.dumps(json.loads(needs_map.read_text()))
        except (OSError, ValueError):
            fail(
                _("--needs-map: %(path)s is not a readable JSON file", path=needs_map),
                as_json,
                kind="invalid",
                field="--needs-map",
            )
    headers = {
        **language_header(),
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/octet-stream",
    }
    url = f"{settings.api_base_url}/api/v1/directory/imports"
    try:
        with httpx.Client(timeout=timeout()) as client:
            response = client.post(url, params=params, content=data, headers=headers)
    except httpx.TransportError as exc:
        unreachable(settings, exc, as_json)
    if not 200 <= response.status_code < 300:
        fail_with(response, as_json)
    emit(response.json(), as_json, _render)
