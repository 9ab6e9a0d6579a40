"""The agency's review and escalation policy as use cases: read the one in force, apply a
new version (what `casework policy show` and `casework policy apply` do).

The policy lives in the `policy` stream (`application.policies`): each applied version
is one `PolicyApplied` event, sent to every running case as the `apply_policy` update.
Here, in front of it:

* `policy_in_force` answers the policy with the stream's version, so a caller that
  edits what it read can say which version it edited (`expected_version`, the HTTP
  API's `If-Match`) and is refused with `PolicyChanged` when another version was
  applied meanwhile, before any case is sent anything.
* Only the roles the access table lets change the policy (`Action.POLICY`: managers
  and admins) may apply one: anyone else gets `PolicyRefused`, nothing written.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from application.bootstrap import Casework
from application.policies import POLICY_STREAM, PolicyRefused, apply_policy, policy_and_version
from cases.access import Action, may
from cases.actors import Actor
from cases.policy import Policy

__all__ = ["AppliedPolicy", "PolicyChanged", "PolicyInForce", "apply", "policy_in_force"]


class PolicyChanged(Exception):
    """Another version was applied since the one the caller edited."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"the policy is at version {current} of its stream, not {expected}: "
            "read it again and apply your change to the policy now in force"
        )


DEFAULTS_LABEL = "defaults (no version applied)"
"""How the built-in defaults are named: they are no version of the `policy` stream."""


class PolicyInForce(BaseModel):
    """The policy in force (the defaults until one is applied) and the stream version it
    is at (0: none applied yet), the version to name when applying a change to it.

    `version` is the one to show: 0 for the built-in defaults, else the version the
    policy in force was applied as (the first applied policy is version 1). The
    defaults' own `policy.version` field reads 1 (the model's default, recorded in the
    reviews scheduled under them); it is no applied version, `label` says which it is."""

    policy: Policy
    stream_version: int = Field(ge=0)
    version: int = Field(
        ge=0, description="0: the built-in defaults (no version applied); else the version."
    )
    label: str = Field(description='"defaults (no version applied)" or "version N".')

    @classmethod
    def at(cls, policy: Policy, stream_version: int) -> PolicyInForce:
        return cls(
            policy=policy,
            stream_version=stream_version,
            version=stream_version,
            label=f"version {stream_version}" if stream_version else DEFAULTS_LABEL,
        )


class AppliedPolicy(BaseModel):
    """What applying a policy did: its version, and the running cases it reached."""

    version: int = Field(description="The version the policy was recorded as.")
    cases_updated: int = Field(description="Running cases that took the new policy.")
    cases_failed: list[str] = Field(
        description="Running cases that did not, each with the reason (`case-<id>: …`)."
    )


async def policy_in_force(app: Casework) -> PolicyInForce:
    """Every staff member may read the policy (the CLI's `policy show` asks no role)."""
    return PolicyInForce.at(*await policy_and_version(app.store))


async def apply(
    app: Casework, actor: Actor, policy: Policy, *, expected_version: int | None = None
) -> AppliedPolicy:
    """Record `policy` as the next version and send it to every running case.

    Its `version` is assigned here (the next of the stream). Raises PolicyRefused for a
    role that may not change the policy, PolicyChanged when `expected_version` is given
    and the stream is elsewhere; in both cases nothing is written or sent."""
    if not may(actor, Action.POLICY, team="", assigned_worker=None):
        raise PolicyRefused(f"{actor.staff_id} ({actor.role}) may not change the agency's policy")
    if expected_version is not None:
        current = await app.store.stream_version(POLICY_STREAM)
        if current != expected_version:
            raise PolicyChanged(expected_version, current)
    report = await apply_policy(app.store, (await app.cases()).client, actor, policy)
    return AppliedPolicy(
        version=report.version,
        cases_updated=report.cases_updated,
        cases_failed=list(report.cases_failed),
    )
