"""The payload codec, and what Temporal actually stores: ciphertext only."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
)
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from events.store import EventStore
from infrastructure.codec import (
    DEV_KEYRING_PATH,
    ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    Keyring,
    UnknownKeyError,
    development_keyring,
)
from infrastructure.logs import configure_logging
from infrastructure.settings import LogFormat, Settings
from infrastructure.temporal import PLAIN_DATA_CONVERTER, data_converter, keyring
from tests.cases import inputs
from tests.codec_keys import TEST_CODEC_KEYS, settings_for_tests
from tests.workflows.conftest import case_harness
from workflows.case import CaseWorkflow

CLIENT_NAME = "Rosalind Quennell-Ashby"
HISTORIES = Path(__file__).resolve().parent.parent / "workflows" / "histories"


def plain(data: bytes, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=data)


# --- the codec on its own -------------------------------------------------------------


async def test_encode_encrypts_with_the_current_key_and_decode_restores() -> None:
    codec = EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS))
    original = plain(b'{"name": "Rosalind Quennell-Ashby"}')
    (encoded,) = await codec.encode([original])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID_METADATA] == b"test-1"
    assert b"Rosalind" not in encoded.SerializeToString()
    assert await codec.decode([encoded]) == [original]


async def test_every_payload_gets_its_own_nonce() -> None:
    codec = EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS))
    first, second = await codec.encode([plain(b"same"), plain(b"same")])
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


async def test_rotation_old_payloads_stay_readable() -> None:
    old = Keyring.generate("2025-01")
    (sealed_before,) = await EncryptionCodec(old).encode([plain(b"before")])
    rotated = old.rotated("2026-01")
    assert rotated.current == "2026-01"
    assert Keyring.parse(rotated.serialise()) == rotated
    codec = EncryptionCodec(rotated)
    (sealed_after,) = await codec.encode([plain(b"after")])
    assert sealed_after.metadata[KEY_ID_METADATA] == b"2026-01"
    assert [p.data for p in await codec.decode([sealed_before, sealed_after])] == [
        b"before",
        b"after",
    ]


async def test_an_unknown_key_id_is_a_clear_error() -> None:
    (sealed,) = await EncryptionCodec(Keyring.generate("retired")).encode([plain(b"x")])
    with pytest.raises(UnknownKeyError, match=r"'retired'.*test-1, test-0"):
        await EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS)).decode([sealed])


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS))
    (sealed,) = await codec.encode([plain(b"x")])
    forged = Payload()
    forged.CopyFrom(sealed)
    forged.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([forged])
    # The key id is authenticated too: relabelling a payload does not decrypt it.
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"test-0"
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([relabelled])


async def test_decode_passes_unencrypted_payloads_through() -> None:
    codec = EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS))
    payloads = [plain(b'"hello"'), plain(b"", b"binary/null")]
    assert await codec.decode(payloads) == payloads


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("nokey", "'id:base64key'"),
        ("a:!!!", "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "needs 32"),
        ("a:{k},a:{k}", "appears twice"),
        ("bad id:{k}", "letters, digits"),
    ],
)
def test_malformed_keyrings_are_refused(text: str, message: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(CodecError, match=message):
        Keyring.parse(text.format(k=key))


def test_keys_do_not_appear_in_reprs() -> None:
    ring = Keyring.parse(TEST_CODEC_KEYS)
    settings = settings_for_tests()
    assert "UgeHP2" not in repr(ring)
    assert "UgeHP2" not in repr(settings)
    assert keyring(settings) == ring


def test_without_codec_keys_a_development_keyring_is_made_once(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, "codec_keys": None})
    first = keyring(settings)
    path = tmp_path / DEV_KEYRING_PATH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyring(settings) == first
    assert development_keyring(tmp_path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_codec_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORK_CODEC_KEYS", TEST_CODEC_KEYS)
    assert Settings().codec_keys == SecretStr(TEST_CODEC_KEYS)
    assert keyring(Settings()).current == "test-1"


# --- histories recorded before the codec ----------------------------------------------


async def test_histories_recorded_without_the_codec_still_replay() -> None:
    """tests/workflows/histories predate the codec: decode passes their payloads through."""
    for path in sorted(HISTORIES.glob("*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        replayer = Replayer(
            workflows=[CaseWorkflow], data_converter=data_converter(settings_for_tests())
        )
        await replayer.replay_workflow(history)


# --- what Temporal stores ---------------------------------------------------------------


def _payloads(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload inside a protobuf message, with the field path leading to it."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from _payloads(item, f"{where}[{key}]")
        elif getattr(field, "is_repeated", False) or isinstance(value, Sequence):
            for i, item in enumerate(value):
                yield from _payloads(item, f"{where}[{i}]")
        else:
            yield from _payloads(value, where)


async def test_temporal_stores_only_encrypted_payloads(
    time_skipping_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    logging_restored: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Everything logged meanwhile, at DEBUG, as JSON lines, is scanned at the end.
    configure_logging(
        settings_for_tests(CASEWORK_LOG_FORMAT=LogFormat.JSON, CASEWORK_LOG_LEVEL="DEBUG"),
        force=True,
    )
    logging.getLogger().setLevel(logging.DEBUG)
    store = EventStore(pool)
    async with case_harness(time_skipping_env, store) as cases:
        opened = inputs.open_case()
        assert opened.client.name == CLIENT_NAME
        await cases.open(opened)
        await cases.execute(opened.case_id, inputs.consent())
        await cases.execute(opened.case_id, inputs.assessment())
        state = await cases.state(opened.case_id)
        assert state.client is not None
        assert state.client.name == CLIENT_NAME  # the codec's own client reads it

        # A client WITHOUT the codec, on the same server: what anyone with access to
        # Temporal (its database, its UI, `temporal workflow show`) sees.
        raw = Client(
            time_skipping_env.client.service_client,
            namespace=time_skipping_env.client.namespace,
            data_converter=PLAIN_DATA_CONVERTER,
        )
        execution = WorkflowExecution(workflow_id=cases.handle(opened.case_id).id)
        history = History()
        page = b""
        while True:
            response = await raw.workflow_service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace=raw.namespace, execution=execution, next_page_token=page
                )
            )
            history.events.extend(response.history.events)
            page = response.next_page_token
            if not page:
                break
        described = await raw.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=raw.namespace, execution=execution)
        )

    needles = [CLIENT_NAME.encode(), b"Quennell", b"555-0142", b"12 Elm Row"]
    logged = capfd.readouterr()
    assert "events appended" in logged.err  # the activity's debug line was captured
    for needle in needles:
        assert needle.decode() not in logged.out + logged.err, needle
    for needle in needles:
        assert needle not in history.SerializeToString(), needle
        assert needle not in described.SerializeToString(), needle

    payloads = list(_payloads(history))
    searchable = [(w, p) for w, p in payloads if ".search_attributes." in w]
    # The SDK's own bookkeeping in markers (a local activity's sequence number,
    # attempt, type and time; a patch's id) is written by the SDK core outside the data
    # converter; a local activity's result does go through the codec.
    bookkeeping = [
        (w, p)
        for w, p in payloads
        if ".marker_recorded_event_attributes.details[" in w and ".details[result]" not in w
    ]
    encrypted = [(w, p) for w, p in payloads if (w, p) not in searchable + bookkeeping]
    assert len(encrypted) >= 6
    for where, payload in encrypted:
        assert payload.metadata["encoding"] == ENCODING, where
        assert payload.metadata[KEY_ID_METADATA] == b"test-1", where
    assert any("marker_recorded_event_attributes.details[result]" in w for w, _ in encrypted)
    for _, payload in bookkeeping:  # small JSON objects of ids, counters and times
        assert isinstance(json.loads(payload.data), dict)
        assert len(payload.data) < 400
    assert searchable, "the case's search attributes should be in the history"
    search_attributes = described.workflow_execution_info.search_attributes
    assert search_attributes.indexed_fields, "and on the execution"

    # The history does hold the client: encrypted. The codec reads it back.
    started = history.events[0].workflow_execution_started_event_attributes
    codec = EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS))
    decoded = await codec.decode(list(started.input.payloads))
    assert CLIENT_NAME.encode() in b"".join(p.data for p in decoded)
    value: Any = PLAIN_DATA_CONVERTER.payload_converter.from_payloads(decoded)[0]
    assert CLIENT_NAME in str(value)
