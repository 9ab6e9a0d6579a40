"""`casework serve` as a process: it answers health checks and refuses staff routes
without a token (curl with no token gets 401), and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from infrastructure.embedded_postgres import free_port
from tests.conftest import ROOT
from tests.keys import deployment_keys


async def test_casework_serve_answers_and_stops(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        **deployment_keys(tmp_path / "keys"),  # a deployment's process: keys it is given
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "CASEWORK_HTTP_PORT": str(port),
        "CASEWORK_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter", "serve", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(300):  # until it answers (a loaded machine: up to a minute)
                try:
                    health = await http.get("/healthz")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, "casework serve exited"
                    await asyncio.sleep(0.2)
            assert health.json() == {"status": "ok"}
            refused = await http.get("/api/v1/me")
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]


async def test_requests_are_counted_on_the_metrics_endpoint(
    database_url: str, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        **deployment_keys(tmp_path / "keys"),  # a deployment's process: keys it is given
        "CASEWORK_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "CASEWORK_HTTP_PORT": str(port),
        "CASEWORK_METRICS_PORT": str(metrics_port),
        "CASEWORK_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter", "serve", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                try:
                    await http.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, "casework serve exited"
                    await asyncio.sleep(0.2)
            await http.get(f"http://127.0.0.1:{port}/api/v1/me")
            scraped = ""
            for _ in range(100):  # the exporter publishes on its own schedule
                scraped = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                if 'route="/api/v1/me"' in scraped:
                    break
                await asyncio.sleep(0.1)
        assert "casework_http_requests" in scraped
        assert 'route="/api/v1/me"' in scraped and 'status="401"' in scraped
        assert "casework_http_request_duration" in scraped
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), timeout=60)
