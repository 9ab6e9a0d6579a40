"""Serving the API: `casework serve` on its own, and one of the services `casework up` runs.

uvicorn serves `create_api(settings)` on `CASEWORK_HTTP_HOST:CASEWORK_HTTP_PORT`
(127.0.0.1:8000 by default) until `shutdown` is set; the caller owns the signals.
"""

from __future__ import annotations

import asyncio

import uvicorn

from casework.api.app import create_api
from infrastructure.logs import get_logger
from infrastructure.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the stack (or `casework serve`) stops it."""

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await self._serve(sockets)  # type: ignore[arg-type]


async def run_api(settings: Settings, *, dsn: str, shutdown: asyncio.Event) -> None:
    """Serve the API until `shutdown` is set, then finish the requests in flight."""
    log = get_logger(component="api", port=settings.http_port)
    api_settings = settings.model_copy(update={"database_url": dsn})
    config = uvicorn.Config(
        create_api(api_settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(), name="casework-api")
    stopping = asyncio.create_task(shutdown.wait())
    log.info("api serving", url=f"http://{settings.http_host}:{settings.http_port}")
    try:
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        server.should_exit = True
        await serving
        log.info("api stopped")
