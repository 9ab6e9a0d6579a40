"""The case workflow's commands: one Update per entry of the command table
(cases/command_table.py), each a thin alias of ONE generic handler (`execute_command`) and
ONE generic validator (`validate_command`) that dispatch through the table.

The validator runs the pure rule (cases/decide.py) on the current state and rejects
before anything enters history; the handler decides again under the case lock and
commits the command's events (workflows/case/commit.py), then does what the entry asks
(a score first, a referral to dispatch, a policy to adopt).

`table_updates` makes the Updates when the class is defined, from the table: a command
added to the table needs no edit here, and every worker registers the same Updates.

Deterministic: no I/O, no wall clock, no randomness here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.case.core import CaseCore, CommandResult, DispatchJob
from workflows.case.patches import PATCH_NEWEST_POLICY_STAYS

with workflow.unsafe.imports_passed_through():
    from activities.assessment import score_assessment
    from cases import commands as c
    from cases import decide as rules
    from cases.command_table import TABLE, CaseCommand, Decide, entry_for
    from cases.policy import Policy
    from events.registry import DomainEvent
    from events.vocabulary import ReferralMade

if TYPE_CHECKING:
    from temporalio.workflow import UpdateMethodMultiParam

SCORE_TIMEOUT = timedelta(seconds=10)

C = TypeVar("C", bound=c.Command)
W = TypeVar("W", bound=type[Any])


def _rejected(exc: rules.CommandRejected) -> ApplicationError:
    return ApplicationError(str(exc), type="CommandRejected", non_retryable=True)


class CommandsMixin(CaseCore):
    """The one validator and the one handler of every command's Update."""

    def _decide(self, decide: Decide[Any], cmd: c.Command) -> list[DomainEvent]:
        try:
            rules.check_version(self._state(), cmd)
            return decide(self._state(), cmd, workflow.now())
        except rules.VersionConflict as exc:
            raise ApplicationError(
                str(exc), exc.current, type="VersionConflict", non_retryable=True
            ) from None
        except rules.CommandRejected as exc:
            raise _rejected(exc) from None

    def validate_command(self, entry: CaseCommand[Any], cmd: c.Command) -> None:
        """The one validator: the rule on the current state, before the Update is accepted."""
        if self.state is None:
            raise ApplicationError("the case is not open yet", type="CommandRejected")
        self._decide(entry.decide, cmd)
        if entry.adopts_policy is not None:
            self._refuse_older_policy(entry.adopts_policy(cmd))

    def _refuse_older_policy(self, policy: Policy) -> None:
        """A policy older than the case's own arrives late (an apply overtaken by a newer
        one): refused, so the newer stays. The same version again is accepted."""
        if policy.version < self.policy.version:
            raise ApplicationError(
                f"policy version {policy.version} is older than version "
                f"{self.policy.version}, which the case already follows",
                type="CommandRejected",
                non_retryable=True,
            )

    async def execute_command(self, entry: CaseCommand[Any], cmd: c.Command) -> CommandResult:
        """The one handler: decide again under the lock, commit, then what the entry asks."""
        async with self._lock:
            events = self._decide(entry.decide, cmd)
            detail: dict[str, Any] = {}

            again: Callable[[], list[DomainEvent]] = lambda: self._decide(entry.decide, cmd)  # noqa: E731
            if entry.scoring is not None:
                scoring = entry.scoring
                score = await workflow.execute_local_activity(
                    score_assessment,
                    scoring.assessment(cmd),
                    start_to_close_timeout=SCORE_TIMEOUT,
                )
                again = lambda: self._decide(  # noqa: E731
                    lambda s, cmd, _: scoring.decide(s, cmd, score), cmd
                )
                events = again()
                detail = {"risk_level": score.risk_level.value, "rules": score.rules}
            if entry.adopts_policy is not None:
                adopted = entry.adopts_policy(cmd)
                # Two applies in flight: the newer one may have been adopted meanwhile.
                if adopted.version < self.policy.version and self._patched(
                    PATCH_NEWEST_POLICY_STAYS
                ):
                    self._refuse_older_policy(adopted)
                self.policy = adopted
                self._rearm = True
            result, events = await self._commit_events(
                cmd.actor, events, policy_changed=entry.adopts_policy is not None, again=again
            )
            if entry.dispatch_to is not None:
                for event in events:
                    if isinstance(event, ReferralMade):
                        self._queue_dispatch(
                            DispatchJob(
                                referral_id=event.referral_id, channel_url=entry.dispatch_to(cmd)
                            )
                        )
                        detail["referral_id"] = event.referral_id
            result.detail = detail
            return result


def command_update(
    command: type[C],
) -> UpdateMethodMultiParam[[CommandsMixin, C], CommandResult]:
    """The Update that carries `command`: named as in the command table, typed with the
    command's model (payloads are validated against it, naming the field on a refusal),
    handled by `CaseWorkflow.execute_command` and validated by `CaseWorkflow.validate_command`.

    Built when the class is defined, so every worker registers the same Updates.
    """
    entry = entry_for(command)

    async def handler(self: CommandsMixin, cmd: C) -> CommandResult:
        return await self.execute_command(entry, cmd)

    def validator(self: CommandsMixin, cmd: C) -> None:
        self.validate_command(entry, cmd)

    # The SDK reads the argument's type from the annotations: the command's model.
    handler.__annotations__ = {"cmd": command, "return": CommandResult}
    validator.__annotations__ = {"cmd": command, "return": None}
    handler.__name__ = entry.update
    handler.__qualname__ = f"CaseWorkflow.{entry.update}"
    validator.__name__ = f"validate_{entry.update}"
    validator.__qualname__ = f"CaseWorkflow.validate_{entry.update}"
    handler.__doc__ = command.__doc__ or f"Carry a {command.__name__} command."
    update = workflow.update(handler)  # named after handler.__name__: the Update's name
    update.validator(validator)
    return update


def table_updates(cls: W) -> W:
    """Give the workflow class every command of the table as an Update, under its Update
    name (kept for good: running cases and clients use it), in the table's order. Applied
    beneath `@workflow.defn`, which then registers them."""
    for entry in TABLE:
        if hasattr(cls, entry.update):
            raise TypeError(f"{cls.__name__}.{entry.update} is both a method and a command")
        setattr(cls, entry.update, command_update(entry.command))
    return cls
