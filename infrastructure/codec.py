"""The payload codec: everything Casework hands to Temporal is encrypted first.

Temporal stores workflow inputs, update arguments, query results, activity
arguments and results, memos and (with the failure converter of
infrastructure/temporal.py) failure messages as *payloads*. `EncryptionCodec` encrypts
each payload with AES-256-GCM before it leaves the process, so the Temporal
server, its database and its UI see only ciphertext; only a process holding the
keyring (the worker, the CLI, the codec server) reads them.

Guarantees
----------
* `encode` always encrypts: with the keyring's *current* key, a fresh random
  96-bit nonce per payload, the whole original payload (metadata and data) as
  the plaintext, and the key id bound to the ciphertext as associated data.
* The encoded payload's metadata says ``encoding: binary/encrypted`` and
  ``encryption-key-id: <key id>``; its data is ``nonce || ciphertext+tag``.
* `decode` decrypts with whichever key the payload names, so keys can rotate:
  add a new current key in front, keep the old ones until no retained history
  refers to them. A payload naming a key the keyring lacks raises
  `UnknownKeyError`; a payload that fails authentication raises `CodecError`.
* `decode` passes through payloads that are *not* marked encrypted unchanged:
  histories recorded before the codec existed (tests/workflows/histories) still
  replay, and workflows started before the codec was switched on still run.

Keyring format (``CASEWORK_CODEC_KEYS``): ``id1:base64key,id2:base64key`` — each
key 32 bytes, standard base64; the first entry is the current key. Commas or
newlines separate entries. Without the variable, a development keyring is
generated once in ``<data dir>/keys/codec.keys`` (mode 0600); production sets
the variable from its secret store (see docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
"""The `encoding` metadata of an encrypted payload."""

KEY_ID_METADATA = "encryption-key-id"
"""The metadata entry naming the key a payload was encrypted with."""

KEY_BYTES = 32
NONCE_BYTES = 12
_AAD_PREFIX = b"casework/temporal-payload/v1\x00"
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

DEV_KEYRING_PATH = Path("keys") / "codec.keys"
"""Where the development keyring lives, relative to the data directory."""


class CodecError(Exception):
    """A payload could not be encrypted or decrypted, or a keyring is malformed."""


class UnknownKeyError(CodecError):
    """A payload names a key id that the keyring does not hold."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload was encrypted with codec key {key_id!r}, which this keyring does not "
            f"hold (keys held: {', '.join(known) or 'none'}); add that key to "
            "CASEWORK_CODEC_KEYS (after the current one) to read it"
        )


@dataclass(frozen=True)
class Keyring:
    """Codec keys by id; `current` encrypts, every key decrypts."""

    current: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise CodecError(f"the current codec key {self.current!r} is not in the keyring")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise CodecError(
                    f"codec key id {key_id!r}: use letters, digits, '.', '_' or '-' "
                    "(at most 64 characters)"
                )
            if len(key) != KEY_BYTES:
                raise CodecError(
                    f"codec key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )

    @property
    def ids(self) -> list[str]:
        return list(self.keys)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, self.ids) from None

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Read ``id1:base64key,id2:base64key`` (first = current); newlines also separate."""
        keys: dict[str, bytes] = {}
        for raw in re.split(r"[,\n]", text):
            entry = raw.strip()
            if not entry or entry.startswith("#"):
                continue
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id:
                raise CodecError(
                    "codec keyring entries are 'id:base64key' separated by commas "
                    f"(an entry has no id or no ':' — entry {len(keys) + 1})"
                )
            if key_id in keys:
                raise CodecError(f"codec key id {key_id!r} appears twice")
            try:
                keys[key_id] = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise CodecError(f"codec key {key_id!r} is not valid base64") from None
        if not keys:
            raise CodecError("the codec keyring is empty")
        return cls(current=next(iter(keys)), keys=keys)

    def serialise(self) -> str:
        """The keyring in the format `parse` reads, current key first, one per line."""
        order = [self.current, *(k for k in self.keys if k != self.current)]
        return "".join(f"{k}:{base64.b64encode(self.keys[k]).decode()}\n" for k in order)

    @classmethod
    def generate(cls, key_id: str) -> Keyring:
        """A keyring of one fresh random key."""
        return cls(current=key_id, keys={key_id: AESGCM.generate_key(bit_length=256)})

    def rotated(self, new_id: str) -> Keyring:
        """This keyring with a fresh key `new_id` as the current one (old keys kept)."""
        if new_id in self.keys:
            raise CodecError(f"codec key id {new_id!r} is already in the keyring")
        return Keyring(
            current=new_id, keys={new_id: AESGCM.generate_key(bit_length=256), **self.keys}
        )


def _aad(key_id: str) -> bytes:
    return _AAD_PREFIX + key_id.encode()


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads; see the module docstring for the guarantees."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def current_key_id(self) -> str:
        return self.keyring.current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) if is_encrypted(p) else p for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.keyring.current
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise CodecError(f"an encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id, self.keyring.ids)
        data = payload.data
        if len(data) < NONCE_BYTES + 16:
            raise CodecError("an encrypted payload is too short to hold a nonce and a tag")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(key_id))
        except InvalidTag:
            raise CodecError(
                f"an encrypted payload failed authentication under codec key {key_id!r}: "
                "it was altered, or encrypted with another key of the same id"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def development_keyring(data_dir: Path) -> Keyring:
    """The keyring in ``<data_dir>/keys/codec.keys``, created (mode 0600) on first use.

    Safe when several processes start at once: the file appears complete or not
    at all (written aside, then hard-linked into place), and the loser reads the
    winner's keys.
    """
    path = data_dir / DEV_KEYRING_PATH
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            path.parent.chmod(0o700)
        text = Keyring.generate("dev-1").serialise()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".codec.keys.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return Keyring.parse(path.read_text(encoding="ascii"))
