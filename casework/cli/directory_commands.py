"""`casework staff …` and `casework provider …`: the staff and resource directories.

Every command but `bootstrap-admin` goes through the HTTP API as the staff member
signed in with `casework login` (changes: admins). The very first admin is created by
the operator with `casework staff bootstrap-admin`, allowed only while the staff
directory is empty; it prints the admin's invitation code. Every command takes
`--json`; a refused command exits 1 with the reason on stderr.

Passwords: `casework staff invite STAFF_ID` (an admin) prints a one-time code for the
staff member, who sets their own password with `casework staff set-password STAFF_ID`
(the code and the password are asked for without echo).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from casework.cli.api_client import api, api_path, pages
from casework.cli.choices import Domain, ProviderCategory, StaffRole
from casework.cli.context import JsonOption, call, settings_from_context, staff_call
from casework.cli.output import console, emit, fail
from casework.i18n import _

if TYPE_CHECKING:
    from application.bootstrap import Casework
    from application.identity import Invitation
    from directory import Keep, Provider, StaffMember

# The directory's models (which read the API's answers) are imported by the commands that
# use them; `bootstrap-admin`, an operator command, imports the server side when it runs.

staff_app = typer.Typer(help="The staff directory: people, roles and teams.")
provider_app = typer.Typer(help="The resource directory: providers and their services.")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

ReasonOption = typer.Option(None, "--reason", help="Why (recorded with the change).")


# --- plumbing ------------------------------------------------------------------------


def _staff_change(
    method: str, path: str, model: type[M], as_json: bool, body: dict[str, Any] | None = None
) -> M:
    """One change through the API, as the signed-in staff member (an admin)."""
    return model.model_validate(staff_call(method, path, as_json=as_json, body=body))


def _given(**fields: Any) -> dict[str, Any]:
    """The change's fields that were given (KEEP: left out, so kept as it is)."""
    from directory import KEEP

    return {k: v for k, v in fields.items() if v is not KEEP}


def _either(value: T | None, clear: bool, option: str, as_json: bool) -> T | Keep | None:
    """A change option: KEEP when not given, None when cleared with --no-…, else the value."""
    from directory import KEEP

    if clear and value is not None:
        fail(_("--%(option)s and --no-%(option)s exclude each other", option=option), as_json)
    if clear:
        return None
    return KEEP if value is None else value


def _member_line(m: StaffMember) -> str:
    team = _(", team %(team)s", team=m.team) if m.team else ""
    if m.provider_id:
        team = _(", for provider %(provider)s", provider=m.provider_id)
    state = "" if m.active else _deactivated(m.deactivation_reason)
    return f"[bold]{m.staff_id}[/] {escape(m.display_name)} — {m.role}{team}{state}"


def _provider_line(p: Provider) -> str:
    state = "" if p.active else _deactivated(p.deactivation_reason)
    return f"[bold]{p.provider_id}[/] {escape(p.name)} — {p.category}{state}"


def _deactivated(reason: str | None) -> str:
    label = _("deactivated")
    return f" [red]{label}[/] ({escape(reason or '')})"


def _cells(*values: str) -> list[str]:
    """Table cells shown literally (names and notes may contain [brackets])."""
    return [escape(v) for v in values]


def _done(message: str) -> Callable[[Any], None]:
    return lambda _data: console.print(message, highlight=False)


# --- staff -----------------------------------------------------------------------------


@staff_app.command("bootstrap-admin")
def bootstrap_admin_command(
    staff_id: str = typer.Argument(..., help="The first admin's staff id."),
    name: str = typer.Option(..., "--name", help="Display name."),
    webhook: str | None = typer.Option(None, "--webhook", help="Notification webhook URL."),
    as_json: bool = JsonOption,
) -> None:
    """Create the very first admin (only while the staff directory is empty).

    An operator command (straight to the database): it prints the admin's one-time
    invitation code, with which they set their password (`casework staff set-password`)
    and then sign in (`casework login`)."""
    from application.identity import invite
    from directory import bootstrap_admin, resolve_actor

    async def work(app: Casework) -> tuple[StaffMember, Invitation]:
        member = await bootstrap_admin(app.store, staff_id, name, webhook)
        admin = await resolve_actor(app.store, staff_id)
        return member, await invite(app, admin, staff_id, now=datetime.now(UTC))

    member, issued = call(work, as_json, pool_size=2)
    expires = issued.expires_at.isoformat(timespec="seconds")

    def render(_data: Any) -> None:
        console.print(_("bootstrapped admin %(line)s", line=_member_line(member)), highlight=False)
        console.print(
            _("their invitation, valid until %(expires)s, usable once:", expires=expires),
            highlight=False,
        )
        console.print(issued.code, highlight=False, soft_wrap=True)
        console.print(
            _(
                "Set the password with: casework staff set-password %(staff)s",
                staff=escape(staff_id),
            ),
            highlight=False,
        )

    emit(
        {
            "ok": True,
            "staff_member": member.model_dump(mode="json"),
            "invitation": {"code": issued.code, "expires_at": expires},
        },
        as_json,
        render,
    )


@staff_app.command("add-team")
def add_team_command(
    team_id: str = typer.Argument(..., help="The new team's id."),
    name: str = typer.Option(..., "--name", help="The team's name."),
    as_json: bool = JsonOption,
) -> None:
    """Add a team."""
    from directory import Team

    team = _staff_change("POST", "/api/v1/teams", Team, as_json, {"team_id": team_id, "name": name})
    emit(
        {"ok": True, "team": team.model_dump(mode="json")},
        as_json,
        _done(_("added team %(line)s", line=f"[bold]{team.team_id}[/] {escape(team.name)}")),
    )


@staff_app.command("add")
def add_staff_command(
    staff_id: str = typer.Argument(..., help="The new member's staff id."),
    name: str = typer.Option(..., "--name", help="Display name."),
    role: StaffRole = typer.Option(..., "--role", help="The member's role."),
    team: str | None = typer.Option(None, "--team", help="Team (caseworkers, supervisors)."),
    webhook: str | None = typer.Option(None, "--webhook", help="Notification webhook URL."),
    provider: str | None = typer.Option(
        None, "--provider", help="The provider a provider member acts for (--role provider)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Add a staff member (a caseworker or supervisor needs --team; a provider member
    --provider, the provider organisation it acts for in the provider portal)."""
    from directory import StaffMember

    body = {
        "staff_id": staff_id,
        "display_name": name,
        "role": role.value,
        "team": team,
        "webhook_url": webhook,
    }
    if provider is not None:
        body["provider_id"] = provider
    member = _staff_change("POST", "/api/v1/staff", StaffMember, as_json, body)
    emit(
        {"ok": True, "staff_member": member.model_dump(mode="json")},
        as_json,
        _done(_("added %(line)s", line=_member_line(member))),
    )


@staff_app.command("change")
def change_staff_command(
    staff_id: str = typer.Argument(..., help="The member to change."),
    name: str | None = typer.Option(None, "--name", help="New display name."),
    role: StaffRole | None = typer.Option(None, "--role", help="New role."),
    team: str | None = typer.Option(None, "--team", help="New team."),
    no_team: bool = typer.Option(False, "--no-team", help="Leave every team."),
    webhook: str | None = typer.Option(None, "--webhook", help="New webhook URL."),
    no_webhook: bool = typer.Option(False, "--no-webhook", help="Remove the webhook."),
    provider: str | None = typer.Option(
        None, "--provider", help="The provider a provider member acts for."
    ),
    reason: str | None = ReasonOption,
    as_json: bool = JsonOption,
) -> None:
    """Change a member's name, role, team, notification webhook or provider."""
    from directory import KEEP, StaffMember

    body = _given(
        display_name=KEEP if name is None else name,
        role=KEEP if role is None else role.value,
        team=_either(team, no_team, "team", as_json),
        webhook_url=_either(webhook, no_webhook, "webhook", as_json),
        provider_id=KEEP if provider is None else provider,
        reason=KEEP if reason is None else reason,
    )
    member = _staff_change(
        "PATCH", api_path("/api/v1/staff/{}", staff_id), StaffMember, as_json, body
    )
    emit(
        {"ok": True, "staff_member": member.model_dump(mode="json")},
        as_json,
        _done(_("changed %(line)s", line=_member_line(member))),
    )


@staff_app.command("deactivate")
def deactivate_staff_command(
    staff_id: str = typer.Argument(..., help="The member who may no longer act."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    as_json: bool = JsonOption,
) -> None:
    """Deactivate a staff member (the id is never reused); their sessions end at once."""
    from directory import StaffMember

    member = _staff_change(
        "POST",
        api_path("/api/v1/staff/{}/deactivation", staff_id),
        StaffMember,
        as_json,
        {"reason": reason},
    )
    emit(
        {"ok": True, "staff_member": member.model_dump(mode="json")},
        as_json,
        _done(_("deactivated %(line)s", line=_member_line(member))),
    )


@staff_app.command("invite")
def invite_command(
    staff_id: str = typer.Argument(..., help="The member who is to set a password."),
    as_json: bool = JsonOption,
) -> None:
    """Issue a one-time code with which the member sets their own password (admins).

    Earlier unused codes of the member stop working. Give the code to the member
    through a channel you trust; it is shown only now.
    """
    issued = staff_call("POST", api_path("/api/v1/staff/{}/invitations", staff_id), as_json=as_json)

    def render(_data: Any) -> None:
        console.print(
            _(
                "invitation for %(staff)s, valid until %(expires)s, usable once:",
                staff=f"[bold]{escape(staff_id)}[/]",
                expires=issued["expires_at"],
            ),
            highlight=False,
        )
        console.print(issued["code"], highlight=False, soft_wrap=True)
        console.print(
            _(
                "They set their password with: casework staff set-password %(staff)s",
                staff=escape(staff_id),
            ),
            highlight=False,
        )

    emit({"ok": True, **issued}, as_json, render)


@staff_app.command("set-password")
def set_password_command(
    staff_id: str = typer.Argument(..., help="Your staff id."),
    code: str | None = typer.Option(
        None, "--code", help="The invitation code from your admin (asked for if not given)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Set your password with an invitation code (asked for twice, not echoed)."""
    if code is None:
        code = typer.prompt(_("Invitation code"), hide_input=True, err=True)
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\n")
    else:
        password = typer.prompt(
            _("New password (at least 12 characters)"),
            hide_input=True,
            confirmation_prompt=_("Repeat the password"),
            err=True,
        )
    api(
        settings_from_context(),
        "POST",
        "/api/v1/invitations/accept",
        as_json=as_json,
        body={"staff_id": staff_id, "code": code.strip(), "password": password},
        signed_in=False,
    )
    emit(
        {"ok": True, "staff_id": staff_id},
        as_json,
        _done(
            _(
                "password set for %(line)s",
                line=f"[bold]{escape(staff_id)}[/]: sign in with `casework login`",
            )
        ),
    )


@staff_app.command("list")
def list_staff_command(
    team: str | None = typer.Option(None, "--team", help="Only this team's members."),
    include_inactive: bool = typer.Option(False, "--all", help="Include deactivated members."),
    as_json: bool = JsonOption,
) -> None:
    """List staff members and teams."""
    from directory import StaffMember, Team

    settings = settings_from_context()
    everyone = True if include_inactive else None
    teams = [
        Team.model_validate(t)
        for t in pages(settings, "/api/v1/teams", as_json=as_json)
        if team is None or t["team_id"] == team
    ]
    if team is not None and not teams:
        fail(_("no team %(team)s in the staff directory", team=repr(team)), as_json)
    members = [
        StaffMember.model_validate(m)
        for m in pages(
            settings, "/api/v1/staff", as_json=as_json, params={"team": team, "all": everyone}
        )
    ]
    data = {
        "ok": True,
        "teams": [t.model_dump(mode="json") for t in teams],
        "staff": [m.model_dump(mode="json") for m in members],
    }

    def render(_data: Any) -> None:
        table = Table(_("staff id"), _("name"), _("role"), _("team"), _("webhook"), _("active"))
        for m in members:
            table.add_row(
                *_cells(
                    m.staff_id,
                    m.display_name,
                    m.role.value,
                    m.team or "",
                    m.webhook_url or "",
                    _("yes") if m.active else _("no (%(reason)s)", reason=m.deactivation_reason),
                )
            )
        console.print(table)
        console.print(
            _(
                "teams: %(teams)s",
                teams=", ".join(f"{t.team_id} ({escape(t.name)})" for t in teams) or _("none"),
            ),
            highlight=False,
        )

    emit(data, as_json, render)


@staff_app.command("show")
def show_staff_command(
    staff_id: str = typer.Argument(..., help="The member to show."),
    as_json: bool = JsonOption,
) -> None:
    """Show one staff member (active or deactivated)."""
    from directory import StaffMember

    member = _staff_change("GET", api_path("/api/v1/staff/{}", staff_id), StaffMember, as_json)
    emit(
        {"ok": True, "staff_member": member.model_dump(mode="json")},
        as_json,
        lambda _d: console.print(_member_line(member), highlight=False),
    )


# --- providers -----------------------------------------------------------------------


@provider_app.command("add")
def add_provider_command(
    provider_id: str = typer.Argument(..., help="The new provider's id."),
    name: str = typer.Option(..., "--name", help="The provider's name."),
    category: ProviderCategory = typer.Option(..., "--category", help="What it provides."),
    webhook: str = typer.Option(..., "--webhook", help="Referral webhook URL (http/https)."),
    phone: str | None = typer.Option(None, "--phone", help="Contact phone."),
    email: str | None = typer.Option(None, "--email", help="Contact email."),
    eligibility: str = typer.Option("", "--eligibility", help="Eligibility notes."),
    as_json: bool = JsonOption,
) -> None:
    """Add a provider to the resource directory."""
    from directory import Provider

    body = {
        "provider_id": provider_id,
        "name": name,
        "category": category.value,
        "webhook_url": webhook,
        "phone": phone,
        "email": email,
        "eligibility": eligibility,
    }
    provider = _staff_change("POST", "/api/v1/providers", Provider, as_json, body)
    emit(
        {"ok": True, "provider": provider.model_dump(mode="json")},
        as_json,
        _done(_("added provider %(line)s", line=_provider_line(provider))),
    )


@provider_app.command("add-service")
def add_service_command(
    provider_id: str = typer.Argument(..., help="The provider offering the service."),
    service_id: str = typer.Argument(..., help="The new service's id."),
    name: str = typer.Option(..., "--name", help="The service's name."),
    domains: list[Domain] = typer.Option(..., "--domain", help="A need it serves (repeat)."),
    eligibility: str = typer.Option("", "--eligibility", help="Eligibility notes."),
    as_json: bool = JsonOption,
) -> None:
    """Add a service to a provider."""
    from directory import Service

    body = {
        "service_id": service_id,
        "name": name,
        "domains": [d.value for d in domains],
        "eligibility": eligibility,
    }
    service = _staff_change(
        "POST", api_path("/api/v1/providers/{}/services", provider_id), Service, as_json, body
    )
    emit(
        {"ok": True, "service": service.model_dump(mode="json")},
        as_json,
        _done(
            _(
                "added service %(line)s",
                line=f"[bold]{service.service_id}[/] {escape(service.name)} to {provider_id} ("
                + ", ".join(d.value for d in service.domains)
                + ")",
            ),
        ),
    )


@provider_app.command("change")
def change_provider_command(
    provider_id: str = typer.Argument(..., help="The provider to change."),
    name: str | None = typer.Option(None, "--name", help="New name."),
    category: ProviderCategory | None = typer.Option(None, "--category", help="New category."),
    webhook: str | None = typer.Option(None, "--webhook", help="New referral webhook URL."),
    phone: str | None = typer.Option(None, "--phone", help="New phone."),
    no_phone: bool = typer.Option(False, "--no-phone", help="Remove the phone."),
    email: str | None = typer.Option(None, "--email", help="New email."),
    no_email: bool = typer.Option(False, "--no-email", help="Remove the email."),
    eligibility: str | None = typer.Option(None, "--eligibility", help="New eligibility."),
    reason: str | None = ReasonOption,
    as_json: bool = JsonOption,
) -> None:
    """Change a provider's name, category, contact channel or eligibility notes."""
    from directory import KEEP, Provider

    body = _given(
        name=KEEP if name is None else name,
        category=KEEP if category is None else category.value,
        webhook_url=KEEP if webhook is None else webhook,
        phone=_either(phone, no_phone, "phone", as_json),
        email=_either(email, no_email, "email", as_json),
        eligibility=KEEP if eligibility is None else eligibility,
        reason=KEEP if reason is None else reason,
    )
    provider = _staff_change(
        "PATCH", api_path("/api/v1/providers/{}", provider_id), Provider, as_json, body
    )
    emit(
        {"ok": True, "provider": provider.model_dump(mode="json")},
        as_json,
        _done(_("changed provider %(line)s", line=_provider_line(provider))),
    )


@provider_app.command("deactivate")
def deactivate_provider_command(
    provider_id: str = typer.Argument(..., help="The provider to take out of use."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    as_json: bool = JsonOption,
) -> None:
    """Deactivate a provider: no new referrals go to it."""
    from directory import Provider

    provider = _staff_change(
        "POST",
        api_path("/api/v1/providers/{}/deactivation", provider_id),
        Provider,
        as_json,
        {"reason": reason},
    )
    emit(
        {"ok": True, "provider": provider.model_dump(mode="json")},
        as_json,
        _done(_("deactivated provider %(line)s", line=_provider_line(provider))),
    )


@provider_app.command("withdraw-service")
def withdraw_service_command(
    provider_id: str = typer.Argument(..., help="The provider."),
    service_id: str = typer.Argument(..., help="The service it no longer offers."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded)."),
    as_json: bool = JsonOption,
) -> None:
    """Withdraw a provider's service."""
    from directory import Service

    service = _staff_change(
        "POST",
        api_path("/api/v1/providers/{}/services/{}/withdrawal", provider_id, service_id),
        Service,
        as_json,
        {"reason": reason},
    )
    emit(
        {"ok": True, "service": service.model_dump(mode="json")},
        as_json,
        _done(_("withdrew service %(line)s", line=f"{service.service_id} of {provider_id}")),
    )


@provider_app.command("list")
def list_providers_command(
    category: ProviderCategory | None = typer.Option(None, "--category", help="Only these."),
    domain: Domain | None = typer.Option(None, "--domain", help="Serving this need."),
    include_inactive: bool = typer.Option(False, "--all", help="Include deactivated ones."),
    as_json: bool = JsonOption,
) -> None:
    """List providers (with their services)."""
    from directory import Provider

    providers = [
        Provider.model_validate(found)
        for found in pages(
            settings_from_context(),
            "/api/v1/providers",
            as_json=as_json,
            params={
                "category": category and category.value,
                "domain": domain and domain.value,
                "all": True if include_inactive else None,
            },
        )
    ]

    def render(_data: Any) -> None:
        table = Table(
            _("provider id"), _("name"), _("category"), _("services"), _("webhook"), _("active")
        )
        for p in providers:
            table.add_row(
                *_cells(
                    p.provider_id,
                    p.name,
                    p.category.value,
                    ", ".join(s.service_id for s in p.active_services),
                    p.channel.webhook_url,
                    _("yes") if p.active else _("no (%(reason)s)", reason=p.deactivation_reason),
                )
            )
        console.print(table)

    emit(
        {"ok": True, "providers": [p.model_dump(mode="json") for p in providers]},
        as_json,
        render,
    )


@provider_app.command("show")
def show_provider_command(
    provider_id: str = typer.Argument(..., help="The provider to show."),
    as_json: bool = JsonOption,
) -> None:
    """Show one provider: contact channel, eligibility and services."""
    from directory import Provider

    provider = _staff_change(
        "GET", api_path("/api/v1/providers/{}", provider_id), Provider, as_json
    )

    def render(_data: Any) -> None:
        channel = provider.channel
        console.print(_provider_line(provider), highlight=False)
        console.print(_("  webhook: %(url)s", url=escape(channel.webhook_url)), highlight=False)
        if channel.phone:
            console.print(_("  phone: %(phone)s", phone=escape(channel.phone)), highlight=False)
        if channel.email:
            console.print(_("  email: %(email)s", email=escape(channel.email)), highlight=False)
        if provider.eligibility:
            console.print(
                _("  eligibility: %(text)s", text=escape(provider.eligibility)), highlight=False
            )
        table = Table(_("service id"), _("name"), _("domains"), _("eligibility"), _("active"))
        for s in provider.services:
            table.add_row(
                *_cells(
                    s.service_id,
                    s.name,
                    ", ".join(d.value for d in s.domains),
                    s.eligibility,
                    _("yes") if s.active else _("no (%(reason)s)", reason=s.withdrawal_reason),
                )
            )
        console.print(table)

    emit({"ok": True, "provider": provider.model_dump(mode="json")}, as_json, render)
