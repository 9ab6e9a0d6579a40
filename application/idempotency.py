"""Idempotency keys: a client retrying a command after a lost answer sends the same key
and gets the first answer, never a second execution.

The key becomes the Temporal update id (scoped by the caller and the case), which the
server deduplicates; this table remembers which request a key was first used for, so
that the same key with another body or for another case is refused instead of being
answered with the result of a different command.

A request that creates something (opening a case) has no update to deduplicate: the id
of what it creates is derived from its update id (`created_id`), so every retry names
the same case, and a retry after a lost answer finds the case the first one opened
instead of opening another.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg

MAX_KEY_LENGTH = 200

CREATED_ID_NAMESPACE = uuid.UUID("6f1d4c1e-2b0a-5c7e-9a43-0c2f3e8d7b15")
"""The uuid5 namespace of the ids `created_id` derives (fixed: a retry must find them)."""


class IdempotencyKeyReused(ValueError):
    """The key was used before for another request."""


def request_hash(target: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{target}\n{canonical}".encode()).hexdigest()


def update_id(staff_id: str, target: str, key: str) -> str:
    """The Temporal update id for a key: per caller and target, so keys never collide."""
    digest = hashlib.sha256(f"{staff_id}\n{target}\n{key}".encode()).hexdigest()[:32]
    return f"idem-{digest}"


def created_id(update_id: str) -> uuid.UUID:
    """The id of what a keyed request creates (the case a keyed open opens): the same for
    every retry of the request (its `update_id`), another for another caller or key."""
    return uuid.uuid5(CREATED_ID_NAMESPACE, update_id)


async def claim(pool: asyncpg.Pool, staff_id: str, key: str, target: str, body: Any) -> str:
    """Record the key for this request, or check it was used for the same one before.

    Returns the update id to send. Raises IdempotencyKeyReused (naming the header) when
    the key was first used for another request.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyReused(f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} characters")
    digest = request_hash(target, body)
    stored = await pool.fetchval(
        """INSERT INTO api_idempotency_keys (staff_id, key, request_hash, target)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (staff_id, key) DO UPDATE SET key = EXCLUDED.key
           RETURNING request_hash""",
        staff_id,
        key,
        digest,
        target,
    )
    if stored != digest:
        raise IdempotencyKeyReused(
            "Idempotency-Key: this key was used before for another request; "
            "use a new key for a new command"
        )
    return update_id(staff_id, target, key)
