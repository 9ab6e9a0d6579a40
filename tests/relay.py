"""A TCP relay to the tests' real PostgreSQL, on a port of our own, that a test can cut.

While the relay does not listen, its port refuses connections, as a server that is down
or restarting does; once it listens, the real server answers through it. `cut()` aborts
every connection made through it, as a server that is restarted (or a network that
drops) does: the clients see their connection end in the middle of whatever they were
doing. No server is stopped or reconfigured: only our own sockets are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit


def through_port(dsn: str, port: int) -> str:
    """`dsn` with its host and port replaced by 127.0.0.1:`port`."""
    parts = urlsplit(dsn)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Relay:
    """Forwards connections on `port` to the server of `target` while it listens."""

    def __init__(self, port: int, target: str) -> None:
        parts = urlsplit(target)
        self.port = port
        self.host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 5432
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def _forward(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        pair = {client_w, server_w}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))
        finally:
            self._writers -= pair

    async def listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def cut(self) -> int:
        """Abort every connection made through the relay; return how many."""
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers) // 2

    async def down(self) -> int:
        """Refuse new connections and cut the live ones (a server that went away)."""
        await self.stop_listening()
        return self.cut()


@contextlib.asynccontextmanager
async def relay(port: int, target: str) -> AsyncIterator[Relay]:
    """A relay listening on `port` for the duration; every connection cut at the end."""
    forwarding = Relay(port, target)
    await forwarding.listen()
    try:
        yield forwarding
    finally:
        await forwarding.stop_listening()
