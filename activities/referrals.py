"""The referral dispatch activity: send a referral to a provider's webhook.

The workflow decides *what* is sent (only the fields the client consented to share,
already filtered) and the idempotency key; this activity makes one HTTP attempt per
activity attempt through `activities.webhooks.post_json`, and Temporal's retry
policy does the retrying. The workflow caller sets the policy; `RETRY_POLICY` and
`START_TO_CLOSE_TIMEOUT` below are the recommended values::

    receipt = await workflow.execute_activity(
        "dispatch_referral",
        ReferralDispatch(...),
        result_type=DispatchReceipt,
        start_to_close_timeout=START_TO_CLOSE_TIMEOUT,
        retry_policy=RETRY_POLICY,
    )

Guarantees:

- The same `idempotency_key` goes with every attempt, so a provider that honours
  the key records one referral however often the dispatch is retried (a lost
  acknowledgement, a worker killed mid-request). Use one key per referral, for
  example ``referral_idempotency_key(referral_id)``.
- Timeouts, 408/429/5xx, connection errors and unreadable acknowledgements are
  retried; any other 4xx or a 3xx fails at once with a non-retryable
  ``WebhookRejected`` naming the status (see `activities.webhooks`).
- The payload is never logged and never appears in error messages.

Once retries are exhausted the workflow receives an `ActivityError` whose cause is
the last `ApplicationError`; it should record `ReferralDispatchFailed`.

Signed: with `secrets` (activities/webhook_secrets.py) every request carries the
Standard Webhooks headers, signed with each secret of the provider live at the time of
the attempt (two during a rotation's overlap), ``webhook-id`` = the idempotency key (the
same on every retry). The secrets are looked up here, by `provider_id`, so they never
enter the workflow's history. A provider without a secret is sent unsigned requests.

A referral whose channel is the provider's portal inbox (``…/portal/providers/<id>/inbox``)
is not POSTed anywhere: the provider reads it in the portal (`DispatchReceipt.channel`
is ``portal``), and notices about it likewise stay there.

The provider's *reply* (accepted, declined with a reason, completed) is not part of
this exchange: it comes back later through the portal or a signed
``POST /api/v1/providers/<id>/replies`` (application/provider_webhooks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from yarl import URL

from activities.webhook_secrets import ProviderSecrets
from activities.webhooks import DEFAULT_TIMEOUT, post_json

CHANNEL_WEBHOOK: Final = "webhook"
CHANNEL_PORTAL: Final = "portal"

RETRY_POLICY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
)
"""Recommended: 1 s, 2 s, 4 s … capped at 1 min; 8 attempts span about 2 minutes of
waiting. Non-retryable errors (``WebhookRejected`` and friends) stop it at once."""

START_TO_CLOSE_TIMEOUT: Final = timedelta(seconds=30)
"""Recommended per-attempt limit: longer than the HTTP timeout (`DEFAULT_TIMEOUT`)."""


def referral_idempotency_key(referral_id: str) -> str:
    """The idempotency key for a referral's dispatch: stable across every retry."""
    return f"referral-{referral_id}"


def is_portal_channel(url: str, provider_id: str) -> bool:
    """Whether `url` is `provider_id`'s portal inbox (directory/portal.portal_channel)."""
    return URL(url).path.rstrip("/") == f"/portal/providers/{provider_id}/inbox"


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class ReferralDispatch(BaseModel):
    """What the case workflow asks the activity to send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str = Field(min_length=1, max_length=100)
    referral_id: str = Field(min_length=1, max_length=100)
    provider_id: str = Field(min_length=1, max_length=100)
    service_id: str = Field(min_length=1, max_length=100)
    webhook_url: str = Field(min_length=1, max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict)
    """The fields the client consented to share with this provider, already filtered."""
    idempotency_key: str = Field(min_length=1, max_length=200)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class DispatchReceipt(BaseModel):
    """The provider's acknowledgement that it received the referral."""

    model_config = ConfigDict(frozen=True)

    provider_reference: str | None = None
    """The provider's own reference for the referral, when its acknowledgement gives one."""
    provider_status: str | None = None
    """The `status` field of the acknowledgement (for example ``received``), if any."""
    attempts: int = Field(ge=1)
    """The activity attempt that succeeded (1 when the first try got through)."""
    channel: str = CHANNEL_WEBHOOK


class ProviderNotice(BaseModel):
    """News about a referral the provider already has (a withdrawal, say), POSTed to the
    provider's referral channel: ``{"type", "referral_id", "case_id", "provider_id",
    "at"}``, no personal data, under the key ``<case>:<referral>:<type>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(min_length=1, max_length=100)
    case_id: str = Field(min_length=1, max_length=100)
    referral_id: str = Field(min_length=1, max_length=100)
    provider_id: str = Field(min_length=1, max_length=100)
    at: datetime
    webhook_url: str = Field(min_length=1, max_length=2000)

    @property
    def idempotency_key(self) -> str:
        return f"{self.case_id}:{self.referral_id}:{self.type}"

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"webhook_url"})


def referral_document(dispatch: ReferralDispatch) -> dict[str, Any]:
    """The JSON document a provider receives.

    ``{"referral_id", "case_id", "provider_id", "service_id", "shared": {...}}``:
    the case id is opaque (a uuid, no personal data) so the provider can quote it in
    its reply; ``shared`` holds exactly the consented fields.
    """
    return {
        "referral_id": dispatch.referral_id,
        "case_id": dispatch.case_id,
        "provider_id": dispatch.provider_id,
        "service_id": dispatch.service_id,
        # JSON mode turns dates, UUIDs and enums the caller left in the payload into text.
        "shared": dispatch.model_dump(mode="json", include={"payload"})["payload"],
    }


class ReferralActivities:
    """Referral activities; register `dispatch_referral` on the case worker.

    `session` (optional) is a shared `aiohttp.ClientSession` for connection reuse;
    its owner closes it. `timeout_seconds` is the HTTP timeout of one attempt in seconds.
    `secrets`: the providers' signing secrets (None: every request unsigned); `clock`
    the time of each attempt (its signature's timestamp and which secrets are live).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT,
        secrets: ProviderSecrets | None = None,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.session = session
        self.timeout_seconds = timeout_seconds
        self.secrets = secrets
        self.clock = clock

    async def _signing(self, provider_id: str, at: datetime) -> list[str]:
        if self.secrets is None:
            return []
        return await self.secrets.live(provider_id, at)

    @activity.defn(name="dispatch_referral")
    async def dispatch_referral(self, dispatch: ReferralDispatch) -> DispatchReceipt:
        attempt = activity.info().attempt
        if is_portal_channel(dispatch.webhook_url, dispatch.provider_id):
            return DispatchReceipt(attempts=attempt, channel=CHANNEL_PORTAL)
        at = self.clock()
        try:
            reply = await post_json(
                dispatch.webhook_url,
                referral_document(dispatch),
                idempotency_key=dispatch.idempotency_key,
                timeout_seconds=self.timeout_seconds,
                session=self.session,
                signing=await self._signing(dispatch.provider_id, at),
                signed_at=at,
            )
        except ApplicationError as exc:
            # The attempt number travels with the failure, so the case records how many
            # requests were really made when it gives up.
            raise ApplicationError(
                exc.message,
                {"attempt": attempt},
                type=exc.type,
                non_retryable=exc.non_retryable,
                next_retry_delay=exc.next_retry_delay,
            ) from exc
        body = reply.body if isinstance(reply.body, dict) else {}
        reference = body.get("provider_reference")
        status = body.get("status")
        return DispatchReceipt(
            provider_reference=str(reference)[:200] if reference is not None else None,
            provider_status=str(status)[:100] if status is not None else None,
            attempts=attempt,
            channel=CHANNEL_WEBHOOK,
        )

    @activity.defn(name="tell_provider")
    async def tell_provider(self, notice: ProviderNotice) -> int:
        """POST a notice about a referral to its provider; the attempt that got through."""
        if is_portal_channel(notice.webhook_url, notice.provider_id):
            return activity.info().attempt
        at = self.clock()
        await post_json(
            notice.webhook_url,
            notice.document(),
            idempotency_key=notice.idempotency_key,
            timeout_seconds=self.timeout_seconds,
            session=self.session,
            signing=await self._signing(notice.provider_id, at),
            signed_at=at,
        )
        return activity.info().attempt
