"""`casework login|logout|whoami` and `casework token …`: who the staff commands act as.

`login` signs in to the API with a staff account (the password asked for, not
echoed; a TOTP code when the account has one) or with the agency's single sign-on
(`--sso`, the device flow: open the address shown and confirm there). The session is
kept in the config directory (mode 0600) until `logout` ends it on the server and
removes it. Personal access tokens are for scripts: `token create` shows one once.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from casework.cli.api_client import (
    api,
    api_path,
    fail_with,
    forget_session,
    language_header,
    refused_sign_in,
    save_session,
    stored_token,
    timeout,
    unreachable,
)
from casework.cli.context import JsonOption, settings_from_context, staff_call
from casework.cli.output import console, emit, fail
from casework.i18n import _

app = typer.Typer()
token_app = typer.Typer(help="Personal access tokens for scripts: create, list, revoke.")


def _prompt_password() -> str:
    value: str = typer.prompt(_("Password"), hide_input=True, err=True)
    return value


def _sign_in(staff_id: str, password: str, totp: str | None, ask: bool, as_json: bool) -> Any:
    """Sign in; when the account has a second factor and none was given, ask for the code
    (the password is sent once more with it: a right password never counts as a failure)."""
    import httpx

    settings = settings_from_context()
    body = {"staff_id": staff_id, "password": password, "totp": totp}
    url = f"{settings.api_base_url}/api/v1/sessions"
    try:
        with httpx.Client(timeout=timeout()) as client:
            answer = client.post(url, json=body, headers=language_header())
            if answer.status_code == 401 and "second-factor" in answer.text and ask:
                body["totp"] = typer.prompt(_("TOTP code"), err=True).strip()
                answer = client.post(url, json=body, headers=language_header())
    except httpx.TransportError as exc:
        unreachable(settings, exc, as_json)
    if answer.status_code == 401:
        refused_sign_in(answer, as_json)
    if answer.status_code != 201:
        fail_with(answer, as_json)
    return answer.json()


@app.command("login")
def login_command(
    staff_id: str | None = typer.Argument(
        None, help="Your staff id (asked for if not given; not needed with --sso)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts)."
    ),
    totp: str | None = typer.Option(
        None, "--totp", help="Your 6-digit TOTP code (asked for when the account has one)."
    ),
    sso: bool = typer.Option(False, "--sso", help="Sign in with the agency's single sign-on."),
    as_json: bool = JsonOption,
) -> None:
    """Sign in to the Casework API; the staff commands then act as you."""
    settings = settings_from_context()
    if sso:
        session = _sso_session(as_json)
        who = staff_call_as(session["token"], as_json)["staff_id"]
    else:
        if staff_id is None:
            staff_id = typer.prompt(_("Staff id"), err=True)
        password = (
            typer.get_text_stream("stdin").readline().rstrip("\n")
            if password_stdin
            else _prompt_password()
        )
        session = _sign_in(staff_id, password, totp, not password_stdin, as_json)
        who = staff_id
    path = save_session(settings, who, session["token"], str(session["expires_at"]))
    emit(
        {
            "ok": True,
            "staff_id": who,
            "api": settings.api_base_url,
            "expires_at": session["expires_at"],
        },
        as_json,
        lambda _d: console.print(
            _(
                "signed in to %(url)s as %(who)s (session kept in %(path)s; it ends after idle "
                "time or at %(expires)s)",
                url=settings.api_base_url,
                who=f"[bold]{escape(who)}[/]",
                path=path,
                expires=session["expires_at"],
            ),
            highlight=False,
        ),
    )


def staff_call_as(token: str, as_json: bool) -> dict[str, Any]:
    """`GET /api/v1/me` with a token not yet kept."""
    settings = settings_from_context()
    answer = api(
        settings,
        "GET",
        "/api/v1/me",
        as_json=as_json,
        headers={"Authorization": f"Bearer {token}"},
        signed_in=False,
    )
    data: dict[str, Any] = answer.data
    return data


def _sso_session(as_json: bool) -> dict[str, Any]:
    """The device flow with the agency's provider, then a Casework session for its ID token."""
    from casework.cli.sso_login import SsoLoginError, sso_login

    settings = settings_from_context()
    client_id = settings.oidc_cli_client_id or settings.oidc_client_id
    if not settings.oidc_issuer or not client_id:
        fail(
            _(
                "single sign-on is not configured here: set CASEWORK_OIDC_ISSUER and "
                "CASEWORK_OIDC_CLI_CLIENT_ID (or sign in with your staff account)"
            ),
            as_json,
        )
    try:
        id_token = sso_login(settings.oidc_issuer, client_id)
    except SsoLoginError as exc:
        fail(_("single sign-on failed: %(error)s", error=exc), as_json)
    answer = api(
        settings,
        "POST",
        "/api/v1/sessions/oidc",
        as_json=as_json,
        body={"id_token": id_token},
        signed_in=False,
    )
    data: dict[str, Any] = answer.data
    return data


@app.command("logout")
def logout_command(as_json: bool = JsonOption) -> None:
    """End your session on the server and forget it here."""
    settings = settings_from_context()
    if settings.api_token is None and stored_token(settings) is not None:
        api(settings, "DELETE", "/api/v1/sessions/current", as_json=as_json)
    removed = forget_session(settings)
    emit(
        {"ok": True, "signed_out": removed},
        as_json,
        lambda _d: console.print(_("signed out") if removed else _("you were not signed in here")),
    )


@app.command("whoami")
def whoami_command(as_json: bool = JsonOption) -> None:
    """Who the staff commands act as: staff id, role, team and how you signed in."""
    data = staff_call("GET", "/api/v1/me", as_json=as_json)
    emit(
        data,
        as_json,
        lambda d: console.print(
            _(
                "%(who)s (%(role)s, team %(team)s), signed in by %(method)s",
                who=f"[bold]{escape(d['staff_id'])}[/]",
                role=d["role"],
                team=escape(d["team"]),
                method=d["method"],
            )
            if d.get("team")
            else _(
                "%(who)s (%(role)s), signed in by %(method)s",
                who=f"[bold]{escape(d['staff_id'])}[/]",
                role=d["role"],
                method=d["method"],
            ),
            highlight=False,
        ),
    )


_DURATION = re.compile(r"^(\d+)d$")


@token_app.command("create")
def create_token_command(
    name: str = typer.Option(..., "--name", help="What the token is for (shown in lists)."),
    expires: str = typer.Option("30d", "--expires", help="Lifetime in days, as `30d`."),
    as_json: bool = JsonOption,
) -> None:
    """A personal access token for your scripts (shown once: keep it safe)."""
    match = _DURATION.match(expires.strip())
    if match is None:
        fail(
            _(
                "--expires: expected a number of days such as 30d, got %(value)s",
                value=repr(expires),
            ),
            as_json,
        )
    body = {"name": name, "expires_in_days": int(match.group(1))}
    data = staff_call("POST", "/api/v1/tokens", as_json=as_json, body=body)

    def render(d: dict[str, Any]) -> None:
        console.print(
            _(
                "token %(name)s (%(id)s), valid until %(expires)s; shown only now:",
                name=f"[bold]{escape(d['name'])}[/]",
                id=d["token_id"],
                expires=d["expires_at"],
            ),
            highlight=False,
        )
        console.print(d["token"], highlight=False, soft_wrap=True)
        console.print(_("Use it with: export CASEWORK_TOKEN=<token>"), highlight=False)

    emit(data, as_json, render)


@token_app.command("list")
def list_tokens_command(as_json: bool = JsonOption) -> None:
    """Your personal access tokens, newest first, with when each was last used."""
    rows = staff_call("GET", "/api/v1/tokens", as_json=as_json)

    def render(found: list[dict[str, Any]]) -> None:
        table = Table(_("id"), _("name"), _("created"), _("expires"), _("last used"), _("revoked"))
        for t in found:
            table.add_row(
                t["token_id"], escape(t["name"]), t["created_at"], t["expires_at"],
                t["last_used_at"] or "", t["revoked_at"] or "",
            )  # fmt: skip
        console.print(table)

    emit(rows, as_json, render)


@token_app.command("revoke")
def revoke_token_command(
    token_id: str = typer.Argument(..., help="The token's id (`casework token list`)."),
    as_json: bool = JsonOption,
) -> None:
    """Revoke one of your personal access tokens at once."""
    staff_call("DELETE", api_path("/api/v1/tokens/{}", token_id), as_json=as_json)
    emit({"ok": True, "token_id": token_id}, as_json, lambda _d: console.print(_("revoked")))
