"""Signed checkpoints of the Merkle tree over the global log, and where they are kept.

A checkpoint says "the log's first `tree_size` events hash to `root_hash`", at a time,
numbered (`sequence` 1, 2, 3 … with no gap), and is signed with an Ed25519 key that is
a file of the notary's host, never a row of the database. The signed bytes are the
lines of `Checkpoint.signed_bytes` (format tag, log id, sequence, tree size, root in
hex, time, key id). A published checkpoint also carries the consistency proof from the
previous one (RFC 9162 2.1.4): it needs no signature, it is checked against the two
signed roots, so anyone holding only the checkpoints can see that each tree extends
the one before it.

Checkpoints are written to a `CheckpointSink` outside the database. `DirectorySink`
(the default) is a directory of files, one per checkpoint, created exclusively and
never rewritten: `<dir>/<sequence // 10000:06d>/<sequence:012d>.json`. Other sinks
(an object store with object lock, a syslog/SIEM, another organisation) implement the
same three methods.

Keys are named by `key_id_of(public key)`, the first 16 hex digits of SHA-256 of the
raw public key, so a key id cannot name another key. A rotation starts signing with a
new key; the old public key stays in the trusted-keys file, so every checkpoint it
signed still verifies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from events.keyfile import create_private_file, open_mode
from events.merkle import HASH_SIZE, verify_consistency

log = structlog.get_logger(__name__)

CHECKPOINT_FORMAT = "casework-checkpoint-v1"
DEV_NOTARY_KEY_FILE = Path("keys") / "notary.key"
DEV_NOTARY_PUBLIC_KEYS_FILE = Path("keys") / "notary.pub"
PER_DIRECTORY = 10_000


class CheckpointError(ValueError):
    """A checkpoint is malformed, unsigned by a trusted key, or out of order."""


@dataclass(frozen=True)
class Checkpoint:
    log_id: str
    sequence: int
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str

    def signed_bytes(self) -> bytes:
        return (
            "\n".join(
                [
                    CHECKPOINT_FORMAT,
                    self.log_id,
                    str(self.sequence),
                    str(self.tree_size),
                    self.root_hash.hex(),
                    self.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
                    self.key_id,
                ]
            )
            + "\n"
        ).encode("utf-8")


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    signature: bytes
    previous_size: int = 0
    consistency: tuple[bytes, ...] = field(default=())
    """The RFC 9162 proof that the previous checkpoint's tree is a prefix of this one."""

    @property
    def sequence(self) -> int:
        return self.checkpoint.sequence

    @property
    def tree_size(self) -> int:
        return self.checkpoint.tree_size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash

    def to_json(self) -> dict[str, Any]:
        c = self.checkpoint
        return {
            "format": CHECKPOINT_FORMAT,
            "log_id": c.log_id,
            "sequence": c.sequence,
            "tree_size": c.tree_size,
            "root_hash": c.root_hash.hex(),
            "timestamp": c.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": c.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "previous_size": self.previous_size,
            "consistency_proof": [h.hex() for h in self.consistency],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedCheckpoint:
        try:
            if data["format"] != CHECKPOINT_FORMAT:
                raise CheckpointError(f"format: {data['format']!r} is not {CHECKPOINT_FORMAT}")
            root = bytes.fromhex(data["root_hash"])
            if len(root) != HASH_SIZE:
                raise CheckpointError("root_hash: not a SHA-256 hash")
            timestamp = datetime.fromisoformat(data["timestamp"])
            if timestamp.tzinfo is None:
                raise CheckpointError("timestamp: no time zone")
            checkpoint = Checkpoint(
                log_id=str(data["log_id"]),
                sequence=_count(data["sequence"], "sequence", minimum=1),
                tree_size=_count(data["tree_size"], "tree_size"),
                root_hash=root,
                timestamp=timestamp,
                key_id=str(data["key_id"]),
            )
            proof = tuple(bytes.fromhex(h) for h in data.get("consistency_proof", []))
            return cls(
                checkpoint=checkpoint,
                signature=base64.b64decode(data["signature"], validate=True),
                previous_size=_count(data.get("previous_size", 0), "previous_size"),
                consistency=proof,
            )
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"malformed checkpoint: {exc!r}") from exc


def _count(value: object, name: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CheckpointError(f"{name}: {value!r} is not an integer >= {minimum}")
    return value


# --- keys ------------------------------------------------------------------------


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_line(public: Ed25519PublicKey) -> str:
    """`<key id> <base64 raw public key>`: a line of a trusted-keys file."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{key_id_of(public)} {base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class NotaryKey:
    """The checkpoint signing key (a PEM PKCS#8 Ed25519 private key file)."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    @classmethod
    def generate(cls) -> NotaryKey:
        return cls(Ed25519PrivateKey.generate())

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def load(cls, path: Path) -> NotaryKey:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"notary key file {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"notary key file {path}: not an Ed25519 private key")
        if (mode := open_mode(path)) is not None:
            log.warning("notary.key_file_readable_by_others", path=str(path), mode=mode)
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path, public_keys: Path | None = None) -> NotaryKey:
        """The key in `path`, made once (mode 0600) if missing; a new key's public line
        is appended to `public_keys` (the trusted keys) when given."""
        if not path.exists():
            fresh = cls.generate()
            if create_private_file(path, fresh.to_pem()):
                log.warning("notary.dev_key_created", path=str(path), key_id=fresh.key_id)
                if public_keys is not None:
                    TrustedKeys.append_line(public_keys, fresh.public)
                return fresh
        return cls.load(path)

    def sign(self, checkpoint: Checkpoint) -> bytes:
        if checkpoint.key_id != self.key_id:
            raise CheckpointError(f"key_id: {checkpoint.key_id} is not this key ({self.key_id})")
        return self.private.sign(checkpoint.signed_bytes())


@dataclass
class TrustedKeys:
    """Public keys by key id: what a checkpoint's signature is checked with."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    def add(self, public: Ed25519PublicKey) -> None:
        self.keys[key_id_of(public)] = public

    @classmethod
    def parse(cls, text: str, source: str = "trusted keys") -> TrustedKeys:
        trusted = cls()
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                key_id, encoded = line.split()
                public = Ed25519PublicKey.from_public_bytes(
                    base64.b64decode(encoded, validate=True)
                )
            except ValueError as exc:
                raise CheckpointError(
                    f"{source} line {number}: not '<key id> <base64 Ed25519 public key>'"
                ) from exc
            if key_id_of(public) != key_id:
                raise CheckpointError(
                    f"{source} line {number}: key id {key_id} is not this key's "
                    f"({key_id_of(public)})"
                )
            trusted.add(public)
        return trusted

    @classmethod
    def load(cls, path: Path) -> TrustedKeys:
        if not path.exists():
            return cls()
        return cls.parse(path.read_text(encoding="utf-8"), str(path))

    @staticmethod
    def append_line(path: Path, public: Ed25519PublicKey) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists() and key_id_of(public) in TrustedKeys.load(path).keys:
            return
        with path.open("a", encoding="utf-8") as out:
            out.write(public_key_line(public) + "\n")

    def check(self, signed: SignedCheckpoint) -> None:
        """Raise CheckpointError unless a trusted key made the signature."""
        c = signed.checkpoint
        public = self.keys.get(c.key_id)
        if public is None:
            raise CheckpointError(
                f"checkpoint #{c.sequence}: key id {c.key_id} is not a trusted key"
            )
        try:
            public.verify(signed.signature, c.signed_bytes())
        except InvalidSignature:
            raise CheckpointError(
                f"checkpoint #{c.sequence}: the signature does not verify with key {c.key_id}"
            ) from None


def check_successor(previous: SignedCheckpoint | None, current: SignedCheckpoint) -> None:
    """Raise CheckpointError unless `current` may follow `previous`: the next sequence
    number, the same log, a tree that does not shrink and extends the previous one
    (its consistency proof)."""
    c = current.checkpoint
    if previous is None:
        if c.sequence != 1:
            raise CheckpointError(
                f"checkpoint #{c.sequence}: checkpoints #1…#{c.sequence - 1} missing"
            )
        if current.previous_size != 0 or current.consistency:
            raise CheckpointError(
                f"checkpoint #{c.sequence}: the first checkpoint has no predecessor"
            )
        return
    p = previous.checkpoint
    if c.log_id != p.log_id:
        raise CheckpointError(f"checkpoint #{c.sequence}: log {c.log_id}, not {p.log_id}")
    if c.sequence != p.sequence + 1:
        raise CheckpointError(
            f"checkpoint #{c.sequence} follows #{p.sequence}"
            + (" (a duplicate)" if c.sequence <= p.sequence else " (checkpoints missing)")
        )
    if c.tree_size < p.tree_size:
        raise CheckpointError(
            f"checkpoint #{c.sequence}: the tree shrinks from {p.tree_size} to {c.tree_size} events"
        )
    if current.previous_size != p.tree_size:
        raise CheckpointError(
            f"checkpoint #{c.sequence}: its proof starts at {current.previous_size} events, "
            f"checkpoint #{p.sequence} has {p.tree_size}"
        )
    if not verify_consistency(
        p.tree_size, c.tree_size, p.root_hash, c.root_hash, current.consistency
    ):
        raise CheckpointError(
            f"checkpoint #{c.sequence} is not consistent with #{p.sequence}: its tree of "
            f"{c.tree_size} events does not extend the {p.tree_size} of #{p.sequence}"
        )


def check_chain(
    checkpoints: Sequence[SignedCheckpoint], keys: TrustedKeys
) -> tuple[list[SignedCheckpoint], list[str]]:
    """The checkpoints that are trusted (signed by a trusted key, each extending the
    last trusted one), and a problem for each refused one."""
    trusted: list[SignedCheckpoint] = []
    problems: list[str] = []
    for signed in checkpoints:
        try:
            keys.check(signed)
            check_successor(trusted[-1] if trusted else None, signed)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        trusted.append(signed)
    return trusted, problems


# --- sinks -----------------------------------------------------------------------


class CheckpointSink(Protocol):
    """Where checkpoints are published: outside the database, append-only.

    `publish` must refuse a sequence number already there (never overwrite) and should
    refuse one that is not `latest().sequence + 1`; `all` yields them in sequence order;
    a checkpoint `publish` returned from must survive a crash of the publisher."""

    def latest(self) -> SignedCheckpoint | None: ...

    def all(self) -> Iterator[SignedCheckpoint]: ...

    def publish(self, signed: SignedCheckpoint) -> None: ...


class CheckpointExists(CheckpointError):
    """That sequence number is already published."""


class DirectorySink:
    """A directory of checkpoint files, each created once and never rewritten."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, sequence: int) -> Path:
        return self.directory / f"{sequence // PER_DIRECTORY:06d}" / f"{sequence:012d}.json"

    def path_of(self, sequence: int) -> Path:
        """Where checkpoint #`sequence` is (or would be) published."""
        return self._path(sequence)

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("[0-9]" * 6 + "/" + "[0-9]" * 12 + ".json"))

    def _read(self, path: Path) -> SignedCheckpoint:
        try:
            signed = SignedCheckpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        if int(path.stem) != signed.sequence:
            raise CheckpointError(f"{path}: holds checkpoint #{signed.sequence}")
        return signed

    def latest(self) -> SignedCheckpoint | None:
        """The newest checkpoint: a listing of the last subdirectory only."""
        if not self.directory.is_dir():
            return None
        for sub in sorted(self.directory.glob("[0-9]" * 6), reverse=True):
            files = sorted(sub.glob("[0-9]" * 12 + ".json"))
            if files:
                return self._read(files[-1])
        return None

    def all(self) -> Iterator[SignedCheckpoint]:
        for path in self._files():
            yield self._read(path)

    def publish(self, signed: SignedCheckpoint) -> None:
        latest = self.latest()
        expected = 1 if latest is None else latest.sequence + 1
        if signed.sequence != expected:
            raise CheckpointExists(f"checkpoint #{signed.sequence}: the sink's next is #{expected}")
        path = self._path(signed.sequence)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = (json.dumps(signed.to_json(), indent=1) + "\n").encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, path)  # fails if it exists: never overwrites
            except FileExistsError:
                raise CheckpointExists(
                    f"checkpoint #{signed.sequence} is already published"
                ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
