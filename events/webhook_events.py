"""Events of providers' webhook signing secrets (docs/providers.md, "Signed webhooks").

Each provider's secrets have a stream of their own, `webhook-secrets-<provider_id>`:
a secret issued, replaced by a rotation (the old one retiring after the overlap), or
revoked. The events name the secret by its id only: the secret itself lives sealed in
`provider_webhook_secrets` (activities/migrations/0003) and is shown once to the admin
who made it. No event here carries anything of a client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from events.fields import Identifier
from events.registry import DomainEvent

WEBHOOK_SECRETS_STREAM_PREFIX: Final = "webhook-secrets-"


def webhook_secrets_stream(provider_id: str) -> str:
    """The stream of `provider_id`'s signing secrets."""
    return f"{WEBHOOK_SECRETS_STREAM_PREFIX}{provider_id}"


_SecretId = Field(min_length=1, max_length=100, pattern=r"^whs-[0-9a-f]{16}$")


class ProviderWebhookSecretIssued(DomainEvent):
    """A provider's first signing secret (or one issued after all were revoked)."""

    type: Literal["ProviderWebhookSecretIssued"] = "ProviderWebhookSecretIssued"
    provider_id: Identifier
    secret_id: str = _SecretId


class ProviderWebhookSecretRotated(DomainEvent):
    """A new secret replaces the live ones, which stay valid until `retires_at`."""

    type: Literal["ProviderWebhookSecretRotated"] = "ProviderWebhookSecretRotated"
    provider_id: Identifier
    secret_id: str = _SecretId
    """The new secret."""
    retiring: list[str] = Field(default_factory=list, max_length=20)
    """The secret ids it replaces."""
    retires_at: datetime
    """When the replaced secrets stop being accepted and used."""


class ProviderWebhookSecretRevoked(DomainEvent):
    """Every secret of the provider stops at once (a leaked secret); none is live after."""

    type: Literal["ProviderWebhookSecretRevoked"] = "ProviderWebhookSecretRevoked"
    provider_id: Identifier
    secret_ids: list[str] = Field(min_length=1, max_length=50)


WEBHOOK_EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    ProviderWebhookSecretIssued,
    ProviderWebhookSecretRotated,
    ProviderWebhookSecretRevoked,
)
