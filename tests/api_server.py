"""`casework serve` as a process, for tests of clients of the API (the command line):
started on a free port with the test's environment, ready when `/healthz` answers,
stopped with SIGTERM (and it must exit cleanly)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from infrastructure.embedded_postgres import free_port
from tests.conftest import ROOT

READY_WITHIN_S = 120.0


@asynccontextmanager
async def served_api(env: dict[str, str]) -> AsyncIterator[str]:
    """`casework serve` with `env` (plus a free `CASEWORK_HTTP_PORT`): its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter", "serve", cwd=ROOT,
        env={**os.environ, **env, "CASEWORK_HTTP_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            deadline = asyncio.get_running_loop().time() + READY_WITHIN_S
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, "casework serve exited before it answered"
                assert asyncio.get_running_loop().time() < deadline, "casework serve never answered"
                await asyncio.sleep(0.2)
        yield base
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, f"casework serve: {err.decode()[-2000:]}"
