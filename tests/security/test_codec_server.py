"""The codec server speaks Temporal's codec protocol over real HTTP (as an operator with a
personal access token: tests/security/test_codec_front_door.py tests the door itself)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from temporalio.api.common.v1 import Payload

from casework.codec_server import CodecServer
from events.keys import MasterKeyring
from events.origin import OriginKeyring
from events.store import EventStore
from infrastructure.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec, Keyring
from tests.codec_keys import TEST_CODEC_KEYS, settings_for_tests
from tests.security.test_codec_front_door import FrontDoor, front_door, parse, request_body
from tests.security.test_codec_front_door import b64 as _b64

UI = "http://127.0.0.1:8233"


@pytest.fixture
async def door(sealed_store: EventStore) -> AsyncIterator[FrontDoor]:
    settings = settings_for_tests(
        metrics_port=0, codec_allowed_origins=f"{UI},http://localhost:8233"
    )
    async with front_door(sealed_store, settings) as opened:
        yield opened


@pytest.fixture
def server(door: FrontDoor) -> CodecServer:
    return door.server


@pytest.fixture
async def http(door: FrontDoor) -> AsyncIterator[aiohttp.ClientSession]:
    """A client that sends an operator's personal access token with every request."""
    token = (await door.access_token("otto")).token
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        yield session


async def test_encode_then_decode_round_trips(
    server: CodecServer, http: aiohttp.ClientSession
) -> None:
    original = Payload(
        metadata={"encoding": b"json/plain"}, data=b'{"name":"Rosalind Quennell-Ashby"}'
    )
    headers = {"X-Namespace": "default", "Origin": UI}
    async with http.post(
        f"{server.url}/encode", json=request_body(original), headers=headers
    ) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == UI
        encoded_body = await response.json()
    (encoded,) = parse(encoded_body)
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID_METADATA] == b"test-1"
    assert "Rosalind" not in json.dumps(encoded_body)
    assert _b64(b"Rosalind") not in json.dumps(encoded_body)

    async with http.post(f"{server.url}/decode", json=encoded_body, headers=headers) as response:
        assert response.status == 200
        assert parse(await response.json()) == [original]


async def test_decode_reads_what_the_worker_encrypted(
    server: CodecServer, http: aiohttp.ClientSession
) -> None:
    """The UI sends the payloads exactly as the history holds them (base64 in JSON)."""
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')
    (sealed,) = await EncryptionCodec(Keyring.parse(TEST_CODEC_KEYS)).encode([original])
    body = {
        "payloads": [
            {
                "metadata": {k: _b64(v) for k, v in sealed.metadata.items()},
                "data": _b64(sealed.data),
            },
            {"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(b"1")},
        ]
    }
    async with http.post(f"{server.url}/decode", json=body) as response:
        assert response.status == 200
        decoded = await response.json()
    assert decoded["payloads"][0]["data"] == _b64(b'"hello"')
    assert decoded["payloads"][1]["data"] == _b64(b"1")  # not encrypted: as it was


async def test_an_unknown_key_id_is_an_error_status(
    server: CodecServer, http: aiohttp.ClientSession
) -> None:
    (sealed,) = await EncryptionCodec(Keyring.generate("someone-elses")).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b"1")]
    )
    async with http.post(f"{server.url}/decode", json=request_body(sealed)) as response:
        assert response.status == 422
        error = (await response.json())["error"]
    assert "someone-elses" in error
    assert "test-1" in error
    assert TEST_CODEC_KEYS.split(":")[1][:10] not in error


async def test_bad_requests(server: CodecServer, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.url}/decode", data=b"not json") as response:
        assert response.status == 400
    async with http.post(
        f"{server.url}/decode", json={"payloads": []}, headers={"X-Namespace": "other"}
    ) as response:
        assert response.status == 403
    async with http.get(f"{server.url}/decode") as response:
        assert response.status == 405


async def test_cors_preflight_from_the_temporal_ui(
    server: CodecServer, http: aiohttp.ClientSession
) -> None:
    for origin in (UI, "http://localhost:8233"):
        async with http.options(
            f"{server.url}/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        ) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
            assert "X-Namespace" in response.headers["Access-Control-Allow-Headers"]
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
    async with http.options(
        f"{server.url}/decode", headers={"Origin": "http://evil.example"}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_cli_command_serves_until_interrupted(
    tmp_path: Any, database_url: str, sealed_store: EventStore, master_keyring: MasterKeyring
) -> None:
    # An operator's token in the database the command serves from (the command's clock is
    # the system's, so the token is made at the system's time).
    async with front_door(sealed_store, settings_for_tests(metrics_port=0)) as door:
        door.clock.now = datetime.now(UTC)
        token = (await door.access_token("otto")).token
    env = {
        **os.environ,
        "CASEWORK_CODEC_KEYS": TEST_CODEC_KEYS,
        # The store's own master key; the access log's events are signed with any key.
        "CASEWORK_MASTER_KEYS": master_keyring.to_spec(),
        "CASEWORK_ORIGIN_KEYS": OriginKeyring.generate("test-origin").to_spec(),
        "CASEWORK_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "CASEWORK_METRICS_PORT": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter",
        "codec-server",
        "--port",
        "0",
        "--allow-origin",
        "http://localhost:8080",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        ready = json.loads(line)
        assert ready["status"] == "ready"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{ready['url']}/health") as response:
                assert (await response.json())["current_key_id"] == "test-1"
            async with http.options(
                f"{ready['url']}/decode", headers={"Origin": "http://localhost:8080"}
            ) as response:
                assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
            async with http.post(f"{ready['url']}/decode", json={"payloads": []}) as response:
                assert response.status == 401
            async with http.post(
                f"{ready['url']}/decode",
                json={"payloads": []},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200, await response.text()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
