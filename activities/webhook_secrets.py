"""Providers' webhook signing secrets: sealed in `provider_webhook_secrets`, opened here.

A secret is sealed like a TOTP secret (application/identity/credentials.py): AES-GCM
with a key derived (HKDF) from the current master key, the provider and secret ids as
associated data, so a row copied to another provider does not open. The row names the
master key, so any configured master key still opens it.

A secret is *live* at `at` when it was created by then and is neither revoked nor
retired by then. The activities sign with every live secret (newest first); the
inbound replies accept a signature made with any of them. Secrets are looked up
inside the activity and never enter workflow history, events or logs.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from events.crypto import FieldCipher
from events.keys import MasterKeyring
from events.store import EventStore

_NONCE_BYTES: Final = 12
_INFO: Final = b"casework/webhook-secret/v1"


class SecretUnreadable(Exception):
    """A sealed secret does not open (its master key is gone, or the row was altered)."""


@dataclass(frozen=True, slots=True)
class SecretRow:
    """What is known of one secret without opening it."""

    provider_id: str
    secret_id: str
    created_at: datetime
    retires_at: datetime | None
    revoked_at: datetime | None

    def live_at(self, at: datetime) -> bool:
        return (
            self.created_at <= at
            and (self.revoked_at is None or at < self.revoked_at)
            and (self.retires_at is None or at < self.retires_at)
        )


def new_secret_id() -> str:
    return f"whs-{uuid.uuid4().hex[:16]}"


def _cipher(keyring: MasterKeyring, key_id: str) -> AESGCM:
    master = keyring.keys.get(key_id)
    if master is None:
        raise SecretUnreadable(
            f"a webhook secret is sealed under master key {key_id!r}, which is not "
            "configured: add it back to CASEWORK_MASTER_KEYS, or rotate the provider's secret"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)
    return AESGCM(derived)


def _aad(provider_id: str, secret_id: str) -> bytes:
    return b"|".join((_INFO, provider_id.encode(), secret_id.encode()))


def seal_secret(
    keyring: MasterKeyring, provider_id: str, secret_id: str, secret: str
) -> tuple[str, bytes]:
    """(master key id, nonce ‖ ciphertext) of `secret`."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(keyring, keyring.current_id).encrypt(
        nonce, secret.encode(), _aad(provider_id, secret_id)
    )
    return keyring.current_id, nonce + sealed


def open_secret(
    keyring: MasterKeyring, provider_id: str, secret_id: str, key_id: str, sealed: bytes
) -> str:
    try:
        plain = _cipher(keyring, key_id).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(provider_id, secret_id)
        )
    except InvalidTag:
        raise SecretUnreadable(
            f"webhook secret {secret_id} of {provider_id} does not open with master key "
            f"{key_id!r}: the row was altered or copied from another provider"
        ) from None
    return plain.decode()


async def secret_rows(pool: asyncpg.Pool | asyncpg.Connection, provider_id: str) -> list[SecretRow]:
    """Every secret of `provider_id`, newest first (nothing opened)."""
    rows = await pool.fetch(
        """SELECT provider_id, secret_id, created_at, retires_at, revoked_at
             FROM provider_webhook_secrets WHERE provider_id = $1
            ORDER BY created_at DESC, secret_id DESC""",
        provider_id,
    )
    return [SecretRow(**dict(row)) for row in rows]


async def live_secrets(
    pool: asyncpg.Pool | asyncpg.Connection,
    keyring: MasterKeyring,
    provider_id: str,
    at: datetime,
) -> list[str]:
    """The secrets of `provider_id` live at `at`, newest first (empty: none issued)."""
    rows = await pool.fetch(
        """SELECT secret_id, key_id, secret_sealed FROM provider_webhook_secrets
            WHERE provider_id = $1 AND created_at <= $2
              AND (revoked_at IS NULL OR revoked_at > $2)
              AND (retires_at IS NULL OR retires_at > $2)
            ORDER BY created_at DESC, secret_id DESC""",
        provider_id,
        at,
    )
    return [
        open_secret(
            keyring, provider_id, row["secret_id"], row["key_id"], bytes(row["secret_sealed"])
        )
        for row in rows
    ]


def store_keyring(store: EventStore) -> MasterKeyring | None:
    """The master keyring the store seals clients' keys with (None: an unsealed store)."""
    return store.cipher.keys.keyring if isinstance(store.cipher, FieldCipher) else None


@dataclass(frozen=True, slots=True)
class ProviderSecrets:
    """The secrets' lookup as the activities hold it: the pool and the master keyring."""

    pool: asyncpg.Pool
    keyring: MasterKeyring

    async def live(self, provider_id: str, at: datetime) -> list[str]:
        return await live_secrets(self.pool, self.keyring, provider_id, at)
