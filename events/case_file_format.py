"""The case file's format (`casework-case-file-v1`, described in events/case_file.py):
its keys, its one canonical byte form (`dumps`, `time_text`), and the entries the
exporter builds from stored rows (application/case_export.py): an event as stored, its
notarisation (inclusion proof), the signed checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from events.checkpoints import Checkpoint
from events.crypto import ENVELOPE_PREFIX

FORMAT = "casework-case-file-v1"


PERSONAL_STATES = ("disclosed", "erased", "withheld", "none")


DOC_KEYS = {
    "format",
    "case_id",
    "stream_id",
    "personal_fields",
    "client_key",
    "checkpoint",
    "events",
}


EVENT_KEYS = {
    "stream_version",
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "data_text",
    "metadata_text",
    "previous_hash",
    "hash",
    "notarised",
    "data",
}


NOTARISED_KEYS = {"global_position", "recorded_at", "leaf_index", "inclusion_proof"}


CHECKPOINT_KEYS = {
    "log_id",
    "sequence",
    "tree_size",
    "root_hash",
    "timestamp",
    "key_id",
    "signature",
}


CLIENT_KEY_KEYS = {"key_id", "key"}


class CaseFileError(ValueError):
    """The case file is malformed (the message names the field)."""


def dumps(document: Mapping[str, Any]) -> bytes:
    """The one byte form a case file is written (and verified) in."""
    return (
        json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")


def time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def stored_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `events` entry of a stored row (selected with events.merkle.LEAF_COLUMNS)."""
    return {
        "stream_version": int(row["stream_version"]),
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "schema_version": int(row["schema_version"]),
        "occurred_at": time_text(row["occurred_at"]),
        "data_text": row["data_text"],
        "metadata_text": row["metadata_text"],
        "previous_hash": None
        if row["previous_hash"] is None
        else bytes(row["previous_hash"]).hex(),
        "hash": bytes(row["hash"]).hex(),
        "notarised": None,
        "data": None,
    }


def notarised(row: Mapping[str, Any], leaf_index: int, proof: Sequence[bytes]) -> dict[str, Any]:
    return {
        "global_position": int(row["global_position"]),
        "recorded_at": time_text(row["recorded_at"]),
        "leaf_index": leaf_index,
        "inclusion_proof": [bytes(h).hex() for h in proof],
    }


def checkpoint_entry(checkpoint: Checkpoint, signature: bytes) -> dict[str, Any]:
    return {
        "log_id": checkpoint.log_id,
        "sequence": checkpoint.sequence,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash.hex(),
        "timestamp": time_text(checkpoint.timestamp),
        "key_id": checkpoint.key_id,
        "signature": signature.hex(),
    }


def envelope_key_id(envelope: str) -> str:
    """The data key id a sealed field names."""
    return envelope[len(ENVELOPE_PREFIX) :].split(":", 1)[0]
