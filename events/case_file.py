"""A case file an auditor verifies alone: one JSON document, checked offline.

`casework case export CASE --out FILE` writes it (application/case_export.py);
`casework verify-export FILE --public-key KEY` checks it with `verify_case_file`, which
needs no database, no Temporal and no secret: only the file and the notary's public key.

The document (format `casework-case-file-v1`)
---------------------------------------------
* `case_id`, `stream_id` (`case-<case_id>`);
* `events`: the case's events in version order, *as stored*: every column of the row
  that the chain hash and the Merkle leaf cover, `data_text`/`metadata_text` exactly as
  PostgreSQL renders the stored jsonb (personal fields as ciphertext envelopes). An event
  within the checkpoint's tree also has `notarised`: its global position, recorded time,
  leaf index and RFC 9162 inclusion proof. An event appended after the checkpoint has
  `notarised: null`: its hash chain links it to the events before it, nothing more.
* `checkpoint`: the latest signed checkpoint (log id, sequence, tree size, root, time,
  key id) and its Ed25519 signature, or null if none covered the case yet;
* `personal_fields`: `disclosed` (each event's `data` holds its personal fields
  decrypted, and `client_key` the client's data key, so the verifier can check that
  each decrypted value is exactly what the stored ciphertext seals), `erased` (the
  client was forgotten: their key is destroyed and `data` shows the erased values),
  `withheld` (exported without personal fields), or `none` (the case has none).

The file is written in one canonical form (`dumps`: sorted keys, one-space indent,
UTF-8, lowercase hex, ISO times in UTC with microseconds) and every value in it is
either checked against the signed root or against the stored ciphertext, or must
follow from those; so changing any byte of it makes verification fail, naming what.

This module verifies; the format and the exporter's entries are in
events/case_file_format.py, the checked reading of values in events/case_file_reader.py,
the report in events/case_file_report.py (their public names are re-exported here).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature

from events.case_file_format import (
    CHECKPOINT_KEYS,
    CLIENT_KEY_KEYS,
    DOC_KEYS,
    EVENT_KEYS,
    FORMAT,
    NOTARISED_KEYS,
    PERSONAL_STATES,
    CaseFileError,
    checkpoint_entry,
    dumps,
    envelope_key_id,
    notarised,
    stored_event,
    time_text,
)
from events.case_file_reader import FieldReader, Stop, first_difference
from events.case_file_report import CaseFileReport, EventView, statements
from events.chain import event_hash
from events.checkpoints import Checkpoint, CheckpointError, TrustedKeys
from events.crypto import open_sealed_data, sealed_fields
from events.keys import CryptoKeyError
from events.merkle import ProofError, event_leaf_bytes, leaf_hash, root_from_inclusion_proof
from events.registry import EventRegistry, UnknownEventType


def load_public_keys(text: str, source: str = "public key") -> TrustedKeys:
    """The notary's public key(s): trusted-keys lines `<key id> <base64>`, or one bare
    base64 Ed25519 public key."""
    stripped = text.strip()
    if stripped and " " not in stripped and "\n" not in stripped:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise CheckpointError(f"{source}: not a base64 Ed25519 public key") from exc
        keys = TrustedKeys()
        keys.add(public)
        return keys
    keys = TrustedKeys.parse(text, source)
    if not keys.keys:
        raise CheckpointError(f"{source}: holds no public key")
    return keys


def verify_case_file(
    content: bytes, public_keys: TrustedKeys, registry: EventRegistry
) -> CaseFileReport:
    """Check a case file with nothing but the notary's public key(s); the report says
    what is proven, what is not, and every problem found (empty when it verifies)."""
    report = CaseFileReport()
    reader = FieldReader(report)
    with contextlib.suppress(Stop):
        _verify(content, public_keys, registry, report, reader)
    if not report.ok:
        report.proven = []
    return report


def _verify(
    content: bytes,
    public_keys: TrustedKeys,
    registry: EventRegistry,
    report: CaseFileReport,
    r: FieldReader,
) -> None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise r.stop(f"byte {exc.start}: the file is not UTF-8 text (altered?)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise r.stop(
            f"line {exc.lineno} column {exc.colno}: not a JSON document ({exc.msg})"
        ) from None
    if not isinstance(document, dict):
        raise r.stop("the file is not a JSON object")
    try:
        canonical = dumps(document)
    except (TypeError, ValueError) as exc:
        raise r.stop(f"the file holds a value no case file has ({exc})") from None
    if canonical != content:
        at = first_difference(canonical, content)
        line = content[:at].count(b"\n") + 1
        r.fail(
            f"byte {at} (line {line}): the file is not in the form it was exported in "
            "(edited, or re-saved by another program)"
        )
    doc = r.keys(document, DOC_KEYS, "the document")
    if doc["format"] != FORMAT:
        raise r.stop(f"format: {doc['format']!r} is not {FORMAT!r}")
    case_id = r.text(doc["case_id"], "case_id")
    stream_id = r.text(doc["stream_id"], "stream_id")
    report.case_id, report.stream_id = case_id, stream_id
    if stream_id != f"case-{case_id}":
        r.fail(f"stream_id: {stream_id!r} is not the stream of case {case_id!r}")
    personal = doc["personal_fields"]
    if personal not in PERSONAL_STATES:
        raise r.stop(f"personal_fields: {personal!r} is not one of {', '.join(PERSONAL_STATES)}")
    report.personal_fields = personal

    # The checkpoint and its signature.
    checkpoint: Checkpoint | None = None
    if doc["checkpoint"] is not None:
        c = r.keys(doc["checkpoint"], CHECKPOINT_KEYS, "checkpoint")
        checkpoint = Checkpoint(
            log_id=r.text(c["log_id"], "checkpoint.log_id"),
            sequence=r.count(c["sequence"], "checkpoint.sequence", 1),
            tree_size=r.count(c["tree_size"], "checkpoint.tree_size"),
            root_hash=r.hexbytes(c["root_hash"], "checkpoint.root_hash"),
            timestamp=r.time(c["timestamp"], "checkpoint.timestamp"),
            key_id=r.text(c["key_id"], "checkpoint.key_id"),
        )
        signature = r.hexbytes(c["signature"], "checkpoint.signature", 64)
        report.checkpoint = dict(c)
        public = public_keys.keys.get(checkpoint.key_id)
        if public is None:
            r.fail(
                f"checkpoint.key_id: the checkpoint is signed by key {checkpoint.key_id}, "
                f"not by the key given ({', '.join(sorted(public_keys.keys))})"
            )
        else:
            try:
                public.verify(signature, checkpoint.signed_bytes())
            except InvalidSignature:
                r.fail(
                    f"checkpoint #{checkpoint.sequence}: the signature does not verify with "
                    f"key {checkpoint.key_id} (the checkpoint or its signature was altered)"
                )

    # The client's data key, if disclosed.
    keys: dict[str, bytes | None] = {}
    if doc["client_key"] is not None:
        k = r.keys(doc["client_key"], CLIENT_KEY_KEYS, "client_key")
        keys[r.text(k["key_id"], "client_key.key_id")] = r.hexbytes(k["key"], "client_key.key")
        if personal != "disclosed":
            r.fail(f"client_key: present, but personal_fields is {personal!r}")
    elif personal == "disclosed":
        raise r.stop("client_key: personal fields are disclosed but no key is given")

    events = doc["events"]
    if not isinstance(events, list) or not events:
        raise r.stop("events: not a non-empty list")
    previous: bytes | None = None
    proven = 0
    sealed_total = 0
    for n, raw in enumerate(events, start=1):
        where = f"events[{n - 1}]"
        e = r.keys(raw, EVENT_KEYS, where)
        version = r.count(e["stream_version"], f"{where}.stream_version", 1)
        if version != n:
            raise r.stop(f"{where}.stream_version: {version}, expected {n} (not in order)")
        label = f"event v{version}"
        try:
            event_id = UUID(r.text(e["event_id"], f"{label} event_id"))
        except ValueError:
            raise r.stop(f"{label} event_id: not a UUID") from None
        if str(event_id) != e["event_id"]:
            raise r.stop(f"{label} event_id: not in canonical form (altered?)")
        label = f"event v{version} ({event_id})"
        event_type = r.text(e["event_type"], f"{label} event_type")
        schema_version = r.count(e["schema_version"], f"{label} schema_version", 1)
        occurred_at = r.time(e["occurred_at"], f"{label} occurred_at")
        data_text = r.text(e["data_text"], f"{label} data_text")
        metadata_text = r.text(e["metadata_text"], f"{label} metadata_text")
        previous_hash = (
            None
            if e["previous_hash"] is None
            else r.hexbytes(e["previous_hash"], f"{label} previous_hash")
        )
        stored_hash = r.hexbytes(e["hash"], f"{label} hash")
        if previous_hash != previous:
            r.fail(
                f"{label}: previous_hash is not the hash of the event before it "
                "(the chain is broken: an event was removed, added or reordered)"
            )
        recomputed = event_hash(
            previous_hash,
            stream_id,
            version,
            event_id,
            event_type,
            schema_version,
            occurred_at,
            data_text,
            metadata_text,
        )
        if recomputed != stored_hash:
            r.fail(f"{label}: its hash does not match its contents (altered)")
        previous = stored_hash
        try:
            stored_data = json.loads(data_text)
            metadata = json.loads(metadata_text)
        except json.JSONDecodeError:
            raise r.stop(f"{label} data_text/metadata_text: not JSON") from None
        if not isinstance(stored_data, dict) or not isinstance(metadata, dict):
            raise r.stop(f"{label} data_text/metadata_text: not JSON objects")

        # Within the checkpoint's tree?
        view = EventView(
            stream_version=version,
            event_id=str(event_id),
            event_type=event_type,
            occurred_at=e["occurred_at"],
            actor=f"{metadata.get('actor_id')} ({metadata.get('actor_role')})",
            data=None,
            notarised=e["notarised"] is not None,
        )
        if e["notarised"] is not None:
            if checkpoint is None:
                raise r.stop(f"{label} notarised: there is no checkpoint to be notarised in")
            if proven != n - 1:
                raise r.stop(f"{label} notarised: follows an event that is not notarised")
            t = r.keys(e["notarised"], NOTARISED_KEYS, f"{label} notarised")
            position = r.count(t["global_position"], f"{label} global_position", 1)
            recorded_at = r.time(t["recorded_at"], f"{label} recorded_at")
            leaf_index = r.count(t["leaf_index"], f"{label} leaf_index")
            proof_raw = t["inclusion_proof"]
            if not isinstance(proof_raw, list):
                raise r.stop(f"{label} inclusion_proof: not a list")
            proof = [
                r.hexbytes(h, f"{label} inclusion_proof[{i}]") for i, h in enumerate(proof_raw)
            ]
            leaf = leaf_hash(
                event_leaf_bytes(
                    global_position=position,
                    stream_id=stream_id,
                    stream_version=version,
                    event_id=event_id,
                    event_type=event_type,
                    schema_version=schema_version,
                    occurred_at=occurred_at,
                    recorded_at=recorded_at,
                    data_text=data_text,
                    metadata_text=metadata_text,
                    previous_hash=previous_hash,
                    hash=stored_hash,
                )
            )
            try:
                root = root_from_inclusion_proof(leaf, leaf_index, checkpoint.tree_size, proof)
            except ProofError as exc:
                root = None
                r.fail(f"{label}: its inclusion proof is malformed ({exc})")
            if root is not None and root != checkpoint.root_hash:
                r.fail(
                    f"{label}: its inclusion proof does not lead to checkpoint "
                    f"#{checkpoint.sequence}'s root (the event, its position or its proof "
                    "was altered)"
                )
            proven += 1
            view.global_position, view.recorded_at = position, t["recorded_at"]

        # Personal fields.
        sealed = sealed_fields(stored_data)
        sealed_total += len(sealed)
        shown = e["data"]
        if personal in ("withheld", "none") or not sealed:
            if shown is not None:
                r.fail(f"{label} data: present, but nothing of it is disclosed or erased")
            view.data = _mask(stored_data)
        else:
            try:
                opening = (
                    keys
                    if personal == "disclosed"
                    else {envelope_key_id(envelope): None for _, envelope in sealed}
                )
                expected = open_sealed_data(registry, event_type, stored_data, opening, label)
            except CryptoKeyError as exc:
                r.fail(str(exc))
                expected = None
            except (UnknownEventType, ValueError, TypeError) as exc:
                r.fail(f"{label} data: cannot be checked ({exc})")
                expected = None
            if expected is not None and shown != expected:
                r.fail(
                    f"{label} data.{_differs_at(shown, expected)}: not "
                    + (
                        "what the stored event holds, its personal fields decrypted from "
                        "the stored ciphertext (altered)"
                        if personal == "disclosed"
                        else "what the stored event holds, its personal fields erased (altered)"
                    )
                )
            view.data = shown
        report.events.append(view)

    if personal == "none" and sealed_total:
        r.fail("personal_fields: 'none', but the events hold sealed personal fields")
    if personal != "none" and not sealed_total:
        r.fail(f"personal_fields: {personal!r}, but no event holds a sealed personal field")

    statements(report, checkpoint, proven, len(events), personal)


def _differs_at(shown: Any, expected: Any, where: str = "") -> str:
    """The first path at which two JSON values differ (for naming what was altered)."""
    if isinstance(shown, dict) and isinstance(expected, dict):
        for key in sorted(set(shown) | set(expected)):
            if shown.get(key, ...) != expected.get(key, ...):
                return _differs_at(shown.get(key), expected.get(key), f"{where}.{key}")
    if isinstance(shown, list) and isinstance(expected, list) and len(shown) == len(expected):
        for i, (a, b) in enumerate(zip(shown, expected, strict=True)):
            if a != b:
                return _differs_at(a, b, f"{where}[{i}]")
    return where.lstrip(".") or "(whole)"


def _mask(data: Any) -> Any:
    """Stored data with each sealed field shown as `[sealed]`."""
    masked = json.loads(json.dumps(data))
    for where, _ in sealed_fields(data):
        node = masked
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = "[sealed]"
    return masked


__all__ = [
    "CHECKPOINT_KEYS",
    "CLIENT_KEY_KEYS",
    "DOC_KEYS",
    "EVENT_KEYS",
    "FORMAT",
    "NOTARISED_KEYS",
    "PERSONAL_STATES",
    "CaseFileError",
    "CaseFileReport",
    "EventView",
    "checkpoint_entry",
    "dumps",
    "envelope_key_id",
    "load_public_keys",
    "notarised",
    "stored_event",
    "time_text",
    "verify_case_file",
]
