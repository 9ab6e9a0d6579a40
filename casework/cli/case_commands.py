"""`casework case …`: open a case and drive it through its lifecycle.

Every command names the acting staff member with `--as STAFF_ID`, resolved in the
staff directory; structured inputs (assessment, plan, evaluation) are read from a
JSON or YAML file. A rejected command exits 1 with the reason on stderr.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from pydantic import BaseModel
from rich.table import Table

from application import referrals
from application.bootstrap import Casework
from application.case_reads import read_case, read_history
from cases import commands as c
from cases.actors import Actor
from casework.cli.context import (
    AsOption,
    BreakGlassOption,
    JsonOption,
    ReasonOption,
    drive,
)
from casework.cli.output import console, fail
from events.vocabulary import (
    ApprovalKind,
    ClientContact,
    ClientDetails,
    ClosureReason,
    ContactKind,
    GoalStatus,
    ReferralSource,
    SharedField,
)

case_app = typer.Typer(
    help="Open cases and drive them through the lifecycle.", no_args_is_help=True
)

M = TypeVar("M", bound=BaseModel)


def read_structured(path: Path, model: type[M], **extra: Any) -> M:
    """A JSON or YAML file validated as `model` (errors name the field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        fail(f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: {exc}")
    if not isinstance(data, dict):
        fail(f"{path}: expected an object at the top level")
    return model.model_validate({**data, **extra})


def command(
    case_id: str, build: Callable[[Actor], c.Command]
) -> Callable[[Casework, Actor], Awaitable[Any]]:
    async def action(s: Casework, actor: Actor) -> Any:
        return await (await s.cases()).execute(case_id, build(actor))

    return action


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
    details_file: Path | None = typer.Option(None, help="Client details as JSON/YAML instead."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Open a case for a client; prints the new case id."""

    async def action(s: Casework, actor: Actor) -> Any:
        client = (
            read_structured(details_file, ClientDetails)
            if details_file
            else ClientDetails(
                name=name,
                date_of_birth=date.fromisoformat(date_of_birth) if date_of_birth else None,
                contact=ClientContact(phone=phone, email=email, address=address),
            )
        )
        cmd = c.OpenCase(
            actor=actor,
            case_id=uuid.uuid4(),
            client_ref=client_ref,
            client=client,
            referral_source=source,
            referring_agency=referring_agency,
            assignee=await s.actor(worker),
            presenting_needs=need,
        )
        return await (await s.cases()).open(cmd)

    drive(as_json, staff_id, action)


@case_app.command("consent")
def consent(
    case_id: str,
    share: list[SharedField] = typer.Option([], "--share", help="A field the client shares."),
    provider: list[str] = typer.Option([], "--provider", help="A provider it may go to."),
    preferences: str = typer.Option("", help="Confidentiality preferences."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record what the client consents to share, and with which providers."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.RecordConsent(
                actor=a, shared_fields=share, providers=provider, preferences=preferences
            ),
        ),
    )


@case_app.command("assess")
def assess(
    case_id: str,
    file: Path = typer.Argument(..., help="The assessment as JSON or YAML."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a (re)assessment; it is scored into needs and a risk level."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.RecordAssessment(
                actor=a, assessment=read_structured(file, c.AssessmentInput)
            ),
        ),
    )


@case_app.command("plan")
def plan(
    case_id: str,
    file: Path = typer.Argument(..., help="The plan (goals, crisis plan, participation)."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Draft or revise the plan with the client."""
    drive(
        as_json,
        staff_id,
        command(case_id, lambda a: c.DraftPlan(actor=a, plan=read_structured(file, c.PlanInput))),
    )


@case_app.command("submit")
def submit(
    case_id: str, note: str = "", staff_id: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Submit the draft plan for a supervisor's approval."""
    drive(as_json, staff_id, command(case_id, lambda a: c.SubmitPlan(actor=a, note=note)))


@case_app.command("approve")
def approve(
    case_id: str, note: str = "", staff_id: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Approve the submitted plan (a supervisor of the case's team, not its author)."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.DecideApproval(actor=a, kind=ApprovalKind.PLAN, approve=True, note=note),
        ),
    )


@case_app.command("return")
def return_(
    case_id: str,
    reason: list[str] = typer.Option(..., "--reason", help="Why (repeatable)."),
    closure: bool = typer.Option(False, help="Return a closure request instead of a plan."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Return the submitted plan (or closure request) with reasons."""
    kind = ApprovalKind.CLOSURE if closure else ApprovalKind.PLAN
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.DecideApproval(actor=a, kind=kind, approve=False, reasons=reason),
        ),
    )


# --- coordination -------------------------------------------------------------------------


@case_app.command("refer")
def refer(
    case_id: str,
    provider: str = typer.Option(..., help="Provider id from the resource directory."),
    service: str = typer.Option(..., help="The provider's service id."),
    goal: str = typer.Option(..., help="The goal of the active plan it serves."),
    share: list[SharedField] = typer.Option([], "--share", help="A field to share (consented)."),
    note: str = "",
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Refer the client to a provider's service; it is dispatched to the provider."""

    async def action(s: Casework, actor: Actor) -> Any:
        return await referrals.refer(
            s, actor, case_id,
            provider=provider, service=service, goal=goal, shared_fields=share, note=note,
        )  # fmt: skip

    drive(as_json, staff_id, action)


@case_app.command("provider-report")
def provider_report(
    case_id: str,
    referral_id: str,
    report: str = typer.Option(..., help="What the provider reported."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a provider's report on a referral (progress, attendance, outcome)."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.ProviderReport(actor=a, referral_id=referral_id, report=report),
        ),
    )


@case_app.command("referral-reply")
def referral_reply(
    case_id: str,
    referral_id: str,
    outcome: str = typer.Option(..., help="accepted | declined | completed"),
    reason: str | None = typer.Option(None, help="Why it was declined."),
    note: str = "",
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a provider's reply to a referral."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.ReferralReply.model_validate(
                {
                    "actor": a,
                    "referral_id": referral_id,
                    "outcome": outcome,
                    "reason": reason,
                    "note": note,
                }
            ),
        ),
    )


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
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Log a contact with the client."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.LogContact.model_validate(
                {
                    "actor": a,
                    "kind": kind,
                    "contact_date": on or datetime.now(UTC).date().isoformat(),
                    "duration_minutes": minutes,
                    "notes": notes,
                }
            ),
        ),
    )


@case_app.command("progress")
def progress(
    case_id: str,
    goal: str = typer.Option(...),
    status: GoalStatus = typer.Option(...),
    note: str = "",
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Record progress on a goal of the active plan."""
    drive(
        as_json,
        staff_id,
        command(
            case_id, lambda a: c.RecordProgress(actor=a, goal_id=goal, status=status, note=note)
        ),
    )


@case_app.command("evaluate")
def evaluate(
    case_id: str,
    file: Path = typer.Argument(..., help="evaluations (goal_id, outcome, reason) and next_step"),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Evaluate every goal of the active plan: met, partly met, not met and why."""
    drive(
        as_json,
        staff_id,
        command(case_id, lambda a: read_structured(file, c.Evaluate, actor=a.model_dump())),
    )


# --- assignment and transfer ------------------------------------------------------------------


@case_app.command("assign")
def assign(
    case_id: str,
    worker: str = typer.Option(...),
    reason: str = typer.Option(...),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Assign the case to another worker of its team (a supervisor, at once)."""

    async def action(s: Casework, actor: Actor) -> Any:
        cmd = c.Assign(actor=actor, assignee=await s.actor(worker), reason=reason)
        return await (await s.cases()).execute(case_id, cmd)

    drive(as_json, staff_id, action)


@case_app.command("transfer")
def transfer(
    case_id: str,
    team: str = typer.Option(..., help="The receiving team."),
    worker: str | None = typer.Option(None, help="The receiving worker, if known."),
    reason: str = typer.Option(...),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask to transfer the case to another worker or team."""

    async def action(s: Casework, actor: Actor) -> Any:
        to_worker = await s.actor(worker) if worker else None
        cmd = c.RequestTransfer(actor=actor, to_team=team, to_worker=to_worker, reason=reason)
        return await (await s.cases()).execute(case_id, cmd)

    drive(as_json, staff_id, action)


@case_app.command("transfer-reply")
def transfer_reply(
    case_id: str,
    accept: bool = typer.Option(..., "--accept/--reject"),
    reason: str | None = None,
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Accept or reject the pending transfer (the receiving worker or supervisor)."""
    drive(
        as_json,
        staff_id,
        command(case_id, lambda a: c.ReplyTransfer(actor=a, accept=accept, reason=reason)),
    )


# --- closure ------------------------------------------------------------------------------------


@case_app.command("close")
def close(
    case_id: str,
    reason: ClosureReason = typer.Option(...),
    note: str = "",
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask to close the case; a supervisor approves with `case approve-closure`."""
    drive(
        as_json,
        staff_id,
        command(case_id, lambda a: c.RequestClosure(actor=a, reason=reason, note=note)),
    )


@case_app.command("approve-closure")
def approve_closure(
    case_id: str, note: str = "", staff_id: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Approve the closure request: the case closes."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.DecideApproval(actor=a, kind=ApprovalKind.CLOSURE, approve=True, note=note),
        ),
    )


@case_app.command("hold")
def hold(
    case_id: str,
    reason: str = typer.Option(..., help="Why (the client is in hospital, for example)."),
    until: str = typer.Option(..., help="When the hold ends: YYYY-MM-DD or an ISO time."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Put the case on hold: the review clock pauses until the date."""
    drive(
        as_json,
        staff_id,
        command(
            case_id,
            lambda a: c.HoldCase.model_validate(
                {"actor": a, "reason": reason, "until": _aware(until)}
            ),
        ),
    )


@case_app.command("resume")
def resume(
    case_id: str,
    reason: str = typer.Option(...),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """End a hold early: the review clock resumes."""
    drive(as_json, staff_id, command(case_id, lambda a: c.ResumeCase(actor=a, reason=reason)))


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
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Reopen a closed case."""
    drive(as_json, staff_id, command(case_id, lambda a: c.Reopen(actor=a, reason=reason)))


@case_app.command("note")
def note(
    case_id: str,
    text: str = typer.Option(..., "--text", help="The note (anyone of the case's team may)."),
    staff_id: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a free-text case note (kept as personal data, shown in the case's history)."""
    drive(as_json, staff_id, command(case_id, lambda a: c.RecordNote(actor=a, text=text)))


# --- reading --------------------------------------------------------------------------------------


@case_app.command("show")
def show(
    case_id: str,
    staff_id: str = AsOption,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The case as its workflow holds it (the read is recorded in the access log)."""

    async def action(s: Casework, actor: Actor) -> Any:
        return await read_case(s, actor, case_id, reason=reason, break_glass=break_glass)

    drive(as_json, staff_id, action)


@case_app.command("history")
def history(
    case_id: str,
    staff_id: str = AsOption,
    reason: str | None = ReasonOption,
    break_glass: str | None = BreakGlassOption,
    as_json: bool = JsonOption,
) -> None:
    """The case's event log: every step, who did it and when (recorded in the access log)."""

    async def action(s: Casework, actor: Actor) -> Any:
        return await read_history(s, actor, case_id, reason=reason, break_glass=break_glass)

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("v", "when", "event", "by", "role", title=f"case {case_id}")
        for r in rows:
            table.add_row(str(r["version"]), r["occurred_at"], r["type"], r["actor"], r["role"])
        console.print(table)

    drive(as_json, staff_id, action, render=render)
