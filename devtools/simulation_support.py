"""Steps of a simulated case around its client (devtools/simulation.py): the circle of
support, case conferences, plan actions, advocacy, and the client's feedback. Their
personal data names `CLIENT_NAME`, which no read model may contain. `STEPS` maps each
step's name to the function taking it.
"""

from __future__ import annotations

from datetime import timedelta

from devtools.simulation_state import (
    CLIENT_NAME,
    PROVIDERS,
    CaseState,
    Chooser,
    EmitFn,
    supervisor_of,
)
from events.vocabulary import (
    ActionAdded,
    ActionCompleted,
    ActionDropped,
    ActionOverdue,
    ActionOwner,
    ActionOwnerKind,
    ActionReassigned,
    ActionReminderDue,
    AdvocacyAction,
    AdvocacyBarrier,
    AdvocacyConcluded,
    AdvocacyFollowUpDue,
    AdvocacyOpened,
    AdvocacyOutcome,
    AdvocacyStepRecorded,
    CaseConferenceRecorded,
    CircleConsentRecorded,
    CircleMemberAdded,
    CircleMemberDetails,
    CircleMemberRemoved,
    CircleMemberUpdated,
    CircleRole,
    CircleShare,
    ClientContact,
    ClientFeedbackRecorded,
    ConsentGiver,
    FeedbackSubject,
    Participants,
    SharedWithCircleMember,
)


def _step_circle(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    """The circle of support: a member added, or one updated, removed, consented for or
    shared with (their details are the client's personal data: never in a read model)."""
    details = CircleMemberDetails(
        name=f"Sister of {CLIENT_NAME}",
        relationship="sister",
        contact=ClientContact(phone="555-0199"),
        notes=f"{CLIENT_NAME} asked us to call her",
    )
    op = c.choice(["add", "update", "remove", "consent", "share"] if s.circle else ["add"])
    if op == "add":
        s.circle_added += 1
        member_id = f"member-{s.circle_added}"
        s.circle.append(member_id)
        emit(
            CircleMemberAdded(member_id=member_id, role=c.choice(list(CircleRole)), details=details)
        )
        return
    member_id = c.choice(s.circle)
    if op == "update":
        emit(
            CircleMemberUpdated(
                member_id=member_id, role=c.choice(list(CircleRole)), details=details
            )
        )
    elif op == "remove":
        s.circle.remove(member_id)
        emit(CircleMemberRemoved(member_id=member_id, reason="moved away"))
    elif op == "consent":
        shared = [x for x in CircleShare if c.integer(0, 1)]
        emit(CircleConsentRecorded(member_id=member_id, shared=shared, note=CLIENT_NAME))
    else:
        emit(SharedWithCircleMember(member_id=member_id, items=[CircleShare.PLAN]))


def _step_conference(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    s.conferences += 1
    emit(
        CaseConferenceRecorded(
            conference_id=f"conference-{s.conferences}",
            held_on=s.clock.date(),
            client_attended=bool(c.integer(0, 1)),
            participants=Participants(
                staff=[s.worker, supervisor_of(s.team)][: c.integer(1, 2)],
                circle=[m for m in s.circle if c.integer(0, 1)],
            ),
            decisions=[f"{CLIENT_NAME} moves in with her sister"][: c.integer(0, 1)],
            notes=f"{CLIENT_NAME} chaired it",
        )
    )


def _step_action(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    """A plan action added, or one of the open ones reminded of, overdue, done, dropped or
    handed to someone else (descriptions and owners' names are personal)."""
    live = sorted(a for a, status in s.actions.items() if status in ("open", "overdue"))
    op = c.choice(["add", "remind", "overdue", "done", "drop", "reassign"] if live else ["add"])
    due = s.clock + timedelta(days=c.integer(1, 30))
    if op == "add":
        action_id = f"action-{len(s.actions) + 1}"
        s.actions[action_id] = "open"
        owner = ActionOwner(kind=ActionOwnerKind.FAMILY, name=f"Sister of {CLIENT_NAME}")
        emit(
            ActionAdded(
                action_id=action_id,
                goal_id=c.choice(s.plan_goals),
                description=f"{CLIENT_NAME} brings her papers",
                owner=owner,
                due_at=due,
                crisis_plan=bool(c.integer(0, 1)),
            )
        )
        return
    action_id = c.choice(live)
    if op == "remind":
        emit(ActionReminderDue(action_id=action_id, due_at=due, worker=s.worker), "casework")
    elif op == "overdue":
        s.actions[action_id] = "overdue"
        emit(ActionOverdue(action_id=action_id, due_at=s.clock, worker=s.worker), "casework")
    elif op == "done":
        late = s.actions[action_id] == "overdue"
        s.actions[action_id] = "done"
        emit(ActionCompleted(action_id=action_id, late=late, note=f"{CLIENT_NAME} did it"))
    elif op == "drop":
        s.actions[action_id] = "dropped"
        emit(ActionDropped(action_id=action_id, reason=f"{CLIENT_NAME} moved"))
    else:
        s.actions[action_id] = "open"
        emit(
            ActionReassigned(
                action_id=action_id,
                owner=ActionOwner(kind=ActionOwnerKind.CLIENT),
                due_at=due,
                reason=f"{CLIENT_NAME} will do it herself",
            )
        )


def _step_advocacy(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    """Advocacy opened, or an open one followed up, taken a step further or concluded."""
    op = c.choice(["open", "follow_up", "step", "conclude"] if s.advocacies else ["open"])
    next_date = (s.clock + timedelta(days=c.integer(1, 30))).date()
    if op == "open":
        s.advocacies_opened += 1
        advocacy_id = f"advocacy-{s.advocacies_opened}"
        s.advocacies[advocacy_id] = 1
        emit(
            AdvocacyOpened(
                advocacy_id=advocacy_id,
                barrier=c.choice(list(AdvocacyBarrier)),
                organisation="Benefits office",
                action=c.choice(list(AdvocacyAction)),
                consent_by=ConsentGiver.CLIENT,
                details=f"{CLIENT_NAME}'s benefit stopped",
                next_step=f"Call back about {CLIENT_NAME}",
                next_step_date=next_date,
            )
        )
        return
    advocacy_id = c.choice(sorted(s.advocacies))
    step = s.advocacies[advocacy_id]
    if op == "follow_up":
        emit(
            AdvocacyFollowUpDue(advocacy_id=advocacy_id, step=step, next_step_date=next_date),
            "casework",
        )
    elif op == "step":
        s.advocacies[advocacy_id] = step + 1
        emit(
            AdvocacyStepRecorded(
                advocacy_id=advocacy_id,
                step=step + 1,
                action=AdvocacyAction.APPEAL,
                note=f"Appeal for {CLIENT_NAME}",
                next_step="Tribunal",
                next_step_date=next_date,
            )
        )
    else:
        del s.advocacies[advocacy_id]
        emit(
            AdvocacyConcluded(
                advocacy_id=advocacy_id,
                outcome=c.choice(list(AdvocacyOutcome)),
                note=f"{CLIENT_NAME} won",
            )
        )


def _step_feedback(s: CaseState, c: Chooser, emit: EmitFn) -> None:
    """The client's rating of a service, or of the plan when there is one."""
    s.feedback += 1
    words = f"{CLIENT_NAME} says they were kind"
    if s.plan_version and c.integer(0, 1):
        emit(
            ClientFeedbackRecorded(
                feedback_id=f"feedback-{s.feedback}",
                subject=FeedbackSubject.PLAN,
                plan_id=s.plan_id,
                plan_version=s.plan_version,
                rating=c.integer(1, 5),
                words=words,
                agrees_with_plan=bool(c.integer(0, 1)),
            )
        )
        return
    emit(
        ClientFeedbackRecorded(
            feedback_id=f"feedback-{s.feedback}",
            subject=FeedbackSubject.SERVICE,
            provider_id=c.choice(PROVIDERS),
            service_id="service-1",
            rating=c.integer(1, 5),
            words=words,
        )
    )


STEPS = {
    "circle": _step_circle,
    "conference": _step_conference,
    "action": _step_action,
    "advocacy": _step_advocacy,
    "feedback": _step_feedback,
}
