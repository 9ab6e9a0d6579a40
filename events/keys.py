"""Keys for personal data: master keys from settings, and one data key per client.

Envelope encryption
-------------------
* Each client has one random 256-bit AES-GCM *data key* (table `client_keys`), made
  when the first case is opened for them. Personal fields of every event of the
  client's streams are sealed with it (events/crypto.py).
* A data key is stored only *wrapped*: AES-256-GCM under a *master key*, with the
  data key's id and the client's reference as associated data (a wrapped key copied
  to another row does not unwrap). The row names the master key that wrapped it.
* Master keys come from settings (`CASEWORK_MASTER_KEYS="id:base64,id2:base64"`, the
  first one current). New data keys are wrapped with the current one; every listed
  key stays usable for unwrapping, so a master key can be rotated by putting the new
  key first, running `rewrap` (every data key re-wrapped with the current master key)
  and then removing the old one.
* Forgetting a client destroys the wrapped data key (`wrapped_key` set to NULL,
  `destroyed_at` and the reason recorded): from then on their personal fields read
  as erased, while the events, their hashes and the stream versions are untouched.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = structlog.get_logger("casework.keys")

KEY_BYTES = 32
"""Master and data keys are AES-256 keys."""

NONCE_BYTES = 12

MASTER_KEYS_ENV = "CASEWORK_MASTER_KEYS"

DEV_MASTER_KEYS_FILE = Path("keys") / "master.keys"
"""Where (under the data directory) a development master key is kept when none is set."""

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Database = Any
"""An asyncpg Pool or Connection (both have fetch, fetchrow, execute)."""


class CryptoKeyError(RuntimeError):
    """Base of the errors about keys."""


class KeyringError(CryptoKeyError, ValueError):
    """The master keys setting is malformed (the message never contains key material)."""


class UnknownMasterKey(CryptoKeyError, LookupError):
    """A data key is wrapped by a master key that is not configured."""


class UnknownDataKey(CryptoKeyError, LookupError):
    """Data sealed with a data key that is not in `client_keys`."""


class KeyIntegrityError(CryptoKeyError):
    """A wrapped key or a sealed field does not authenticate (altered or misplaced)."""


class UnknownClient(CryptoKeyError, LookupError):
    """No data key was ever made for this client."""


# --- master keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKeyring:
    """The configured master keys: `current_id` wraps new keys, all of them unwrap."""

    keys: Mapping[str, bytes] = field(repr=False)
    current_id: str

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise KeyringError(f"current master key {self.current_id!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise KeyringError(f"master key id {key_id!r}: use letters, digits and . _ -")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"master key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")

    @property
    def ids(self) -> tuple[str, ...]:
        """Key ids, the current one first."""
        return (self.current_id, *(k for k in self.keys if k != self.current_id))

    @classmethod
    def parse(cls, spec: str) -> MasterKeyring:
        """Read `id:base64[,id2:base64…]` (commas or newlines); the first key is current."""
        keys: dict[str, bytes] = {}
        for raw in re.split(r"[,\n]", spec):
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep:
                raise KeyringError(f"{MASTER_KEYS_ENV}: an entry lacks the 'id:base64' colon")
            if key_id in keys:
                raise KeyringError(f"{MASTER_KEYS_ENV}: master key {key_id!r} is listed twice")
            keys[key_id] = _decode_key(key_id, encoded.strip())
        if not keys:
            raise KeyringError(f"{MASTER_KEYS_ENV}: no master key given")
        return cls(keys=keys, current_id=next(iter(keys)))

    @classmethod
    def generate(cls, key_id: str | None = None) -> MasterKeyring:
        """A keyring of one new random master key."""
        key_id = key_id or f"mk-{secrets.token_hex(4)}"
        return cls(keys={key_id: AESGCM.generate_key(bit_length=256)}, current_id=key_id)

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKeyring:
        """The development keyring in `path`, made once (mode 0600) if it does not exist."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = cls.generate(f"dev-{secrets.token_hex(4)}")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: read theirs
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(
                        "# Casework development master key: not for production.\n"
                        f"# Set {MASTER_KEYS_ENV} instead. Losing this file loses every\n"
                        "# client's personal data.\n"
                        f"{fresh.to_spec()}\n"
                    )
                log.warning("keys.dev_master_key_created", path=str(path))
                return fresh
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("keys.master_key_file_readable_by_others", path=str(path), mode=oct(mode))
        return cls.parse(path.read_text(encoding="utf-8"))

    def to_spec(self) -> str:
        """The `id:base64,…` form (current first): key material, handle with care."""
        return ",".join(
            f"{key_id}:{base64.b64encode(self.keys[key_id]).decode()}" for key_id in self.ids
        )

    def rotated(self, key_id: str, key: bytes) -> MasterKeyring:
        """This keyring with a new current master key (the others stay for unwrapping)."""
        return MasterKeyring(keys={key_id: key, **self.keys}, current_id=key_id)

    def without(self, key_id: str) -> MasterKeyring:
        """This keyring less one (not the current) master key."""
        if key_id == self.current_id:
            raise KeyringError("the current master key cannot be removed")
        return MasterKeyring(
            keys={k: v for k, v in self.keys.items() if k != key_id}, current_id=self.current_id
        )

    def wrap(self, key_id: str, client_ref: str, data_key: bytes) -> tuple[str, bytes]:
        """(master key id, nonce ‖ ciphertext) of a data key under the current master key."""
        nonce = os.urandom(NONCE_BYTES)
        wrapped = AESGCM(self.keys[self.current_id]).encrypt(
            nonce, data_key, _wrap_aad(key_id, client_ref)
        )
        return self.current_id, nonce + wrapped

    def unwrap(self, master_key_id: str, key_id: str, client_ref: str, wrapped: bytes) -> bytes:
        master = self.keys.get(master_key_id)
        if master is None:
            raise UnknownMasterKey(
                f"data key {key_id} (client {client_ref}) is wrapped by master key "
                f"{master_key_id!r}, which is not configured (configured: "
                f"{', '.join(self.ids)}): add it back to {MASTER_KEYS_ENV}, "
                "or run the rewrap before removing a master key"
            )
        try:
            return AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(key_id, client_ref)
            )
        except InvalidTag:
            raise KeyIntegrityError(
                f"data key {key_id} (client {client_ref}) does not unwrap with master key "
                f"{master_key_id!r}: the key row was altered, or the master key under that "
                "id is not the one that wrapped it"
            ) from None


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{MASTER_KEYS_ENV}: master key {key_id!r} is not base64") from None


def _wrap_aad(key_id: str, client_ref: str) -> bytes:
    return f"casework/data-key/v1|{key_id}|{client_ref}".encode()


# --- data keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DataKey:
    """A client's data key, unwrapped; `key` is None once the client was forgotten."""

    key_id: str
    client_ref: str
    key: bytes | None = field(repr=False)

    @property
    def destroyed(self) -> bool:
        return self.key is None


@dataclass(frozen=True)
class KeyStatus:
    """One row of `client_keys`, without key material."""

    client_ref: str
    key_id: str
    master_key_id: str
    created_at: Any
    destroyed_at: Any
    destroyed_reason: str | None


_KEY_COLUMNS = "client_ref, key_id, wrapped_key, master_key_id"


class ClientKeys:
    """The `client_keys` and `stream_clients` tables, with the master keyring to open them.

    Nothing is cached: every read sees a destroyed key as destroyed at once.
    """

    def __init__(self, keyring: MasterKeyring) -> None:
        self.keyring = keyring

    def _open(self, row: Any) -> DataKey:
        if row["wrapped_key"] is None:
            return DataKey(row["key_id"], row["client_ref"], None)
        key = self.keyring.unwrap(
            row["master_key_id"], row["key_id"], row["client_ref"], bytes(row["wrapped_key"])
        )
        return DataKey(row["key_id"], row["client_ref"], key)

    async def for_client(self, db: Database, client_ref: str) -> DataKey:
        """The client's data key, made (and stored wrapped) if they have none yet."""
        row = await db.fetchrow(
            f"SELECT {_KEY_COLUMNS} FROM client_keys WHERE client_ref = $1", client_ref
        )
        if row is None:
            key_id = uuid.uuid4().hex
            master_key_id, wrapped = self.keyring.wrap(
                key_id, client_ref, AESGCM.generate_key(bit_length=256)
            )
            row = await db.fetchrow(
                f"""INSERT INTO client_keys (client_ref, key_id, wrapped_key, master_key_id)
                    VALUES ($1, $2, $3, $4) ON CONFLICT (client_ref) DO NOTHING
                    RETURNING {_KEY_COLUMNS}""",
                client_ref,
                key_id,
                wrapped,
                master_key_id,
            )
            if row is None:  # a concurrent writer made the client's key first: use theirs
                row = await db.fetchrow(
                    f"SELECT {_KEY_COLUMNS} FROM client_keys WHERE client_ref = $1", client_ref
                )
            else:
                log.info("keys.data_key_created", key_id=key_id, master_key_id=master_key_id)
        return self._open(row)

    async def for_stream(self, db: Database, stream_id: str) -> DataKey | None:
        """The data key of the client the stream belongs to; None if it has no client."""
        row = await db.fetchrow(
            """SELECT k.client_ref, k.key_id, k.wrapped_key, k.master_key_id
                 FROM stream_clients s JOIN client_keys k USING (client_ref)
                WHERE s.stream_id = $1""",
            stream_id,
        )
        return None if row is None else self._open(row)

    async def by_ids(self, db: Database, key_ids: Iterable[str]) -> dict[str, DataKey]:
        """The data keys with these ids that exist (destroyed ones with `key` None)."""
        rows = await db.fetch(
            f"SELECT {_KEY_COLUMNS} FROM client_keys WHERE key_id = ANY($1::text[])",
            list(key_ids),
        )
        return {row["key_id"]: self._open(row) for row in rows}

    async def streams_of(self, db: Database, client_ref: str) -> list[str]:
        rows = await db.fetch(
            "SELECT stream_id FROM stream_clients WHERE client_ref = $1 ORDER BY stream_id",
            client_ref,
        )
        return [row["stream_id"] for row in rows]

    async def status(self, db: Database, client_ref: str) -> KeyStatus | None:
        row = await db.fetchrow(
            """SELECT client_ref, key_id, master_key_id, created_at, destroyed_at,
                      destroyed_reason
                 FROM client_keys WHERE client_ref = $1""",
            client_ref,
        )
        return None if row is None else KeyStatus(**dict(row))

    async def destroy(self, db: Database, client_ref: str, reason: str) -> bool:
        """Destroy the client's data key; True if destroyed now, False if it already was.

        Raises UnknownClient if the client never had a key.
        """
        key_id = await db.fetchval(
            """UPDATE client_keys
                  SET wrapped_key = NULL, destroyed_at = now(), destroyed_reason = $2
                WHERE client_ref = $1 AND destroyed_at IS NULL
            RETURNING key_id""",
            client_ref,
            reason,
        )
        if key_id is not None:
            log.info("keys.data_key_destroyed", key_id=key_id)
            return True
        if await db.fetchval("SELECT 1 FROM client_keys WHERE client_ref = $1", client_ref):
            return False
        raise UnknownClient(f"no data key for client {client_ref!r}: no case was opened for them")

    async def rewrap(self, pool: Any, batch: int = 500) -> int:
        """Re-wrap every live data key not under the current master key; return how many.

        Each batch commits on its own, so an interrupted rewrap resumes where it
        stopped when run again. Afterwards no data key needs an old master key.
        """
        current = self.keyring.current_id
        total = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    f"""SELECT {_KEY_COLUMNS} FROM client_keys
                         WHERE wrapped_key IS NOT NULL AND master_key_id <> $1
                         ORDER BY client_ref LIMIT $2 FOR UPDATE""",
                    current,
                    batch,
                )
                if not rows:
                    break
                for row in rows:
                    key = self._open(row).key
                    assert key is not None
                    master_key_id, wrapped = self.keyring.wrap(
                        row["key_id"], row["client_ref"], key
                    )
                    await conn.execute(
                        """UPDATE client_keys SET wrapped_key = $2, master_key_id = $3
                            WHERE key_id = $1 AND wrapped_key IS NOT NULL""",
                        row["key_id"],
                        wrapped,
                        master_key_id,
                    )
                total += len(rows)
        log.info("keys.rewrapped", count=total, master_key_id=current)
        return total
