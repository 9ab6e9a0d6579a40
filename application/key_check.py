"""Whether the configured keys are the ones the data was made with.

Development keys are files of the data directory (`<data dir>/keys/`: master keys,
origin keys, the notary's signing key), made the first time they are needed. A
database made with one set and opened with another (the data directory's `keys/`
deleted, another CASEWORK_DATA_DIR, keys settings of another deployment) gets keys that
open none of its data: every case's personal fields fail to decrypt, every event's
origin proof names a key that is not configured, every checkpoint is refused. The stack
checks at start-up, from one row or file each, and stops with the cause and the setting
to change (infrastructure/environment.py) instead of starting on data it cannot read.

* master keys: the newest live client data key must unwrap with the configured master
  keys (its master key configured, and the one that wrapped it);
* origin keys: the newest signed event's origin key must be configured (whether its
  proof is right is `casework verify`'s to say: a wrong proof under a configured key is
  a finding about that event, not about the keys);
* the notary: the latest published checkpoint must be signed by a trusted key.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from application.notary import checkpoint_sink, public_keys_path, trusted_keys
from events.checkpoints import CheckpointError
from events.keys import DEV_MASTER_KEYS_FILE, KeyIntegrityError, UnknownMasterKey
from events.origin import DEV_ORIGIN_KEYS_FILE
from infrastructure.database import NOT_ANSWERING, database_not_answering
from infrastructure.environment import EnvironmentProblem
from infrastructure.keys import MASTER, ORIGIN, master_keyring, origin_keyring
from infrastructure.settings import Settings

_NEWEST_DATA_KEY = """SELECT client_ref, key_id, master_key_id, wrapped_key FROM client_keys
                        WHERE wrapped_key IS NOT NULL ORDER BY created_at DESC LIMIT 1"""
_NEWEST_ORIGIN_KEY = """SELECT origin_key FROM events WHERE origin_key IS NOT NULL
                         ORDER BY global_position DESC LIMIT 1"""

_REMEDY = (
    "set {setting} to the keys the database was made with, or CASEWORK_DATA_DIR to the "
    "data directory it was made with"
)


async def check_keys_match(settings: Settings, dsn: str) -> None:
    """Raise EnvironmentProblem unless the configured keys open the database at `dsn`
    (migrated) and trust its latest checkpoint."""
    try:
        conn = await asyncpg.connect(dsn)
    except NOT_ANSWERING as exc:
        raise database_not_answering(dsn, exc) from exc
    try:
        problem = await _master_keys(conn, settings) or await _origin_keys(conn, settings)
    finally:
        await conn.close()
    problem = problem or _notary_keys(settings)
    if problem is not None:
        raise problem


def _keys_in(settings: Settings, setting: str, configured: bool, dev_file: Path) -> str:
    if configured:
        return setting
    return f"the data directory's key file {settings.data_dir.expanduser() / dev_file}"


async def _master_keys(conn: asyncpg.Connection, settings: Settings) -> EnvironmentProblem | None:
    row = await conn.fetchrow(_NEWEST_DATA_KEY)
    if row is None:
        return None
    keyring = master_keyring(settings)
    try:
        keyring.unwrap(
            row["master_key_id"], row["key_id"], row["client_ref"], bytes(row["wrapped_key"])
        )
    except (UnknownMasterKey, KeyIntegrityError):
        setting = "CASEWORK_MASTER_KEYS"
        where = _keys_in(settings, setting, MASTER.configured(settings), DEV_MASTER_KEYS_FILE)
        return EnvironmentProblem(
            f"the database's client data keys are wrapped by master key "
            f"{row['master_key_id']!r}, which {where} does not hold (it holds "
            f"{', '.join(keyring.ids)}): the data was made with other keys",
            setting,
            _REMEDY.format(setting=setting),
        )
    return None


async def _origin_keys(conn: asyncpg.Connection, settings: Settings) -> EnvironmentProblem | None:
    newest = await conn.fetchval(_NEWEST_ORIGIN_KEY)
    if newest is None:
        return None
    keyring = origin_keyring(settings)
    if newest in keyring.keys:
        return None
    setting = "CASEWORK_ORIGIN_KEYS"
    where = _keys_in(settings, setting, ORIGIN.configured(settings), DEV_ORIGIN_KEYS_FILE)
    return EnvironmentProblem(
        f"the log's newest events carry origin proofs made with key {newest!r}, which "
        f"{where} does not hold (it holds {', '.join(keyring.keys)}): the data was made "
        "with other keys",
        setting,
        _REMEDY.format(setting=setting),
    )


def _notary_keys(settings: Settings) -> EnvironmentProblem | None:
    try:
        latest = checkpoint_sink(settings).latest()
        keys = trusted_keys(settings)
    except CheckpointError:
        return None  # a damaged sink or keys file: the notary and verify report it
    if latest is None or latest.checkpoint.key_id in keys.keys:
        return None
    return EnvironmentProblem(
        f"the latest published checkpoint (#{latest.sequence}) is signed with key "
        f"{latest.checkpoint.key_id}, which is not among the trusted keys "
        f"({public_keys_path(settings)}): the checkpoints were made with other keys",
        "CASEWORK_NOTARY_PUBLIC_KEYS",
        "add that key's line to CASEWORK_NOTARY_PUBLIC_KEYS (and point "
        "CASEWORK_NOTARY_KEY_FILE at its key), or set CASEWORK_DATA_DIR to the data "
        "directory the checkpoints were made with",
    )
