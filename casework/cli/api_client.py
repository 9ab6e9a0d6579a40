"""The staff commands' way to Casework: the HTTP API, as the signed-in staff member.

`casework login` signs in (password and TOTP code, or the agency's single sign-on) and
keeps the session in `<config dir>/credentials.json`, readable by its owner only (0600),
one entry per API address. `CASEWORK_TOKEN` (a personal access token) wins over it,
for scripts. Every staff command then calls `api(...)`: the token goes as a bearer,
writes carry an `Idempotency-Key` (so a retry after a dropped connection is safe), and
a refusal, an ended session or an unreachable API fails the command with the reason.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from casework.cli.output import ExitCode, fail
from casework.i18n import _, current
from infrastructure.settings import Settings

if TYPE_CHECKING:
    import httpx

# httpx is imported when a request is sent: a command that ends before (not signed in,
# invalid input, `--help`) never loads it.

CREDENTIALS = "credentials.json"
TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 10.0
RETRIES = 3


def timeout() -> httpx.Timeout:
    """How long a request to the API may take: 2 minutes, 10 seconds to connect."""
    import httpx

    return httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


def api_path(template: str, *values: str) -> str:
    """An API path with each `{}` filled by one value, percent-encoded whole: an id a
    person typed never reaches another route (`/`, `?`, `#` and `..` stay inside it)."""
    return template.format(*(_segment(value) for value in values))


def _segment(value: str) -> str:
    quoted = quote(value, safe="")
    if quoted in ("", ".", ".."):  # would be resolved as path steps: spell them out
        return quoted.replace(".", "%2E") or "%20"
    return quoted


def config_dir(settings: Settings) -> Path:
    if settings.config_dir is not None:
        return settings.config_dir
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "casework"


def _credentials_file(settings: Settings) -> Path:
    return config_dir(settings) / CREDENTIALS


def _read_all(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_session(settings: Settings, staff_id: str, token: str, expires_at: str) -> Path:
    """Keep the session for this API: the folder 0700, the file 0600 from its creation."""
    path = _credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entries = _read_all(path)
    entries[settings.api_base_url] = {
        "staff_id": staff_id,
        "token": token,
        "expires_at": expires_at,
    }
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(entries, out, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def forget_session(settings: Settings) -> bool:
    """Drop this API's session from the file; True when there was one."""
    path = _credentials_file(settings)
    entries = _read_all(path)
    if entries.pop(settings.api_base_url, None) is None:
        return False
    descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(entries, out, indent=2)
    return True


def stored_token(settings: Settings) -> str | None:
    """`CASEWORK_TOKEN`, else the session `casework login` kept for this API."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    entry = _read_all(_credentials_file(settings)).get(settings.api_base_url)
    if isinstance(entry, dict) and isinstance(entry.get("token"), str):
        token: str = entry["token"]
        return token
    return None


@dataclass(frozen=True)
class Answer:
    """A successful answer: its JSON body (None when empty) and its headers."""

    data: Any
    headers: httpx.Headers
    content: bytes = b""
    """The body as sent (a file to save byte for byte, such as a case export)."""


def describe_problem(response: httpx.Response) -> str:
    """An RFC 9457 problem as one line: each invalid field with its message, else the detail."""
    return _problem(response)[0]


_KINDS: dict[int, tuple[str, int]] = {
    400: ("invalid", ExitCode.REFUSED),
    401: ("not-signed-in", ExitCode.NOT_SIGNED_IN),
    403: ("forbidden", ExitCode.REFUSED),
    404: ("not-found", ExitCode.REFUSED),
    409: ("refused", ExitCode.REFUSED),
    412: ("conflict", ExitCode.REFUSED),
    413: ("invalid", ExitCode.REFUSED),
    422: ("invalid", ExitCode.REFUSED),
    428: ("invalid", ExitCode.REFUSED),
    429: ("rate-limited", ExitCode.REFUSED),
}


def _problem(response: httpx.Response) -> tuple[str, str | None]:
    """The message and the first field a problem document names."""
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}", None
    if not isinstance(problem, dict):
        return f"HTTP {response.status_code}: {problem}", None
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    fields = "; ".join(f"{e.get('field', '?')}: {e.get('message', '')}" for e in errors)
    detail = problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}"
    field = str(errors[0]["field"]) if errors and "field" in errors[0] else None
    return fields or str(detail), field


def fail_with(response: httpx.Response, as_json: bool, *, hint: str = "") -> NoReturn:
    """End the command with the API's refusal: its kind, message, field and exit code."""
    message, field = _problem(response)
    kind, code = _KINDS.get(response.status_code, ("unavailable", ExitCode.UNAVAILABLE))
    if response.status_code < 500 and response.status_code not in _KINDS:
        kind, code = "refused", ExitCode.REFUSED
    fail(message + hint, as_json, code, kind=kind, field=field)


def refused_sign_in(response: httpx.Response, as_json: bool) -> NoReturn:
    """A sign-in refused (wrong staff id, password or code): refused, not "not signed in"."""
    message, field = _problem(response)
    fail(message, as_json, ExitCode.REFUSED, kind="sign-in-failed", field=field)


def unreachable(settings: Settings, failure: Exception | None, as_json: bool) -> NoReturn:
    fail(
        _(
            "the Casework API at %(url)s is not reachable (%(failure)s): is the stack "
            "running? start it with `casework up` (or `casework serve`), or set "
            "CASEWORK_API_URL",
            url=settings.api_base_url,
            failure=failure,
        ),
        as_json,
        ExitCode.UNAVAILABLE,
        kind="unavailable",
    )


def not_signed_in(settings: Settings) -> str:
    return _(
        "not signed in to %(url)s: run `casework login` "
        "(or set CASEWORK_TOKEN to a personal access token)",
        url=settings.api_base_url,
    )


def language_header() -> dict[str, str]:
    """The command line's language, for the API's problem documents (`Accept-Language`)."""
    return {"Accept-Language": current()}


def api(
    settings: Settings,
    method: str,
    path: str,
    *,
    as_json: bool,
    body: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    signed_in: bool = True,
) -> Answer:
    """Call the API; a refusal, an ended session or an outage fails the command."""
    import httpx

    sent = {**language_header(), **(headers or {})}
    if signed_in:
        token = stored_token(settings)
        if token is None:
            fail(
                not_signed_in(settings),
                as_json,
                ExitCode.NOT_SIGNED_IN,
                kind="not-signed-in",
            )
        sent["Authorization"] = f"Bearer {token}"
    if method != "GET":
        sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
    query = {k: v for k, v in (params or {}).items() if v is not None}
    url = f"{settings.api_base_url}{path}"
    response: httpx.Response | None = None
    failure: httpx.TransportError | None = None
    with httpx.Client(timeout=timeout()) as client:
        for _attempt in range(RETRIES):
            try:
                response = client.request(method, url, json=body, params=query, headers=sent)
                break
            except httpx.TransportError as exc:
                failure = exc
    if response is None:
        unreachable(settings, failure, as_json)
    if response.status_code == 401 and signed_in:
        fail_with(response, as_json, hint=_(" — run `casework login`"))
    if response.status_code == 401:  # signing in (or setting a password) itself failed
        refused_sign_in(response, as_json)
    if not 200 <= response.status_code < 300:
        fail_with(response, as_json)
    data = response.json() if response.content else None
    return Answer(data=data, headers=response.headers, content=response.content)


def pages(
    settings: Settings,
    path: str,
    *,
    as_json: bool,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> list[Any]:
    """Every item of a paged list endpoint, following `next_cursor` to the last page."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        query = {**(params or {}), "limit": 500, "cursor": cursor}
        page = api(settings, "GET", path, as_json=as_json, params=query, headers=headers).data
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


STDOUT = "-"
"""A download's FILE that means standard output."""

DOWNLOAD_CHUNK = 256 * 1024

DOWNLOAD_WAIT_S = 1800.0
"""How long a download may wait for its next bytes: an XLSX export sends nothing until
its workbook is complete (about 30 s per 100,000 rows; docs/reports.md)."""


def download(
    settings: Settings,
    path: str,
    out: str,
    *,
    as_json: bool,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    option: str = "FILE",
) -> int:
    """GET `path` as the signed-in staff member and write the body to `out` as it arrives
    (`-`: standard output), never whole in memory: the bytes written. A file is written
    beside `out` and renamed into place once complete, so a refusal or a broken
    connection leaves nothing at `out`; a refusal fails the command as `api` does."""
    import sys

    import httpx

    token = stored_token(settings)
    if token is None:
        fail(
            not_signed_in(settings),
            as_json,
            ExitCode.NOT_SIGNED_IN,
            kind="not-signed-in",
        )
    sent = {**language_header(), **(headers or {}), "Authorization": f"Bearer {token}"}
    query = {k: v for k, v in (params or {}).items() if v is not None}
    target = None if out == STDOUT else Path(out)
    partial = None if target is None else target.with_name(f".{target.name}.part")
    size = 0
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S, read=DOWNLOAD_WAIT_S)
            ) as client,
            client.stream(
                "GET", f"{settings.api_base_url}{path}", params=query, headers=sent
            ) as response,
        ):
            if response.status_code != 200:
                response.read()
                if response.status_code == 401:
                    fail_with(response, as_json, hint=_(" — run `casework login`"))
                fail_with(response, as_json)
            if partial is None:
                for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                    sys.stdout.buffer.write(chunk)
                    size += len(chunk)
                sys.stdout.buffer.flush()
            else:
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        file.write(chunk)
                        size += len(chunk)
    except httpx.TransportError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        unreachable(settings, exc, as_json)
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        fail(
            _(
                "%(option)s: cannot write %(path)s: %(reason)s",
                option=option,
                path=out,
                reason=exc.strerror,
            ),
            as_json,
            kind="io",
            field=option,
        )
    if partial is not None and target is not None:
        os.replace(partial, target)
    return size
