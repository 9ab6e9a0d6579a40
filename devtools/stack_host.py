"""The embedded stack on its machine (devtools/stack.py): its errors (what the machine
or the configuration gets in the way of, as `EnvironmentProblem`s naming the setting to
change), the lock that keeps a second stack off the same data directory, and helpers
for the processes it runs (a blocking call in a thread, a log's tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from infrastructure.environment import EnvironmentProblem

T = TypeVar("T")


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class StackEnvironmentProblem(StackError, EnvironmentProblem):
    """The stack cannot start because of its environment: a port another program holds,
    a server that will not start or answer, keys that are not the data's. `cause` and
    `setting` as in infrastructure/environment.py; still a StackError for its callers."""

    def __init__(self, cause: str, setting: str, remedy: str | None = None) -> None:
        EnvironmentProblem.__init__(self, cause, setting, remedy)


class StackAlreadyRunning(StackEnvironmentProblem):
    """Another Casework stack (or another program) holds the data directory or the
    Temporal port: `casework demo` then uses the running stack."""


class DataDirLock:
    """An exclusive flock on `<data_dir>/stack.lock`, holding who runs the stack."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "stack.lock"
        self._file: IO[str] | None = None

    def previous(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> dict[str, Any]:
        """Take the lock; return what the previous holder recorded."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            holder = self.previous()
            raise StackAlreadyRunning(
                f"a Casework stack is already running on data directory {self.path.parent} "
                f"(pid {holder.get('pid', '?')}, Temporal at "
                f"{holder.get('temporal_address', '?')}, UI {holder.get('temporal_ui', '?')})",
                "CASEWORK_DATA_DIR",
                "use that one, or stop it first (Ctrl-C in its terminal), or set "
                "CASEWORK_DATA_DIR to another data directory",
            ) from None
        self._file = handle
        return self.previous()

    def refuse_if_held(self) -> None:
        """StackAlreadyRunning when a stack holds the lock; else nothing (and nothing
        changed: the previous holder's record stays for `acquire`)."""
        if not self.path.exists():
            return
        self.acquire()
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def record(self, **info: Any) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"pid": os.getpid(), **info}))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking `fn` in a thread; if cancelled, still let it finish before raising."""
    future = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


def log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
