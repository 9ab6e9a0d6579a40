"""The API of an `Api` fixture (tests/api/conftest.py) served by uvicorn on a real socket,
for tests of what only a real HTTP connection shows: chunked bodies, a Content-Length
that lies, a connection that drops before its answer.

    async with on_a_socket(api) as base_url: ...      # http://127.0.0.1:<free port>
    async with losing_first_answer(base_url) as proxy: ...

`on_a_socket` serves a second `create_api` over the very same `Casework` (database, case
worker, clock) as `api.http`, so sessions made through either work on both.
`losing_first_answer` is a TCP proxy in front of it that hands the first request on,
waits for the server's whole answer, and then drops the client's connection without it
(what a client sees when its connection breaks after the server acted); every later
connection passes through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn

from casework.api.app import create_api
from infrastructure.embedded_postgres import free_port
from tests.api.conftest import Api

READY_WITHIN_S = 30.0


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the test runner owns them)."""

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        await self._serve(sockets)


@asynccontextmanager
async def on_a_socket(api: Api) -> AsyncIterator[str]:
    """`api`'s application served by uvicorn on 127.0.0.1: its base URL."""
    app = create_api(api.app.settings, casework=api.app, clock=api.clock)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + READY_WITHIN_S
    while not server.started:
        assert not serving.done(), "uvicorn stopped before it served"
        assert asyncio.get_running_loop().time() < deadline, "uvicorn never served"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=30)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length (as uvicorn answers JSON): its status,
    its head and its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length)
    return status, head, body


@dataclass
class LosingProxy:
    url: str
    lost: list[bytes] = field(default_factory=list)
    """The bodies of the answers the server gave and the client never got."""
    connections: int = 0


@asynccontextmanager
async def losing_first_answer(upstream: str) -> AsyncIterator[LosingProxy]:
    """A proxy to `upstream` (http://host:port) that loses the first answer."""
    host, _, port = upstream.removeprefix("http://").partition(":")
    proxy = LosingProxy(url="")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until the reader's end, then end the writer's side too."""
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        proxy.connections += 1
        first = proxy.connections == 1
        server_r, server_w = await asyncio.open_connection(host, int(port))
        upwards = asyncio.create_task(pipe(client_r, server_w))
        try:
            if first:
                _, _, body = await read_response(server_r)
                proxy.lost.append(body)
                client_w.transport.abort()  # the connection breaks: the answer is lost
            else:
                await pipe(server_r, client_w)
                await upwards
        finally:
            upwards.cancel()
            server_w.close()
            client_w.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield proxy
    finally:
        listener.close()
        await listener.wait_closed()
