"""Personal fields sealed in the event log with the client's data key.

`FieldCipher` is what `EventStore(pool, cipher=...)` uses:

* `seal` runs in `append`, after validation and before the INSERT: each personal
  field (events/personal.py) is replaced by an envelope string
  `enc:v1:<key_id>:<base64url(nonce ‖ AES-256-GCM ciphertext)>` of its JSON value,
  with the field's path as associated data (an envelope moved to another field does
  not open). The hash chain is computed by the database over these stored bytes, so
  it covers ciphertext, and destroying a key never changes it.
* `open` runs on every read: each envelope in an event's data is replaced by its
  value; if the client's data key was destroyed, by the field's erased value, so
  the event still decodes into a valid model. Events without envelopes (streams
  without a client, events written without a cipher) are returned as stored.

A stream's client is the `client_ref` of its CaseOpened: appending the CaseOpened
makes the client's data key if needed, and links the stream to the client in the
same INSERT statement as the event.

Appends to a stream already linked to a client use a short-lived, bounded per-process
cache of its live data key (`key_cache_seconds`, `key_cache_size`), so a steady command
costs one SQL statement, not a key lookup and an INSERT. The cache can never outlive an
erasure on disk: every append sealed with a live key names it (`SealedAppend.live_key`),
and the store's INSERT writes only if that key is still live *in the same statement*.
`forget` destroys the key in the database (from another process); an append whose
statement starts after that finds the key destroyed, writes nothing, drops the cached
key (`drop_cached_key`) and seals again from the database, storing the fields erased.
So no event sealed with a destroyed key is written once `forget` has returned, and no
read ever opens a field with a cached key (reads always look their keys up).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.envelope import NewEvent, RecordedEvent
from events.keys import (
    NONCE_BYTES,
    ClientKeys,
    CryptoKeyError,
    Database,
    DataKey,
    KeyIntegrityError,
    MasterKeyring,
    UnknownDataKey,
)
from events.personal import (
    ERASED_TEXT,
    Step,
    clone,
    erase_personal_data,
    erased_at,
    map_personal,
    personal_paths,
)
from events.registry import EventRegistry, EventValidationError, UnknownEventType, event_type_of
from events.store import SealedAppend
from events.vocabulary import CaseOpened

log = structlog.get_logger("casework.crypto")

ENVELOPE_PREFIX = "enc:v1:"
"""How a sealed personal field starts; plaintext starting so is refused on append."""

OPENING_EVENT = event_type_of(CaseOpened)
"""The event that names a stream's client (in its `client_ref`)."""


class NoClientForStream(CryptoKeyError):
    """Personal data appended to a stream that no CaseOpened linked to a client."""


class ClientAlreadyForgotten(CryptoKeyError):
    """A case opened for a client whose data key was destroyed."""


def _aad(key_id: str, where: Sequence[Step]) -> bytes:
    path = json.dumps([str(step) for step in where], separators=(",", ":"))
    return f"casework/field/v1|{key_id}|{path}".encode()


def _dotted(where: Sequence[Step]) -> str:
    return ".".join(str(step) for step in where)


class FieldCipher:
    """Seals and opens the personal fields of events with their client's data key."""

    def __init__(
        self,
        keyring: MasterKeyring,
        *,
        key_cache_seconds: float = 60.0,
        key_cache_size: int = 1024,
    ) -> None:
        self.keys = ClientKeys(keyring)
        self.key_cache_seconds = key_cache_seconds
        """How long a stream's live data key is kept for sealing (0: never cached)."""
        self.key_cache_size = key_cache_size
        self._live: OrderedDict[str, tuple[float, DataKey, AESGCM]] = OrderedDict()
        """stream_id -> (expires at, its client's live data key, the key's AEAD): for
        sealing only, every use confirmed by the append's own INSERT (see module doc)."""

    def _cached(self, stream_id: str) -> tuple[DataKey, AESGCM] | None:
        entry = self._live.get(stream_id)
        if entry is None:
            return None
        expires, key, aead = entry
        if time.monotonic() >= expires:
            del self._live[stream_id]
            return None
        self._live.move_to_end(stream_id)
        return key, aead

    def _remember(self, stream_id: str, key: DataKey, aead: AESGCM) -> None:
        if self.key_cache_seconds <= 0 or self.key_cache_size <= 0:
            return
        self._live[stream_id] = (time.monotonic() + self.key_cache_seconds, key, aead)
        self._live.move_to_end(stream_id)
        while len(self._live) > self.key_cache_size:
            self._live.popitem(last=False)

    def drop_cached_key(self, key_id: str) -> None:
        """Forget every cached copy of data key `key_id` (an append found it destroyed)."""
        for stream_id in [s for s, (_, key, _a) in self._live.items() if key.key_id == key_id]:
            del self._live[stream_id]

    # --- writing ---------------------------------------------------------------------

    async def seal(
        self, db: Database, registry: EventRegistry, stream_id: str, events: Sequence[NewEvent]
    ) -> SealedAppend:
        """The events with every personal field sealed (they were validated already).

        Raises EventValidationError for plaintext that looks like an envelope,
        NoClientForStream for personal data on a stream without a client, and
        ClientAlreadyForgotten for a case opened for a forgotten client. Fields of a
        forgotten client's later events are stored erased (and a warning logged).
        """
        models = [registry.model(e.event_type) for e in events]
        for event in events:
            _refuse_envelopes(event.event_type, event.data, ())
        opening = next((e for e in events if e.event_type == OPENING_EVENT), None)
        link_client = str(opening.data["client_ref"]) if opening is not None else None
        if link_client is None and not any(personal_paths(m) for m in models):
            return SealedAppend(list(events), None)
        key: DataKey | None
        aead: AESGCM | None = None
        if link_client is None and (cached := self._cached(stream_id)) is not None:
            key, aead = cached
        elif link_client is not None:
            key = await self.keys.for_client(db, link_client)
            if key.destroyed:
                raise ClientAlreadyForgotten(
                    f"client {link_client!r} was forgotten: open the case under a new "
                    "client reference"
                )
        else:
            key = await self.keys.for_stream(db, stream_id)
            if key is None:
                raise NoClientForStream(
                    f"stream {stream_id!r} has no client (no CaseOpened through a store "
                    "with a cipher): its personal fields cannot be encrypted"
                )
        if aead is None and key.key is not None:
            aead = AESGCM(key.key)
            if link_client is None:
                self._remember(stream_id, key, aead)
        sealed: list[NewEvent] = []
        for event, model in zip(events, models, strict=True):
            if not personal_paths(model):
                sealed.append(event)
                continue
            if aead is None:
                log.warning(
                    "crypto.personal_data_of_forgotten_client_dropped",
                    stream_id=stream_id,
                    event_type=event.event_type,
                    key_id=key.key_id,
                )
                data = erase_personal_data(model, event.data)
            else:
                data = map_personal(model, event.data, _sealer(aead, key.key_id))
            sealed.append(event.model_copy(update={"data": data}))
        # Sealed with a live key: the INSERT writes only if it is still live then.
        live_key = key.key_id if aead is not None and link_client is None else None
        return SealedAppend(sealed, link_client, live_key)

    # --- reading ---------------------------------------------------------------------

    async def open(
        self, db: Database, registry: EventRegistry, records: Sequence[RecordedEvent]
    ) -> list[RecordedEvent]:
        """The records with every sealed field opened (or erased if its key is destroyed).

        Raises UnknownDataKey for a field sealed with a key not in `client_keys`,
        UnknownMasterKey if a key's master key is not configured, and
        KeyIntegrityError if a field or key does not authenticate.
        """
        found: list[list[tuple[tuple[Step, ...], str]]] = []
        key_ids: set[str] = set()
        for record in records:
            envelopes: list[tuple[tuple[Step, ...], str]] = []
            _find_envelopes(record.data, (), envelopes)
            found.append(envelopes)
            key_ids.update(_key_id(envelope) for _, envelope in envelopes)
        if not key_ids:
            return list(records)
        keys = await self.keys.by_ids(db, key_ids)
        opened: list[RecordedEvent] = []
        for record, envelopes in zip(records, found, strict=True):
            if not envelopes:
                opened.append(record)
                continue
            data = clone(record.data)
            for where, envelope in envelopes:
                _set(data, where, self._open_field(registry, record, where, envelope, keys))
            opened.append(record.model_copy(update={"data": data}))
        return opened

    def _open_field(
        self,
        registry: EventRegistry,
        record: RecordedEvent,
        where: tuple[Step, ...],
        envelope: str,
        keys: Mapping[str, DataKey],
    ) -> Any:
        key_id = _key_id(envelope)
        key = keys.get(key_id)
        if key is None:
            raise UnknownDataKey(
                f"{_describe(record)}: field {_dotted(where)} is sealed with data key "
                f"{key_id!r}, which is not in client_keys (was the key table restored "
                "without it, or the event copied from another database?)"
            )
        if key.key is None:
            try:
                return clone(erased_at(registry.model(record.event_type), where))
            except UnknownEventType:
                return ERASED_TEXT
        try:
            sealed = base64.urlsafe_b64decode(envelope[len(ENVELOPE_PREFIX) + len(key_id) + 1 :])
            plain = AESGCM(key.key).decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(key_id, where)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyIntegrityError(
                f"{_describe(record)}: field {_dotted(where)} does not open with data key "
                f"{key_id!r} (altered, or moved from another field)"
            ) from None
        return json.loads(plain)

    def erase(self, registry: EventRegistry, event_type: str, data: Mapping[str, Any]) -> Any:
        """Event data with every personal field at its erased value (as a forgotten
        client's events read)."""
        return erase_personal_data(registry.model(event_type), data)


def _sealer(aead: AESGCM, key_id: str) -> Any:
    def seal(where: tuple[Step, ...], value: Any) -> str:
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + aead.encrypt(nonce, plain, _aad(key_id, where))
        return f"{ENVELOPE_PREFIX}{key_id}:{base64.urlsafe_b64encode(sealed).decode()}"

    return seal


def _key_id(envelope: str) -> str:
    return envelope[len(ENVELOPE_PREFIX) :].split(":", 1)[0]


def _describe(record: RecordedEvent) -> str:
    return f"event {record.event_id} ({record.stream_id} v{record.stream_version})"


def _find_envelopes(
    node: Any, where: tuple[Step, ...], out: list[tuple[tuple[Step, ...], str]]
) -> None:
    if isinstance(node, str):
        if node.startswith(ENVELOPE_PREFIX):
            out.append((where, node))
    elif isinstance(node, dict):
        for key, value in node.items():
            _find_envelopes(value, (*where, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _find_envelopes(value, (*where, index), out)


def _refuse_envelopes(event_type: str, node: Any, where: tuple[Step, ...]) -> None:
    if isinstance(node, str):
        if node.startswith(ENVELOPE_PREFIX):
            raise EventValidationError(
                event_type, [f"{_dotted(where)}: must not start with {ENVELOPE_PREFIX!r}"]
            )
    elif isinstance(node, dict):
        for key, value in node.items():
            _refuse_envelopes(event_type, value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _refuse_envelopes(event_type, value, (*where, index))


def _set(data: Any, where: tuple[Step, ...], value: Any) -> None:
    node = data
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value


def sealed_fields(data: Any) -> list[tuple[tuple[Step, ...], str]]:
    """Where the stored `data` holds sealed personal fields: (path, envelope) pairs."""
    found: list[tuple[tuple[Step, ...], str]] = []
    _find_envelopes(data, (), found)
    return found


def open_sealed_data(
    registry: EventRegistry,
    event_type: str,
    data: Any,
    keys: Mapping[str, bytes | None],
    describe: str,
) -> Any:
    """Stored `data` with every sealed field opened with `keys` (data key id -> key, None
    for a destroyed key: the field's erased value). Pure: no database. Raises
    UnknownDataKey for a key not given, KeyIntegrityError for a field that does not
    authenticate (altered, or moved from another field)."""
    opened = clone(data)
    for where, envelope in sealed_fields(data):
        key_id = _key_id(envelope)
        if key_id not in keys:
            raise UnknownDataKey(
                f"{describe}: field {_dotted(where)}: data key {key_id!r} not given"
            )
        key = keys[key_id]
        if key is None:
            try:
                value = clone(erased_at(registry.model(event_type), where))
            except UnknownEventType:
                value = ERASED_TEXT
        else:
            try:
                sealed = base64.urlsafe_b64decode(
                    envelope[len(ENVELOPE_PREFIX) + len(key_id) + 1 :]
                )
                value = json.loads(
                    AESGCM(key).decrypt(
                        sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(key_id, where)
                    )
                )
            except (InvalidTag, binascii.Error, ValueError):
                raise KeyIntegrityError(
                    f"{describe}: field {_dotted(where)} does not open with data key "
                    f"{key_id!r} (altered, or moved from another field)"
                ) from None
        _set(opened, where, value)
    return opened


# --- forgetting a client --------------------------------------------------------------------
