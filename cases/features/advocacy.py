"""Advocacy (issue 16): the case's worker takes up a barrier with an organisation on the
client's behalf (a benefit stopped, a service refused), with the client's (or a
guardian's or representative's) consent, step by step, each step with a dated next
step, until an outcome. A next step left past its date is followed up: the case's
schedule (cases/schedule.py) raises `AdvocacyFollowUpDue` the day after, then escalates;
a hold pauses it (cases/evolve.py, `CaseResumed`).

The slice: its events (events/vocabulary/advocacy.py), its rules, its folds and its
timeline lines here; its commands' models in cases/commands.py (the API's shared
models); the outcomes read model (projections/outcomes.py) shows it;
`casework case advocacy open|step|outcome` and
`POST /api/v1/cases/{id}/commands/open_advocacy` (`advocacy_step`, `conclude_advocacy`)
send it. The client's feedback is its sibling slice, cases/features/feedback.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from cases import commands as c
from cases.access import Action
from cases.decide import CommandRejected, permit_open
from cases.feature import CaseCommand, Feature, stateful
from cases.said import N_, Said, Word, say
from cases.state import Advocacy, CaseState, FoldError
from events.registry import DomainEvent
from events.vocabulary import (
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyStepRecorded,
    ConsentGiver,
)

# --- rules ---------------------------------------------------------------------------------


def _advocate(state: CaseState, cmd: c.Command, what: str) -> None:
    permit_open(state, cmd, Action.ADVOCACY, what)


def _not_past(day: date, now: datetime, field: str) -> None:
    if day < now.date():
        raise CommandRejected(f"{field}: {day} is in the past (today is {now.date()})")


def _open_advocacy(state: CaseState, advocacy_id: str) -> Advocacy:
    advocacy = state.advocacy.get(advocacy_id)
    if advocacy is None:
        raise CommandRejected(f"advocacy_id: the case has no advocacy {advocacy_id}")
    if not advocacy.is_open:
        raise CommandRejected(f"{advocacy_id} was concluded ({advocacy.outcome})")
    return advocacy


def decide_open_advocacy(state: CaseState, cmd: c.OpenAdvocacy, now: datetime) -> list[DomainEvent]:
    """Take up a barrier on the client's behalf: with consent, and a dated next step."""
    _advocate(state, cmd, "advocacy")
    if cmd.consent_by is not ConsentGiver.CLIENT and not cmd.consent_name:
        raise CommandRejected(
            f"consent_name: name the {cmd.consent_by} who consented to this advocacy"
        )
    _not_past(cmd.next_step_date, now, "next_step_date")
    return [
        AdvocacyOpened(
            advocacy_id=f"advocacy-{len(state.advocacy) + 1}",
            barrier=cmd.barrier,
            organisation=cmd.organisation,
            action=cmd.action,
            consent_by=cmd.consent_by,
            consent_name=cmd.consent_name if cmd.consent_by is not ConsentGiver.CLIENT else None,
            details=cmd.details,
            next_step=cmd.next_step,
            next_step_date=cmd.next_step_date,
        )
    ]


def decide_advocacy_step(
    state: CaseState, cmd: c.RecordAdvocacyStep, now: datetime
) -> list[DomainEvent]:
    _advocate(state, cmd, "an advocacy step")
    advocacy = _open_advocacy(state, cmd.advocacy_id)
    _not_past(cmd.next_step_date, now, "next_step_date")
    return [
        AdvocacyStepRecorded(
            advocacy_id=advocacy.advocacy_id,
            step=advocacy.step + 1,
            action=cmd.action,
            note=cmd.note,
            next_step=cmd.next_step,
            next_step_date=cmd.next_step_date,
        )
    ]


def decide_conclude_advocacy(state: CaseState, cmd: c.ConcludeAdvocacy) -> list[DomainEvent]:
    _advocate(state, cmd, "an advocacy outcome")
    advocacy = _open_advocacy(state, cmd.advocacy_id)
    return [AdvocacyConcluded(advocacy_id=advocacy.advocacy_id, outcome=cmd.outcome, note=cmd.note)]


# --- folds ---------------------------------------------------------------------------------


def follow_up_at(next_step_date: date) -> datetime:
    """When an advocacy's next step is overdue: the start (UTC) of the day after its date."""
    return datetime.combine(next_step_date + timedelta(days=1), time(0), tzinfo=UTC)


def _advocacy(state: CaseState, advocacy_id: str) -> Advocacy:
    try:
        return state.advocacy[advocacy_id]
    except KeyError:
        raise FoldError(f"no advocacy {advocacy_id}") from None


def opened(state: CaseState, event: AdvocacyOpened, actor_id: str, at: datetime) -> None:
    state.advocacy[event.advocacy_id] = Advocacy(
        advocacy_id=event.advocacy_id,
        barrier=event.barrier,
        organisation=event.organisation,
        actions=[event.action],
        consent_by=event.consent_by,
        next_step=event.next_step,
        next_step_date=event.next_step_date,
        follow_up_at=follow_up_at(event.next_step_date),
        opened_at=at,
        opened_by=actor_id,
    )


def step_recorded(
    state: CaseState, event: AdvocacyStepRecorded, actor_id: str, at: datetime
) -> None:
    advocacy = _advocacy(state, event.advocacy_id)
    advocacy.actions.append(event.action)
    advocacy.step = event.step
    advocacy.next_step = event.next_step
    advocacy.next_step_date = event.next_step_date
    advocacy.follow_up_at = follow_up_at(event.next_step_date)
    advocacy.followed_up = False


def concluded(state: CaseState, event: AdvocacyConcluded, actor_id: str, at: datetime) -> None:
    advocacy = _advocacy(state, event.advocacy_id)
    advocacy.outcome = event.outcome
    advocacy.concluded_at = at


def follow_up_due(
    state: CaseState, event: AdvocacyFollowUpDue, actor_id: str, at: datetime
) -> None:
    _advocacy(state, event.advocacy_id).followed_up = True


# --- timeline lines (codes, ids and dates only) ----------------------------------------------


def _opened_line(e: AdvocacyOpened) -> Said:
    return say(
        N_(
            "Advocacy %(advocacy)s opened with %(organisation)s: %(barrier)s, %(action)s "
            "(consent: %(consent)s); next step due %(day)s"
        ),
        advocacy=e.advocacy_id,
        organisation=e.organisation,
        barrier=Word(e.barrier),
        action=Word(e.action),
        consent=Word(e.consent_by),
        day=e.next_step_date.isoformat(),
    )


def _step_line(e: AdvocacyStepRecorded) -> Said:
    return say(
        N_("Advocacy %(advocacy)s step %(step)s: %(action)s; next step due %(day)s"),
        advocacy=e.advocacy_id,
        step=e.step,
        action=Word(e.action),
        day=e.next_step_date.isoformat(),
    )


def _concluded_line(e: AdvocacyConcluded) -> Said:
    return say(
        N_("Advocacy %(advocacy)s concluded: %(outcome)s"),
        advocacy=e.advocacy_id,
        outcome=Word(e.outcome),
    )


def _follow_up_line(e: AdvocacyFollowUpDue) -> Said:
    return say(
        N_("Advocacy %(advocacy)s needs a follow-up: step %(step)s was due %(day)s"),
        advocacy=e.advocacy_id,
        step=e.step,
        day=e.next_step_date.isoformat(),
    )


FEATURE = Feature(
    name="advocacy",
    commands=(
        CaseCommand(
            command=c.OpenAdvocacy,
            update="open_advocacy",
            action=Action.ADVOCACY,
            decide=decide_open_advocacy,
        ),
        CaseCommand(
            command=c.RecordAdvocacyStep,
            update="advocacy_step",
            action=Action.ADVOCACY,
            decide=decide_advocacy_step,
        ),
        CaseCommand(
            command=c.ConcludeAdvocacy,
            update="conclude_advocacy",
            action=Action.ADVOCACY,
            decide=stateful(decide_conclude_advocacy),
        ),
    ),
    folds={
        AdvocacyOpened: opened,
        AdvocacyStepRecorded: step_recorded,
        AdvocacyConcluded: concluded,
        AdvocacyFollowUpDue: follow_up_due,
    },
    timeline={
        AdvocacyOpened: _opened_line,
        AdvocacyStepRecorded: _step_line,
        AdvocacyConcluded: _concluded_line,
        AdvocacyFollowUpDue: _follow_up_line,
    },
)
