"""`casework case …`: open a case and drive it through its lifecycle.

Every command is a request to the HTTP API as the staff member signed in with
`casework login` (what they may do follows from their role in the directory);
structured inputs (assessment, plan, evaluation) are read from a JSON or YAML file and
checked before they are sent. A command acts on the case as it stands (`If-Match: *`);
`--if-version N` refuses it when the case has moved past version N. A rejected
command exits 1 with the reason on stderr.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.table import Table

from casework.cli.api_client import api_path
from casework.cli.choices import (
    ApprovalKind,
    ClosureReason,
    ContactKind,
    GoalStatus,
    ReferralSource,
    SharedField,
)
from casework.cli.context import (
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    describe_validation,
    read_headers,
    staff_drive,
)
from casework.cli.output import console, fail
from casework.cli.participants import participants
from casework.i18n import _

# The domain's models (cases.commands, events.vocabulary) check a structured input before
# it is sent: imported by the commands that read one, not by every command.

case_app = typer.Typer(
    help="Open cases and drive them through the lifecycle.", no_args_is_help=True
)

M = TypeVar("M", bound=BaseModel)


def read_object(path: Path, as_json: bool) -> dict[str, Any]:
    """A JSON or YAML file holding one object."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", as_json, kind="invalid", field=str(path))
    except UnicodeDecodeError:
        fail(_("%(path)s: not UTF-8 text", path=path), as_json, kind="invalid", field=str(path))
    yaml_file = path.suffix in (".yaml", ".yml")
    try:
        data = yaml.safe_load(text) if yaml_file else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        message = (
            _("%(path)s: not valid YAML: %(error)s", path=path, error=exc)
            if yaml_file
            else _("%(path)s: not valid JSON: %(error)s", path=path, error=exc)
        )
        fail(message, as_json, kind="invalid", field=str(path))
    if not isinstance(data, dict):
        fail(_("%(path)s: expected an object at the top level", path=path), as_json, kind="invalid")
    return data


def read_structured(path: Path, model: type[M], as_json: bool) -> M:
    """A JSON or YAML file validated as `model` before it is sent (errors name the field)."""
    try:
        return model.model_validate(read_object(path, as_json))
    except ValidationError as exc:
        fail(f"{path}: {describe_validation(exc)}", as_json, kind="invalid")


IfVersionOption = typer.Option(
    None,
    "--if-version",
    min=0,
    help="Refuse the command if the case is no longer at this version (its ETag).",
)


def command(
    case_id: str, update: str, body: dict[str, Any], as_json: bool, if_version: int | None
) -> None:
    """Send one command of the case's command table through the API and print the result."""
    staff_drive(
        "POST",
        api_path("/api/v1/cases/{}/commands/{}", case_id, update),
        as_json=as_json,
        body=body,
        headers={"If-Match": "*" if if_version is None else f'"{if_version}"'},
    )


# --- opening ------------------------------------------------------------------------------


@case_app.command("open")
def open_case(
    client_ref: str = typer.Option(..., help="The client's pseudonymous reference."),
    name: str = typer.Option(..., help="The client's name (confidential)."),
    worker: str = typer.Option(..., help="Assigned worker's staff id."),
    need: list[str] = typer.Option(..., "--need", help="A presenting need (repeatable)."),
    source: ReferralSource = typer.Option(ReferralSource.SELF_REFERRAL, help="Referral source."),
    referring_agency: str | None = typer.Option(None),
    date_of_birth: str | None = typer.Option(None, help="YYYY-MM-DD"),
    phone: str | None = typer.Option(None),
    email: str | None = typer.Option(None),
    address: str | None = typer.Option(None),
    language: str | None = typer.Option(
        None, help="The client's preferred language, a BCP 47 tag: es, pt-BR, ar (confidential)."
    ),
    interpreter: bool | None = typer.Option(
        None, "--interpreter/--no-interpreter", help="Whether the client needs an interpreter."
    ),
    details_file: Path | None = typer.Option(None, help="Client details as JSON/YAML instead."),
    confirm_new_client: bool = typer.Option(
        False,
        "--confirm-new-client",
        help="The duplicate check found clients this one looks like, and none is this "
        "person: open it for a new client (recorded). To use an existing client, give "
        "their --client-ref instead.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Open a case for a client; prints the new case id. A client who looks like an
    existing one (same date of birth and a close name, or the same phone or email) is
    refused with the matches you may see, until you use theirs or confirm a new one."""
    client: dict[str, Any]
    if details_file:
        from events.vocabulary import ClientDetails

        client = read_structured(details_file, ClientDetails, as_json).model_dump(mode="json")
    else:
        client = {
            "name": name,
            "date_of_birth": date_of_birth,
            "contact": {"phone": phone, "email": email, "address": address},
        }
    if language is not None:
        client["preferred_language"] = language
    if interpreter is not None:
        client["interpreter_needed"] = interpreter
    staff_drive(
        "POST",
        "/api/v1/cases",
        as_json=as_json,
        body={
            "client_ref": client_ref,
            "client": client,
            "referral_source": source.value,
            "referring_agency": referring_agency,
            "assignee": worker,
            "presenting_needs": need,
            "confirm_new_client": confirm_new_client,
        },
    )


@case_app.command("consent")
def consent(
    case_id: str,
    share: list[SharedField] = typer.Option([], "--share", help="A field the client shares."),
    provider: list[str] = typer.Option([], "--provider", help="A provider it may go to."),
    preferences: str = typer.Option("", help="Confidentiality preferences."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record what the client consents to share, and with which providers."""
    body = {
        "shared_fields": [s.value for s in share],
        "providers": provider,
        "preferences": preferences,
    }
    command(case_id, "record_consent", body, as_json, if_version)


@case_app.command("assess")
def assess(
    case_id: str,
    file: Path = typer.Argument(..., help="The assessment as JSON or YAML."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a (re)assessment; it is scored into needs and a risk level."""
    from cases import commands as c

    assessment = read_structured(file, c.AssessmentInput, as_json).model_dump(mode="json")
    command(case_id, "record_assessment", {"assessment": assessment}, as_json, if_version)


@case_app.command("plan")
def plan(
    case_id: str,
    file: Path = typer.Argument(..., help="The plan (goals, crisis plan, participation)."),
    participant: list[str] = typer.Option(
        [],
        "--participant",
        help="Who else took part in making it (repeatable): a staff id (or `staff:ID`), "
        "a circle member (`member-N` or `circle:member-N`); added to the file's.",
    ),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Draft or revise the plan with the client (and who else took part in making it)."""
    from cases import commands as c

    drafted = read_structured(file, c.PlanInput, as_json).model_dump(mode="json")
    if participant:
        _client, people = participants(participant, as_json, "--participant")
        for key in ("staff", "circle"):
            drafted["participants"][key] = [*drafted["participants"][key], *people[key]]
    command(case_id, "draft_plan", {"plan": drafted}, as_json, if_version)


@case_app.command("submit")
def submit(
    case_id: str,
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Submit the draft plan for a supervisor's approval."""
    command(case_id, "submit_plan", {"note": note}, as_json, if_version)


@case_app.command("approve")
def approve(
    case_id: str,
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Approve the submitted plan (a supervisor of the case's team, not its author)."""
    body = {"kind": ApprovalKind.PLAN.value, "approve": True, "note": note}
    command(case_id, "decide_approval", body, as_json, if_version)


@case_app.command("return")
def return_(
    case_id: str,
    reason: list[str] = typer.Option(..., "--reason", help="Why (repeatable)."),
    closure: bool = typer.Option(False, help="Return a closure request instead of a plan."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Return the submitted plan (or closure request) with reasons."""
    kind = ApprovalKind.CLOSURE if closure else ApprovalKind.PLAN
    body = {"kind": kind.value, "approve": False, "reasons": reason}
    command(case_id, "decide_approval", body, as_json, if_version)


# --- coordination -------------------------------------------------------------------------


@case_app.command("refer")
def refer(
    case_id: str,
    provider: str = typer.Option(..., help="Provider id from the resource directory."),
    service: str = typer.Option(..., help="The provider's service id."),
    goal: str = typer.Option(..., help="The goal of the active plan it serves."),
    share: list[SharedField] = typer.Option([], "--share", help="A field to share (consented)."),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Refer the client to a provider's service; it is dispatched to the provider."""
    staff_drive(
        "POST",
        api_path("/api/v1/cases/{}/referrals", case_id),
        as_json=as_json,
        body={
            "provider": provider,
            "service": service,
            "goal": goal,
            "shared_fields": [s.value for s in share],
            "note": note,
        },
        headers={"If-Match": "*" if if_version is None else f'"{if_version}"'},
    )


@case_app.command("provider-report")
def provider_report(
    case_id: str,
    referral_id: str,
    report: str = typer.Option(..., help="What the provider reported."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a provider's report on a referral (progress, attendance, outcome)."""
    body = {"referral_id": referral_id, "report": report}
    command(case_id, "provider_report", body, as_json, if_version)


@case_app.command("referral-reply")
def referral_reply(
    case_id: str,
    referral_id: str,
    outcome: str = typer.Option(..., help="accepted | declined | completed"),
    reason: str | None = typer.Option(None, help="Why it was declined."),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a provider's reply to a referral."""
    body = {"referral_id": referral_id, "outcome": outcome, "reason": reason, "note": note}
    command(case_id, "referral_reply", body, as_json, if_version)


@case_app.command("withdraw-referral")
def withdraw_referral(
    case_id: str,
    referral_id: str,
    reason: str = typer.Option(..., help="Why it is withdrawn (kept with the client's data)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Withdraw a referral the provider has not completed; the provider is told."""
    body = {"referral_id": referral_id, "reason": reason}
    command(case_id, "withdraw_referral", body, as_json, if_version)


@case_app.command("language")
def client_language(
    case_id: str,
    language: str | None = typer.Argument(
        None, help="The client's preferred language, a BCP 47 tag (es, pt-BR, ar); none: not known."
    ),
    interpreter: bool = typer.Option(
        False, "--interpreter/--no-interpreter", help="Whether the client needs an interpreter."
    ),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record the client's preferred language and whether they need an interpreter
    (both replace what the case held)."""
    body = {"preferred_language": language, "interpreter_needed": interpreter}
    command(case_id, "record_client_language", body, as_json, if_version)


# --- monitoring -----------------------------------------------------------------------------


@case_app.command("contact")
def contact(
    case_id: str,
    kind: ContactKind = typer.Option(..., help="home_visit | phone | office | outreach"),
    on: str | None = typer.Option(
        None, "--date", help="YYYY-MM-DD (default: today, in UTC like the case's dates)"
    ),
    minutes: int = 0,
    notes: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Log a contact with the client."""
    body = {
        "kind": kind.value,
        "contact_date": on or datetime.now(UTC).date().isoformat(),
        "duration_minutes": minutes,
        "notes": notes,
    }
    command(case_id, "log_contact", body, as_json, if_version)


@case_app.command("progress")
def progress(
    case_id: str,
    goal: str = typer.Option(...),
    status: GoalStatus = typer.Option(...),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record progress on a goal of the active plan."""
    body = {"goal_id": goal, "status": status.value, "note": note}
    command(case_id, "record_progress", body, as_json, if_version)


@case_app.command("evaluate")
def evaluate(
    case_id: str,
    file: Path = typer.Argument(..., help="evaluations (goal_id, outcome, reason) and next_step"),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Evaluate every goal of the active plan: met, partly met, not met and why."""
    command(case_id, "evaluate", read_object(file, as_json), as_json, if_version)


# --- assignment and transfer ------------------------------------------------------------------


@case_app.command("assign")
def assign(
    case_id: str,
    worker: str = typer.Option(...),
    reason: str = typer.Option(...),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Assign the case to another worker of its team (a supervisor, at once)."""
    command(case_id, "assign", {"assignee": worker, "reason": reason}, as_json, if_version)


@case_app.command("transfer")
def transfer(
    case_id: str,
    team: str = typer.Option(..., help="The receiving team."),
    worker: str | None = typer.Option(None, help="The receiving worker, if known."),
    reason: str = typer.Option(...),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask to transfer the case to another worker or team."""
    body = {"to_team": team, "to_worker": worker, "reason": reason}
    command(case_id, "request_transfer", body, as_json, if_version)


@case_app.command("transfer-reply")
def transfer_reply(
    case_id: str,
    accept: bool = typer.Option(..., "--accept/--reject"),
    reason: str | None = None,
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Accept or reject the pending transfer (the receiving worker or supervisor)."""
    command(case_id, "reply_transfer", {"accept": accept, "reason": reason}, as_json, if_version)


# --- closure ------------------------------------------------------------------------------------


@case_app.command("close")
def close(
    case_id: str,
    reason: ClosureReason = typer.Option(...),
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask to close the case; a supervisor approves with `case approve-closure`."""
    body = {"reason": reason.value, "note": note}
    command(case_id, "request_closure", body, as_json, if_version)


@case_app.command("approve-closure")
def approve_closure(
    case_id: str,
    note: str = "",
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Approve the closure request: the case closes."""
    body = {"kind": ApprovalKind.CLOSURE.value, "approve": True, "note": note}
    command(case_id, "decide_approval", body, as_json, if_version)


@case_app.command("hold")
def hold(
    case_id: str,
    reason: str = typer.Option(..., help="Why (the client is in hospital, for example)."),
    until: str = typer.Option(..., help="When the hold ends: YYYY-MM-DD or an ISO time."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Put the case on hold: the review clock pauses until the date."""
    command(case_id, "hold", {"reason": reason, "until": _aware(until)}, as_json, if_version)


@case_app.command("resume")
def resume(
    case_id: str,
    reason: str = typer.Option(...),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """End a hold early: the review clock resumes."""
    command(case_id, "resume", {"reason": reason}, as_json, if_version)


def _aware(text: str) -> str:
    """A date alone means midnight UTC; a time without a zone is UTC."""
    if len(text) == 10:
        return f"{text}T00:00:00+00:00"
    if text.endswith("Z") or "+" in text[10:] or text[10:].count("-"):
        return text
    return f"{text}+00:00"


@case_app.command("reopen")
def reopen(
    case_id: str,
    reason: str = typer.Option(...),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Reopen a closed case."""
    command(case_id, "reopen", {"reason": reason}, as_json, if_version)


@case_app.command("note")
def note(
    case_id: str,
    text: str = typer.Option(..., "--text", help="The note (anyone of the case's team may)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a free-text case note (kept as personal data, shown in the case's history)."""
    command(case_id, "record_note", {"text": text}, as_json, if_version)


# --- reading --------------------------------------------------------------------------------------


@case_app.command("show")
def show(
    case_id: str,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The case as its workflow holds it (the read is recorded in the access log)."""
    staff_drive(
        "GET",
        api_path("/api/v1/cases/{}", case_id),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
    )


@case_app.command("history")
def history(
    case_id: str,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The case's event log: every step, who did it and when (recorded in the access log)."""

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table(
            _("v"),
            _("when"),
            _("event"),
            _("by"),
            _("role"),
            title=_("case %(case)s", case=case_id),
        )
        for r in rows:
            table.add_row(str(r["version"]), r["occurred_at"], r["type"], r["actor"], r["role"])
        console.print(table)

    staff_drive(
        "GET",
        api_path("/api/v1/cases/{}/history", case_id),
        as_json=as_json,
        headers=read_headers(reason, break_glass),
        render=render,
    )
