"""Providers' webhook signing secrets: issue, rotate (with an overlap), revoke.

Casework signs what it sends a provider (referrals, notices) with the provider's live
secrets, and accepts the provider's signed replies (application/provider_webhooks.py)
made with any of them. An admin issues the first secret, rotates it (the new secret is
used at once beside the old, which retires after `overlap`, 24 hours by default, so the
provider can switch without losing a request) or revokes them all (a leaked secret:
nothing is accepted or signed with it from that moment).

A secret is shown once, in the answer of the call that made it (`IssuedSecret`), like
a personal access token: Casework keeps it sealed with the master key
(activities/webhook_secrets.py) and writes only its id to the log
(events/webhook_events.py). Only admins manage secrets (NotPermitted otherwise); the
provider must be active in the resource directory (NotFound otherwise).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from activities.webhook_secrets import (
    SecretRow,
    live_secrets,
    new_secret_id,
    seal_secret,
    secret_rows,
    store_keyring,
)
from application.bootstrap import Casework
from cases.actors import Actor
from directory import NotFound, Refused, load_resource_directory, require_admin
from events.envelope import EventMetadata
from events.keys import MasterKeyring
from events.registry import DomainEvent
from events.webhook_events import (
    ProviderWebhookSecretIssued,
    ProviderWebhookSecretRevoked,
    ProviderWebhookSecretRotated,
    webhook_secrets_stream,
)
from infrastructure.keys import master_keyring
from infrastructure.webhook_signatures import new_secret

DEFAULT_OVERLAP: Final = timedelta(hours=24)
MAX_OVERLAP: Final = timedelta(days=30)

log = structlog.get_logger("casework.webhook_secrets")


@dataclass(frozen=True)
class IssuedSecret:
    """A new signing secret: `secret` is shown once (Casework keeps it sealed)."""

    provider_id: str
    secret_id: str
    secret: str = field(repr=False)
    created_at: datetime
    retiring: tuple[str, ...] = ()
    """Secret ids that stay live beside it until `retires_at`."""
    retires_at: datetime | None = None


def keyring_of(app: Casework) -> MasterKeyring:
    """The store's master keyring (the one the worker signs with), else the settings'."""
    return store_keyring(app.store) or master_keyring(app.settings)


async def _active_provider(app: Casework, provider_id: str) -> None:
    directory = await load_resource_directory(app.store)
    try:
        directory.provider(provider_id)
    except LookupError:
        raise NotFound(f"provider_id: no active provider {provider_id!r}") from None


async def _append(
    app: Casework, actor: Actor, provider_id: str, event: DomainEvent, now: datetime
) -> None:
    stream = webhook_secrets_stream(provider_id)
    await app.store.append_domain(
        stream,
        await app.store.stream_version(stream),
        [(uuid.uuid4(), event)],
        EventMetadata(actor_id=actor.staff_id, actor_role=actor.role.value),
        now,
    )


async def _lock(conn: Any, provider_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('provider-webhook-secrets'), hashtext($1))",
        provider_id,
    )


async def rotate_secret(
    app: Casework,
    actor: Actor,
    provider_id: str,
    *,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> IssuedSecret:
    """A new secret for `provider_id`, live from `now`; the secrets live until now retire
    at `now + overlap` (0: at once). The provider's first secret when it has none."""
    require_admin(actor, "manage webhook secrets")
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise Refused(f"overlap: must be between 0 and {MAX_OVERLAP.days} days")
    await _active_provider(app, provider_id)
    keyring = keyring_of(app)
    secret, secret_id = new_secret(), new_secret_id()
    key_id, sealed = seal_secret(keyring, provider_id, secret_id, secret)
    retires_at = now + overlap
    async with app.pool.acquire() as conn, conn.transaction():
        await _lock(conn, provider_id)
        live = [row for row in await secret_rows(conn, provider_id) if row.live_at(now)]
        retiring = tuple(row.secret_id for row in live)
        if retiring:
            await conn.execute(
                """UPDATE provider_webhook_secrets SET retires_at = $3
                    WHERE provider_id = $1 AND secret_id = ANY($2::text[])
                      AND (retires_at IS NULL OR retires_at > $3)""",
                provider_id,
                list(retiring),
                retires_at,
            )
        await conn.execute(
            """INSERT INTO provider_webhook_secrets
                   (provider_id, secret_id, key_id, secret_sealed, created_at)
               VALUES ($1, $2, $3, $4, $5)""",
            provider_id,
            secret_id,
            key_id,
            sealed,
            now,
        )
        event: DomainEvent = (
            ProviderWebhookSecretRotated(
                provider_id=provider_id,
                secret_id=secret_id,
                retiring=list(retiring),
                retires_at=retires_at,
            )
            if retiring
            else ProviderWebhookSecretIssued(provider_id=provider_id, secret_id=secret_id)
        )
        await _append(app, actor, provider_id, event, now)
    log.info(
        "webhook secret issued",
        provider_id=provider_id,
        secret_id=secret_id,
        retiring=len(retiring),
        by=actor.staff_id,
    )
    return IssuedSecret(
        provider_id=provider_id,
        secret_id=secret_id,
        secret=secret,
        created_at=now,
        retiring=retiring,
        retires_at=retires_at if retiring else None,
    )


async def issue_secret(
    app: Casework, actor: Actor, provider_id: str, *, now: datetime
) -> IssuedSecret:
    """The provider's first secret; Refused when it has a live one (rotate it instead)."""
    require_admin(actor, "manage webhook secrets")
    if any(row.live_at(now) for row in await secret_rows(app.pool, provider_id)):
        raise Refused(f"provider_id: {provider_id} has a live webhook secret: rotate it")
    return await rotate_secret(app, actor, provider_id, now=now, overlap=timedelta(0))


async def revoke_secret(
    app: Casework, actor: Actor, provider_id: str, *, now: datetime
) -> list[str]:
    """Revoke every live secret of `provider_id` at `now`; their ids. Refused if none."""
    require_admin(actor, "manage webhook secrets")
    async with app.pool.acquire() as conn, conn.transaction():
        await _lock(conn, provider_id)
        live = [row.secret_id for row in await secret_rows(conn, provider_id) if row.live_at(now)]
        if not live:
            raise Refused(f"provider_id: {provider_id} has no live webhook secret")
        await conn.execute(
            """UPDATE provider_webhook_secrets SET revoked_at = $3
                WHERE provider_id = $1 AND secret_id = ANY($2::text[])""",
            provider_id,
            live,
            now,
        )
        revoked = ProviderWebhookSecretRevoked(provider_id=provider_id, secret_ids=live)
        await _append(app, actor, provider_id, revoked, now)
    log.warning("webhook secrets revoked", provider_id=provider_id, count=len(live))
    return live


async def secrets_of(app: Casework, actor: Actor, provider_id: str) -> list[SecretRow]:
    """The provider's secrets, newest first, without their values (admins)."""
    require_admin(actor, "read webhook secrets")
    return await secret_rows(app.pool, provider_id)


async def provider_live_secrets(app: Casework, provider_id: str, at: datetime) -> list[str]:
    """The secrets a signed request of `provider_id` may be made with at `at`."""
    return await live_secrets(app.pool, keyring_of(app), provider_id, at)
