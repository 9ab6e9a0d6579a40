"""`casework case advocacy …` and `casework case feedback`: advocacy on the client's behalf
and the client's own opinion of services and of their plan (issue 16).

An advocacy records the barrier the client met (a service refused, a benefit denied or
stopped, an eligibility dispute, discrimination, a waiting list, other), the
organisation, what was done on the client's behalf (a request, a complaint, an appeal,
representation at a hearing, an escalation to a manager there), with whose consent, the
next step and its date, and in the end its outcome. While it is open the case follows
its next step up the day after its date (and escalates like an unanswered referral).
Like every case command these are requests to the HTTP API as the signed-in staff
member; a refused command exits 1 with the reason on stderr. The details, the next
step, the consenting person's name and the client's words are personal data.

    casework case advocacy open CASE --barrier benefit_stopped \\
        --organisation "Benefits Office" --action request --consent-by client \\
        --next-step "Reconsideration decision" --next-step-date 2026-12-04
    casework case advocacy step CASE advocacy-1 --action appeal \\
        --next-step "Tribunal hearing" --next-step-date 2027-01-15
    casework case advocacy outcome CASE advocacy-1 --outcome resolved
    casework case feedback CASE --on referral --referral referral-1 --rating 2 \\
        --words "They kept me waiting"
    casework case feedback CASE --on plan --rating 4 --agrees
"""

from __future__ import annotations

from datetime import date
from typing import Any

import typer

from casework.cli.case_commands import IfVersionOption, case_app, command
from casework.cli.choices import (
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyOutcome,
    ConsentGiver,
    FeedbackSubject,
)
from casework.cli.context import JsonOption
from casework.cli.output import fail
from casework.i18n import _

advocacy_app = typer.Typer(
    help="Advocacy on the client's behalf: open, record a step, record the outcome.",
    no_args_is_help=True,
)


def _day(value: str, option: str, as_json: bool) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        fail(
            _("%(option)s: %(value)s is not a date (YYYY-MM-DD)", option=option, value=repr(value)),
            as_json,
            kind="invalid",
            field=option,
        )


@advocacy_app.command("open")
def open_advocacy(
    case_id: str,
    barrier: AdvocacyBarrier = typer.Option(..., help="The barrier the client met."),
    organisation: str = typer.Option(..., help="The organisation (a name, not personal data)."),
    action: AdvocacyAction = typer.Option(..., help="What was done on the client's behalf."),
    consent_by: ConsentGiver = typer.Option(
        ConsentGiver.CLIENT, help="Whose consent the advocacy is done with."
    ),
    consent_name: str | None = typer.Option(
        None, help="Who consented, when not the client (personal data)."
    ),
    details: str = typer.Option("", help="What happened (personal data)."),
    next_step: str = typer.Option(..., help="What happens next (personal data)."),
    next_step_date: str = typer.Option(..., help="By when: YYYY-MM-DD (followed up after it)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Take up a barrier with an organisation on the client's behalf."""
    body: dict[str, Any] = {
        "barrier": barrier.value,
        "organisation": organisation,
        "action": action.value,
        "consent_by": consent_by.value,
        "consent_name": consent_name,
        "details": details,
        "next_step": next_step,
        "next_step_date": _day(next_step_date, "--next-step-date", as_json),
    }
    command(case_id, "open_advocacy", body, as_json, if_version)


@advocacy_app.command("step")
def advocacy_step(
    case_id: str,
    advocacy_id: str,
    action: AdvocacyAction = typer.Option(..., help="What was done (appeal, hearing, …)."),
    note: str = typer.Option("", help="What happened (personal data)."),
    next_step: str = typer.Option(..., help="What happens next (personal data)."),
    next_step_date: str = typer.Option(..., help="By when: YYYY-MM-DD."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record a further step of an open advocacy, and the next one."""
    body = {
        "advocacy_id": advocacy_id,
        "action": action.value,
        "note": note,
        "next_step": next_step,
        "next_step_date": _day(next_step_date, "--next-step-date", as_json),
    }
    command(case_id, "advocacy_step", body, as_json, if_version)


@advocacy_app.command("outcome")
def advocacy_outcome(
    case_id: str,
    advocacy_id: str,
    outcome: AdvocacyOutcome = typer.Option(..., help="How it ended."),
    note: str = typer.Option("", help="What was decided (personal data)."),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record how an advocacy ended (its follow-up stops)."""
    body = {"advocacy_id": advocacy_id, "outcome": outcome.value, "note": note}
    command(case_id, "conclude_advocacy", body, as_json, if_version)


@case_app.command("feedback")
def feedback(
    case_id: str,
    on: FeedbackSubject = typer.Option(..., "--on", help="What the feedback is about."),
    rating: int = typer.Option(..., min=1, max=5, help="1 poor … 5 excellent."),
    words: str = typer.Option("", help="The client's own words (personal data)."),
    referral: str | None = typer.Option(None, "--referral", help="The referral (--on referral)."),
    provider: str | None = typer.Option(None, "--provider", help="Provider id (--on service)."),
    service: str | None = typer.Option(None, "--service", help="Service id (--on service)."),
    agrees: bool | None = typer.Option(
        None, "--agrees/--disagrees", help="Whether the client agrees with the plan (--on plan)."
    ),
    if_version: int | None = IfVersionOption,
    as_json: bool = JsonOption,
) -> None:
    """Record the client's feedback on a service, a referral or their plan."""
    body = {
        "subject": on.value,
        "rating": rating,
        "words": words,
        "referral_id": referral,
        "provider_id": provider,
        "service_id": service,
        "agrees_with_plan": agrees,
    }
    command(case_id, "record_feedback", body, as_json, if_version)
