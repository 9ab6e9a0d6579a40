"""Virus scanning of uploads with ClamAV's daemon, clamd, over its INSTREAM protocol.

Optional: on when CASEWORK_CLAMD_ADDRESS is set (`unix:/run/clamav/clamd.ctl`,
`tcp:127.0.0.1:3310` or `127.0.0.1:3310`). An upload is streamed to clamd as it
arrives, never held whole in memory:

    async with scanner.scan() as session:
        async for chunk in upload:
            await session.feed(chunk)
        verdict = await session.verdict()
    if not verdict.clean:
        ...  # refuse the upload (verdict.signature names what clamd found)

The caller refuses an infected upload, and fails closed: when clamd cannot be reached,
closes the connection, does not answer in time or answers ERROR (an upload over its
StreamMaxLength, say), `scan()`, `feed()` and `verdict()` raise `ScannerUnavailable`, an
`EnvironmentProblem` naming CASEWORK_CLAMD_ADDRESS, never a verdict.

The protocol (clamd(8)): the null-terminated command b"zINSTREAM\\0", then the data in
chunks, each preceded by its length as 4 bytes big-endian, then a chunk of length zero;
clamd answers one line ended by b"\\0": "stream: OK", "stream: <signature> FOUND" or
"<reason> ERROR". `ping()` sends b"zPING\\0" and expects b"PONG\\0".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn

from infrastructure.environment import EnvironmentProblem, one_line
from infrastructure.logs import get_logger
from infrastructure.settings import Settings

SETTING = "CASEWORK_CLAMD_ADDRESS"
"""The setting that names clamd's address (infrastructure/settings.py `clamd_address`)."""

CHUNK_BYTES = 256 * 1024
"""The most data one INSTREAM chunk carries; a larger `feed` is sent in pieces."""

UNIX_PATH_MAX = 107
"""The longest Unix socket path Linux accepts, in bytes (sun_path holds 108 with its NUL)."""

REPLY_MAX = 4096
"""The longest answer of clamd read; a longer one is not clamd's."""

_LENGTH = struct.Struct(">I")
_END_OF_STREAM = _LENGTH.pack(0)


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: a Unix socket (`path`) or a TCP port (`host`, `port`)."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __post_init__(self) -> None:
        unix = self.path is not None
        tcp = self.host is not None and self.port is not None
        if unix == tcp or (unix and (self.host is not None or self.port is not None)):
            raise ValueError("a clamd address is either a Unix socket path or a host and port")

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"

    async def connect(self) -> socket.socket:
        """A non-blocking socket connected to clamd (OSError when nothing listens).

        A plain socket driven by the loop's sock_* calls, not a stream: when clamd refuses
        a stream it answers, then hangs up, and the send that fails must leave its answer
        readable (an asyncio transport closes the socket on a failed write)."""
        loop = asyncio.get_running_loop()
        if self.path is not None:
            targets: list[tuple[int, int, int, Any]] = [
                (socket.AF_UNIX, socket.SOCK_STREAM, 0, self.path)
            ]
        else:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            targets = [(family, kind, proto, where) for family, kind, proto, _, where in infos]
        error: OSError = OSError(f"no address found for {self}")
        for family, kind, proto, where in targets:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, where)
            except OSError as exc:
                sock.close()
                error = exc
            except BaseException:
                sock.close()
                raise
            else:
                return sock
        raise error


_FORMS = "expected unix:/path/to/clamd.socket, tcp:host:port or host:port"


def parse_clamd_address(text: str) -> ClamdAddress:
    """The address in `text`: `unix:/path/to/socket`, `tcp:host:port` or `host:port`
    (an IPv6 host in brackets, `[::1]:3310`). ValueError naming the problem else."""
    value = text.strip()
    if not value:
        raise ValueError(f"clamd address is empty; {_FORMS}")
    if value.startswith("unix:"):
        path = value[len("unix:") :]
        if not path.startswith("/"):
            raise ValueError(f"clamd socket path {path!r} is not absolute; {_FORMS}")
        if "\0" in path:
            raise ValueError("clamd socket path contains a NUL character")
        if len(path.encode()) > UNIX_PATH_MAX:
            raise ValueError(
                f"clamd socket path is {len(path.encode())} bytes long; Unix sockets "
                f"allow at most {UNIX_PATH_MAX}"
            )
        return ClamdAddress(path=path)
    if value.startswith("/"):
        raise ValueError(f"{value!r} is a path: write unix:{value} for clamd's Unix socket")
    if "://" in value:
        raise ValueError(f"{value!r} is a URL; {_FORMS}")
    rest = value[len("tcp:") :] if value.startswith("tcp:") else value
    host, colon, port_text = rest.rpartition(":")
    if not colon or not host:
        raise ValueError(f"{value!r} has no host and port; {_FORMS}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 host in brackets, such as [::1]:3310")
    if not host or any(c.isspace() or c in "/@[]" for c in host):
        raise ValueError(f"{value!r} has no valid host; {_FORMS}")
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{value!r}: the port must be a number from 1 to 65535")
    return ClamdAddress(host=host, port=int(port_text))


class ScannerUnavailable(EnvironmentProblem):
    """clamd could not give a verdict: not reachable, the connection closed, no answer in
    time, or an ERROR answer (`reply`). The upload must be refused (fail closed)."""

    def __init__(self, cause: str, remedy: str | None = None, reply: str | None = None) -> None:
        super().__init__(
            cause,
            SETTING,
            remedy or f"start clamd (clamav-daemon), or set {SETTING} to a clamd that runs",
        )
        self.reply = reply


@dataclass(frozen=True)
class ScanVerdict:
    """clamd's answer on one upload: `clean`, else the `signature` it found; `raw` is the
    answer as clamd sent it (without its NUL)."""

    clean: bool
    signature: str | None
    raw: str


def verdict_of(raw: str, address: ClamdAddress) -> ScanVerdict:
    """The verdict in clamd's answer `raw` to INSTREAM; ScannerUnavailable on ERROR or an
    answer that is not one."""
    answer = raw.strip()
    _, _, status = answer.partition(": ")
    if answer.endswith(" ERROR") or answer == "ERROR":
        remedy = None
        if "size limit" in answer:
            remedy = (
                f"raise clamd's StreamMaxLength above the largest upload allowed, or set "
                f"{SETTING} to a clamd that accepts it"
            )
        raise ScannerUnavailable(
            f"the virus scanner (clamd) at {address} could not scan the upload: {answer}",
            remedy,
            reply=answer,
        )
    if status == "OK":
        return ScanVerdict(clean=True, signature=None, raw=raw)
    if status.endswith(" FOUND") and status[: -len(" FOUND")].strip():
        return ScanVerdict(clean=False, signature=status[: -len(" FOUND")].strip(), raw=raw)
    raise ScannerUnavailable(
        f"the virus scanner at {address} gave an answer that is not clamd's: {answer[:200]!r}",
        f"set {SETTING} to clamd's address",
        reply=answer,
    )


class ScanSession:
    """One upload streamed to clamd (made by `VirusScanner.scan()`): `feed` its bytes
    in order as they arrive, then ask for the `verdict` (once)."""

    def __init__(
        self, sock: socket.socket, address: ClamdAddress, timeout: float, log: Any
    ) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._address = address
        self._timeout = timeout
        self._log = log
        self._sent = 0
        self._finished = False
        self._failure: ScannerUnavailable | None = None

    @property
    def bytes_sent(self) -> int:
        """How many bytes of the upload clamd has been sent."""
        return self._sent

    async def feed(self, chunk: bytes) -> None:
        """Send `chunk`, the next bytes of the upload, to clamd (in pieces of at most
        CHUNK_BYTES). ScannerUnavailable when clamd cannot take it."""
        self._check_usable()
        view = memoryview(chunk).cast("B")
        for start in range(0, len(view), CHUNK_BYTES):
            piece = view[start : start + CHUNK_BYTES]
            await self._send(_LENGTH.pack(len(piece)), piece)
            self._sent += len(piece)

    async def verdict(self) -> ScanVerdict:
        """End the stream and return clamd's verdict. ScannerUnavailable when clamd gives
        none (closed the connection, no answer in time, or an ERROR)."""
        self._check_usable()
        self._finished = True
        await self._send(_END_OF_STREAM)
        raw = await self._reply()
        try:
            verdict = verdict_of(raw, self._address)
        except ScannerUnavailable as exc:
            self._fail(exc)
        if verdict.clean:
            self._log.info("upload scanned: clean", bytes=self._sent)
        else:
            self._log.warning("upload scanned: virus found", signature=verdict.signature)
        return verdict

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._finished:
            raise RuntimeError("this scan has ended: start another with VirusScanner.scan()")

    async def _send(self, *parts: bytes | memoryview) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                for part in parts:
                    await self._loop.sock_sendall(self._sock, part)
        except TimeoutError:
            self._fail(self._no_answer())
        except OSError as exc:
            # clamd answers before it hangs up (an upload over its StreamMaxLength): that
            # answer, when it arrived, says more than the broken connection.
            raw = await self._early_reply()
            if raw is not None:
                try:
                    verdict_of(raw, self._address)
                except ScannerUnavailable as refused:
                    self._fail(refused, exc)
            self._fail(
                ScannerUnavailable(
                    f"the virus scanner (clamd) at {self._address} closed the connection "
                    f"during a scan ({type(exc).__name__}: {one_line(str(exc))})"
                ),
                exc,
            )

    async def _reply(self) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                data = await read_answer(self._sock)
        except TimeoutError:
            self._fail(self._no_answer())
        except asyncio.IncompleteReadError as exc:
            received = exc.partial.decode(errors="replace").strip()
            self._fail(
                ScannerUnavailable(
                    f"the virus scanner (clamd) at {self._address} closed the connection "
                    "before its verdict" + (f" (it said {received[:200]!r})" if received else "")
                ),
                exc,
            )
        except asyncio.LimitOverrunError as exc:
            self._fail(
                ScannerUnavailable(
                    f"the virus scanner at {self._address} answered more than {REPLY_MAX} "
                    "bytes: not clamd",
                    f"set {SETTING} to clamd's address",
                ),
                exc,
            )
        except OSError as exc:
            self._fail(
                ScannerUnavailable(
                    f"the virus scanner (clamd) at {self._address} closed the connection "
                    f"before its verdict ({type(exc).__name__}: {one_line(str(exc))})"
                ),
                exc,
            )
        return data.decode(errors="replace")

    async def _early_reply(self) -> str | None:
        """The answer clamd sent before it closed the connection, if any."""
        with contextlib.suppress(
            OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError
        ):
            async with asyncio.timeout(min(self._timeout, 5.0)):
                return (await read_answer(self._sock)).decode(errors="replace")
        return None

    def _no_answer(self) -> ScannerUnavailable:
        return ScannerUnavailable(
            f"the virus scanner (clamd) at {self._address} did not answer within "
            f"{self._timeout:g} s"
        )

    def _fail(self, problem: ScannerUnavailable, cause: BaseException | None = None) -> NoReturn:
        """Record `problem` (later calls raise it too), log it and raise it."""
        self._failure = problem
        self._log.warning(
            "virus scanner unavailable: upload refused",
            bytes=self._sent,
            error=problem.cause,
            reply=problem.reply,
        )
        raise problem from cause


class VirusScanner:
    """A client of one clamd; each `scan()` is a connection of its own."""

    def __init__(self, address: ClamdAddress, timeout: float = 60.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.address = address
        self.timeout = timeout

    @contextlib.asynccontextmanager
    async def scan(self) -> AsyncIterator[ScanSession]:
        """A session streaming one upload to clamd; its connection closes on exit (a
        session left without its verdict is abandoned, and gives none)."""
        log = get_logger(component="virus_scan", clamd=str(self.address))
        try:
            async with asyncio.timeout(self.timeout):
                sock = await self.address.connect()
        except TimeoutError as exc:
            log.warning("virus scanner unavailable: upload refused", error="connect timed out")
            raise ScannerUnavailable(
                f"the virus scanner (clamd) at {self.address} did not accept a connection "
                f"within {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            error = f"{type(exc).__name__}: {one_line(str(exc))}"
            log.warning("virus scanner unavailable: upload refused", error=error)
            raise ScannerUnavailable(
                f"the virus scanner (clamd) does not answer at {self.address} ({error})"
            ) from exc
        try:
            session = ScanSession(sock, self.address, self.timeout, log)
            await session._send(b"zINSTREAM\0")
            yield session
        finally:
            sock.close()


def scanner_for(settings: Settings, timeout: float = 60.0) -> VirusScanner | None:
    """The scanner CASEWORK_CLAMD_ADDRESS names, or None when it is unset (uploads are not
    scanned). A malformed address is an EnvironmentProblem naming the setting (settings.py
    cannot check it: it may not import this module)."""
    if settings.clamd_address is None:
        return None
    try:
        address = parse_clamd_address(settings.clamd_address)
    except ValueError as exc:
        raise EnvironmentProblem(f"{SETTING} is malformed: {exc}", SETTING) from exc
    return VirusScanner(address, timeout)


async def ping(address: ClamdAddress, within: float = 5.0) -> bool:
    """Whether clamd answers PING with PONG at `address` within `within` seconds (for a
    readiness check; never raises for an unreachable daemon)."""
    loop = asyncio.get_running_loop()
    sock: socket.socket | None = None
    try:
        async with asyncio.timeout(within):
            sock = await address.connect()
            await loop.sock_sendall(sock, b"zPING\0")
            answer = await read_answer(sock)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return False
    finally:
        if sock is not None:
            sock.close()
    return answer == b"PONG"


async def read_answer(sock: socket.socket) -> bytes:
    """clamd's answer on `sock`, up to its NUL (without it). IncompleteReadError when the
    connection closes first, LimitOverrunError past REPLY_MAX bytes."""
    loop = asyncio.get_running_loop()
    answer = bytearray()
    while True:
        data = await loop.sock_recv(sock, REPLY_MAX)
        if not data:
            raise asyncio.IncompleteReadError(bytes(answer), None)
        answer += data
        end = answer.find(b"\0")
        if end >= 0:
            return bytes(answer[:end])
        if len(answer) > REPLY_MAX:
            raise asyncio.LimitOverrunError(f"no answer within {REPLY_MAX} bytes", len(answer))
