"""A real ClamAV daemon for the tests: Debian's clamd (package clamav-daemon, installed by
`make test` through the Makefile's system-packages target), with a signature database of
its own, since the official signatures cannot be downloaded here.

* `start_clamd(tmp_path)`: a context manager that writes the database (one body
  signature, `Casework-Test-EICAR`, for the EICAR test string) and a clamd.conf in
  `tmp_path`, starts clamd on a Unix socket (or, `tcp=True`, on a free port of
  127.0.0.1), waits until it answers PING, yields a `ClamdProcess` and stops it on exit.
  `ClamdProcess.address` is in the form infrastructure/virus_scan.py
  `parse_clamd_address` reads (`unix:/tmp/cw-clamd-.../clamd.sock`, `tcp:127.0.0.1:<port>`);
  `ClamdProcess.stop()` stops it early (a daemon that went away).
* `EICAR`: the standard antivirus test string; clamd reports it as
  `Casework-Test-EICAR.UNOFFICIAL` (clamd adds `.UNOFFICIAL` to every signature outside
  the official databases), `SIGNATURE_NAME` without that suffix.

The socket lives in a short directory of its own under /tmp (removed on exit): pytest's
temporary paths can pass the 107 bytes a Unix socket path may have.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrastructure.embedded_postgres import free_port

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
"""The EICAR antivirus test file's content (68 bytes; harmless, every scanner flags it)."""

SIGNATURE_NAME = "Casework-Test-EICAR"
"""The test database's signature for EICAR; clamd reports it with `.UNOFFICIAL` added."""

STARTUP_LIMIT = 120.0
"""Seconds clamd may take to load its database and answer PING (a busy machine)."""

STOP_LIMIT = 30.0
"""Seconds clamd may take to exit after SIGTERM before it is killed."""

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])


def clamd_binary() -> str:
    """The clamd program, or fail the test saying how to install it."""
    found = shutil.which("clamd", path=SEARCH_PATH)
    if found is None:
        pytest.fail(
            "clamd (ClamAV's daemon) is not installed: `make test` installs it (Debian's "
            "clamav-daemon, the Makefile's system-packages target; `make system-packages`)",
            pytrace=False,
        )
    return found


def signature_database() -> str:
    """A ClamAV body signature database (.ndb): `name:target:offset:hex`, target 0 (any
    file), offset `*` (anywhere in it)."""
    return f"{SIGNATURE_NAME}:0:*:{EICAR.hex()}\n"


def clamd_conf(*, listen: list[str], workdir: Path, stream_max_length: str) -> str:
    """A clamd.conf for a daemon in the foreground, listening as `listen` says, its files
    in `workdir`."""
    return "\n".join(
        [
            "Foreground yes",
            *listen,
            f"DatabaseDirectory {workdir / 'database'}",
            f"LogFile {workdir / 'clamd.log'}",
            "LogTime yes",
            "LogClean yes",
            f"PidFile {workdir / 'clamd.pid'}",
            f"TemporaryDirectory {workdir / 'tmp'}",
            # The largest INSTREAM clamd accepts (its default is 25M).
            f"StreamMaxLength {stream_max_length}",
            "MaxThreads 4",
            # No reloads of the database, never updated, during a run.
            "SelfCheck 0",
            "",
        ]
    )


@dataclass
class ClamdProcess:
    """A running clamd of the tests."""

    address: str
    """Where it listens, as `parse_clamd_address` reads it: `unix:<socket path>` or
    `tcp:127.0.0.1:<port>`."""
    socket_path: Path | None
    """Its Unix socket (None on TCP)."""
    port: int | None
    """Its TCP port on 127.0.0.1 (None on a Unix socket)."""
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def log_file(self) -> Path:
        return self.workdir / "clamd.log"

    def log(self) -> str:
        """clamd's log so far (its own log file, then what it wrote to stderr)."""
        parts = [
            path.read_text(errors="replace")
            for path in (self.log_file, self.workdir / "clamd.out")
            if path.exists()
        ]
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop clamd (SIGTERM, then SIGKILL) and wait for it to exit; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_LIMIT)


def pongs(clamd: ClamdProcess, timeout: float = 2.0) -> bool:
    """Whether `clamd` answers PING."""
    family, target = (
        (socket.AF_UNIX, str(clamd.socket_path))
        if clamd.socket_path is not None
        else (socket.AF_INET, ("127.0.0.1", clamd.port))
    )
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(target)
            conn.sendall(b"zPING\0")
            answer = b""
            while not answer.endswith(b"\0") and len(answer) < 64:
                data = conn.recv(64)
                if not data:
                    break
                answer += data
    except OSError:
        return False
    return answer == b"PONG\0"


@contextmanager
def start_clamd(
    tmp_path: Path, *, stream_max_length: str = "64M", tcp: bool = False
) -> Iterator[ClamdProcess]:
    """A clamd with the test signature database, its files in `tmp_path`, stopped on exit
    (or fail the test with its log when it does not answer within STARTUP_LIMIT); on a
    Unix socket, or on a free TCP port of 127.0.0.1 when `tcp`. `stream_max_length`: the
    largest upload it scans (clamd's StreamMaxLength)."""
    binary = clamd_binary()
    workdir = tmp_path.resolve()
    (workdir / "database").mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    (workdir / "database" / "casework-test.ndb").write_text(signature_database())
    short_dir = Path(tempfile.mkdtemp(prefix="cw-clamd-", dir="/tmp"))
    try:
        socket_path, port = (None, free_port()) if tcp else (short_dir / "clamd.sock", None)
        listen = (
            ["TCPAddr 127.0.0.1", f"TCPSocket {port}"]
            if tcp
            else [f"LocalSocket {socket_path}", "LocalSocketMode 600", "FixStaleSocket yes"]
        )
        conf = workdir / "clamd.conf"
        conf.write_text(
            clamd_conf(listen=listen, workdir=workdir, stream_max_length=stream_max_length)
        )
        with (workdir / "clamd.out").open("ab") as out:
            process = subprocess.Popen(
                [binary, "--config-file", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        clamd = ClamdProcess(
            address=f"tcp:127.0.0.1:{port}" if tcp else f"unix:{socket_path}",
            socket_path=socket_path,
            port=port,
            workdir=workdir,
            process=process,
        )
        try:
            _wait_until_ready(clamd)
            yield clamd
        finally:
            clamd.stop()
    finally:
        shutil.rmtree(short_dir, ignore_errors=True)


def _wait_until_ready(clamd: ClamdProcess) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    delay = 0.02
    while time.monotonic() < deadline:
        if clamd.process.poll() is not None:
            pytest.fail(
                f"clamd exited ({clamd.process.returncode}) before it answered:\n{clamd.log()}",
                pytrace=False,
            )
        if pongs(clamd):
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    pytest.fail(
        f"clamd did not answer PING within {STARTUP_LIMIT:g} s:\n{clamd.log()}", pytrace=False
    )
