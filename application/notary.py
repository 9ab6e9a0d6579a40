"""The notary (`casework notary`, and a service of `casework up`): keeps the Merkle
tree of the global log (events/notary.py) and publishes signed checkpoints of it.

Nothing of this is in the append path: the notary reads what the engine appended,
every `poll` seconds (not on each NOTIFY: it batches, so a busy log costs it one
round a second, not one per append; the tree need only be current at the next
checkpoint), appends
the new events to the tree in batches, and every `CASEWORK_CHECKPOINT_INTERVAL`,
when the tree grew, publishes a checkpoint (`casework notary checkpoint`: one now).

Killed at any moment it loses nothing: a batch is one transaction, and a checkpoint is
numbered from the sink's latest, which is published (or not) whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from events.checkpoints import (
    DEV_NOTARY_KEY_FILE,
    DEV_NOTARY_PUBLIC_KEYS_FILE,
    CheckpointError,
    CheckpointSink,
    DirectorySink,
    NotaryKey,
    SignedCheckpoint,
    TrustedKeys,
)
from events.notary import (
    MerkleTree,
    TreeError,
    TreeFinding,
    TreeReport,
    check_log_against_checkpoints,
    publish_checkpoint,
)
from infrastructure.database import NOT_ANSWERING, TRANSIENT_ERRORS, database_not_answering
from infrastructure.keys import NOTARY_SIGNING, development_key_path
from infrastructure.logs import get_logger
from infrastructure.settings import Settings


def key_path(settings: Settings) -> Path:
    return settings.notary_key_file or settings.data_dir.expanduser() / DEV_NOTARY_KEY_FILE


def public_keys_path(settings: Settings) -> Path:
    return (
        settings.notary_public_keys or settings.data_dir.expanduser() / DEV_NOTARY_PUBLIC_KEYS_FILE
    )


def checkpoint_sink(settings: Settings) -> CheckpointSink:
    return DirectorySink(settings.checkpoint_dir or settings.data_dir.expanduser() / "checkpoints")


def notary_key(settings: Settings) -> NotaryKey:
    """The signing key: `CASEWORK_NOTARY_KEY_FILE`, else the development key (made once,
    its public key added to the trusted keys)."""
    if settings.notary_key_file is not None:
        return NotaryKey.load(settings.notary_key_file)
    return NotaryKey.load_or_create(
        development_key_path(settings, NOTARY_SIGNING), public_keys_path(settings)
    )


def trusted_keys(settings: Settings) -> TrustedKeys:
    """The trusted-keys file, and the current signing key's public key if this host has it."""
    keys = TrustedKeys.load(public_keys_path(settings))
    path = key_path(settings)
    if path.exists():
        keys.add(NotaryKey.load(path).public)
    return keys


@dataclass
class Notary:
    dsn: str
    key: NotaryKey
    sink: CheckpointSink
    keys: TrustedKeys
    log_id: str
    batch: int = 5000

    def __post_init__(self) -> None:
        self.tree = MerkleTree()
        self.keys.add(self.key.public)

    async def extend(self, conn: asyncpg.Connection) -> int:
        """Append everything readable to the tree; how many events."""
        return await self.tree.catch_up(conn, self.batch)

    async def checkpoint(self, conn: asyncpg.Connection) -> SignedCheckpoint | None:
        signed = await publish_checkpoint(
            conn, self.tree, self.key, self.sink, self.keys, log_id=self.log_id
        )
        if signed is not None:
            get_logger(component="notary").info(
                "checkpoint published",
                sequence=signed.sequence,
                tree_size=signed.tree_size,
                root=signed.root_hash.hex(),
                key_id=signed.checkpoint.key_id,
            )
        return signed


def notary_from_settings(settings: Settings, dsn: str | None = None) -> Notary:
    return Notary(
        dsn=dsn or settings.notary_database_url or "",
        key=notary_key(settings),
        sink=checkpoint_sink(settings),
        keys=trusted_keys(settings),
        log_id=settings.notary_log_id,
    )


async def checkpoint_now(settings: Settings, dsn: str) -> SignedCheckpoint | None:
    """`casework notary checkpoint`: bring the tree up to the log, publish if it grew."""
    target = dsn or settings.notary_database_url or ""
    try:  # first: no key file is made for a database that does not answer
        conn = await asyncpg.connect(target)
    except NOT_ANSWERING as exc:
        raise database_not_answering(target, exc) from exc
    try:
        notary = notary_from_settings(settings, dsn)
        await notary.extend(conn)
        return await notary.checkpoint(conn)
    finally:
        await conn.close()


async def run_notary(
    settings: Settings,
    *,
    dsn: str,
    shutdown: asyncio.Event,
    poll: float = 1.0,
    batch: int = 5000,
) -> None:
    """The notary service: extend every `poll` seconds, checkpoint every
    interval when the tree grew, and once more when shutting down."""
    log = get_logger(component="notary")
    notary = notary_from_settings(settings, settings.notary_database_url or dsn)
    notary.batch = batch
    interval = settings.checkpoint_interval.total_seconds()
    conn: asyncpg.Connection | None = None
    next_checkpoint = time.monotonic() + interval
    refused: str | None = None
    try:
        while True:
            stopping = shutdown.is_set()
            added = 0
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(notary.dsn)
                    notary.tree = type(notary.tree)()  # reload the edge from the database
                added = await notary.extend(conn)
                if added:
                    log.debug("tree extended", events=added, size=notary.tree.size)
                if stopping or time.monotonic() >= next_checkpoint:
                    next_checkpoint = time.monotonic() + interval
                    try:
                        await notary.checkpoint(conn)
                        refused = None
                    except CheckpointError as exc:
                        if str(exc) != refused:  # say it once, not every minute
                            log.error("checkpoint refused", error=str(exc))
                        refused = str(exc)
            except TreeError as exc:  # the tree tables were damaged or rolled back
                if str(exc) != refused:
                    log.error("the stored tree is incomplete", error=str(exc))
                refused = str(exc)
                notary.tree = type(notary.tree)()
            except (asyncpg.PostgresError, *TRANSIENT_ERRORS) as exc:
                log.warning("notary round failed; retrying", error=repr(exc))
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
                conn = None
            if stopping:
                return
            timeout = max(0.0, min(poll, next_checkpoint - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), timeout=timeout)
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)


async def check_checkpoints(settings: Settings, conn: asyncpg.Connection) -> TreeReport:
    """`casework verify`'s check of the log against every published checkpoint."""
    sink = checkpoint_sink(settings)
    try:
        checkpoints = list(sink.all())
    except CheckpointError as exc:
        report = TreeReport()
        report.findings.append(TreeFinding(f"checkpoint refused: {exc}"))
        return report
    return await check_log_against_checkpoints(conn, checkpoints, trusted_keys(settings))
