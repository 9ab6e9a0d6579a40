"""A provider's signed reply: `POST /api/v1/providers/<provider_id>/replies`.

No session, no token: the Standard Webhooks signature made with one of the provider's
live secrets (application/webhook_secrets.py) is the credential. In this order, the
first failure refusing the request with nothing written but its log row:

1. the provider is known and active in the resource directory ("unknown_provider", 401);
2. the ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers are there
   ("missing", 401);
3. the timestamp is within `webhook_tolerance` of our clock ("stale" / "future", 401);
4. a signature was made with one of the provider's secrets live now ("bad_signature",
   401; a revoked or retired secret is not live);
5. the webhook-id was never seen from this provider (remembered in
   `provider_webhook_seen`; "replayed", 409: a provider that lost our answer and
   retries learns its reply was received);
6. the body is a reply (`ProviderReply`: "invalid_body", 422 naming the field);
7. the case's own command, exactly as the portal sends it (`referral_reply` or
   `provider_report`), as the provider (`Actor(webhook@<provider>, provider)`) with the
   webhook-id as idempotency key: another provider's referral is "not_found" (404), a
   rule of the case refuses with "refused" (422).

Every request leaves one row in the append-only `provider_webhook_log` (outcome,
reason, ids; never the body) and a structlog line; an accepted one also an access-log
entry with `auth_method` 'webhook' and the webhook-id as credential.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from application import access_log, case_commands, request_context
from application.bootstrap import Casework
from application.webhook_secrets import provider_live_secrets
from cases.actors import Actor, Role
from directory import load_resource_directory
from events.fields import Identifier, LongText, ShortText
from infrastructure.webhook_signatures import SignatureRefused, verify

MAX_BODY_BYTES: Final = 64 * 1024
"""A reply longer than this is refused (413) before it is read further."""

log = structlog.get_logger("casework.provider_webhooks")

ReplyType = Literal[
    "referral.accepted", "referral.declined", "referral.progress", "referral.completed"
]


class ProviderReply(BaseModel):
    """What a provider POSTs: the referral it is about and what became of it.

    ``{"type": "referral.accepted" | "referral.declined" | "referral.progress" |
    "referral.completed", "case_id", "referral_id", "reason"?, "note"?, "report"?}``:
    `reason` is required to decline, `report` for progress."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ReplyType
    case_id: uuid.UUID
    referral_id: Identifier
    reason: ShortText | None = None
    note: LongText = ""
    report: LongText | None = None

    @model_validator(mode="after")
    def _needs(self) -> ProviderReply:
        if self.type == "referral.declined" and not self.reason:
            raise ValueError("reason: required to decline a referral")
        if self.type == "referral.progress" and not self.report:
            raise ValueError("report: required for a progress report")
        if self.type != "referral.progress" and self.report is not None:
            raise ValueError("report: only a progress report has one")
        return self

    def command(self) -> tuple[str, dict[str, Any]]:
        """The case command (update name, fields) the portal sends for the same act."""
        if self.type == "referral.progress":
            return "provider_report", {"referral_id": self.referral_id, "report": self.report}
        data: dict[str, Any] = {
            "referral_id": self.referral_id,
            "outcome": self.type.removeprefix("referral."),
            "note": self.note,
        }
        if self.reason is not None:
            data["reason"] = self.reason
        return "referral_reply", data


@dataclass(frozen=True)
class Accepted:
    webhook_id: str
    case_id: str
    referral_id: str
    update: str
    version: int | None = None


@dataclass(frozen=True)
class Refused:
    """Why a reply was refused: an HTTP status, a short reason, the fields named."""

    status: int
    reason: str
    detail: str
    errors: list[tuple[str, str]] = field(default_factory=list)


Outcome = Accepted | Refused


def webhook_actor(provider_id: str) -> Actor:
    """Who acts when a provider's signed reply does: the provider, by its organisation."""
    return Actor(staff_id=f"webhook@{provider_id}", role=Role.PROVIDER, provider_id=provider_id)


async def _log(
    app: Casework,
    *,
    now: datetime,
    provider_id: str,
    webhook_id: str | None,
    outcome: Literal["accepted", "refused"],
    reason: str,
    case_id: str | None = None,
    referral_id: str | None = None,
) -> None:
    context = request_context.current()
    await app.pool.execute(
        """INSERT INTO provider_webhook_log (received_at, provider_id, webhook_id, outcome,
               reason, case_id, referral_id, client_address)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        now,
        provider_id[:200],
        webhook_id[:200] if webhook_id else None,
        outcome,
        reason,
        case_id,
        referral_id,
        context.client_address,
    )
    (log.info if outcome == "accepted" else log.warning)(
        "provider reply " + outcome,
        provider_id=provider_id[:200],
        webhook_id=webhook_id[:200] if webhook_id else None,
        reason=reason,
        case_id=case_id,
        referral_id=referral_id,
    )


async def receive_reply(
    app: Casework,
    provider_id: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
) -> Outcome:
    """Check and act on one signed reply (the module's steps); what came of it."""
    lowered = {key.lower(): value for key, value in headers.items()}
    claimed_id = (lowered.get("webhook-id") or "").strip()[:200] or None

    async def refuse(
        status: int,
        reason: str,
        detail: str,
        *,
        webhook_id: str | None = claimed_id,
        case_id: str | None = None,
        referral_id: str | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> Refused:
        await _log(
            app, now=now, provider_id=provider_id, webhook_id=webhook_id, outcome="refused",
            reason=reason, case_id=case_id, referral_id=referral_id,
        )  # fmt: skip
        return Refused(status, reason, detail, errors=errors or [])

    directory = await load_resource_directory(app.store)
    try:
        directory.provider(provider_id)
        actor = webhook_actor(provider_id)
    except (LookupError, ValueError):
        return await refuse(401, "unknown_provider", "no active provider of that id")
    tolerance = timedelta(seconds=app.settings.webhook_tolerance)
    try:
        verified = verify(
            await provider_live_secrets(app, provider_id, now),
            lowered,
            body,
            now=now,
            tolerance=tolerance,
        )
    except SignatureRefused as exc:
        return await refuse(401, exc.reason, _SIGNATURE_DETAILS[exc.reason])
    webhook_id = verified.msg_id[:200]
    first = await app.pool.fetchval(
        """INSERT INTO provider_webhook_seen (provider_id, webhook_id, received_at)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING webhook_id""",
        provider_id,
        webhook_id,
        now,
    )
    if first is None:
        return await refuse(
            409, "replayed", "this webhook-id was received before", webhook_id=webhook_id
        )
    try:
        reply = ProviderReply.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        return await refuse(
            422, "invalid_body", "the body is not a reply", webhook_id=webhook_id,
            errors=_body_problems(exc),
        )  # fmt: skip
    case_id, referral_id = str(reply.case_id), reply.referral_id
    update, data = reply.command()

    async def refuse_about(
        status: int, reason: str, detail: str, errors: list[tuple[str, str]] | None = None
    ) -> Refused:
        return await refuse(
            status, reason, detail, webhook_id=webhook_id, case_id=case_id,
            referral_id=referral_id, errors=errors,
        )  # fmt: skip

    request_context.authenticated("webhook", webhook_id)
    try:
        result = await case_commands.send(
            app, actor, case_id, update, data, expected_version=None, idempotency_key=webhook_id
        )
    except Exception:
        # Not refused, not done (Temporal or the database failed): forget the id so the
        # provider's retry of the same request is not taken for a replay.
        await app.pool.execute(
            "DELETE FROM provider_webhook_seen WHERE provider_id = $1 AND webhook_id = $2",
            provider_id,
            webhook_id,
        )
        raise
    match result:
        case case_commands.NotFound() | case_commands.NotPermitted():
            return await refuse_about(404, "not_found", "no such referral of yours")
        case case_commands.Invalid(error=error):
            return await refuse_about(
                422, "invalid_body", "the body is not a reply", _body_problems(error)
            )
        case case_commands.Rejected(text=text) | case_commands.RuleRefused(reason=text):
            return await refuse_about(422, "refused", text)
        case (
            case_commands.IdempotencyMismatch(reason=text)
            | case_commands.VersionConflict(reason=text)
        ):
            return await refuse_about(409, "conflict", text)
    await access_log.record(app.pool, actor, case_id, f"webhook {update}")
    await _log(
        app, now=now, provider_id=provider_id, webhook_id=webhook_id, outcome="accepted",
        reason=reply.type, case_id=case_id, referral_id=referral_id,
    )  # fmt: skip
    return Accepted(
        webhook_id=webhook_id,
        case_id=case_id,
        referral_id=referral_id,
        update=update,
        version=result.stream_version,
    )


_SIGNATURE_DETAILS: Final[dict[str, str]] = {
    "missing": "send the webhook-id, webhook-timestamp and webhook-signature headers",
    "stale": "the webhook-timestamp is too old",
    "future": "the webhook-timestamp is in the future",
    "bad_signature": "no signature matches a live secret of the provider",
}


def _body_problems(exc: Exception) -> list[tuple[str, str]]:
    if isinstance(exc, ValidationError):
        found = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            named, sep, rest = message.partition(": ")
            if not where and sep and named.isidentifier():
                where, message = named, rest
            found.append((where or "body", message))
        return found
    return [("body", "must be a JSON object")]
