"""The FastAPI application: `create_api(settings)` (served by `casework serve` and by
`casework up`), over one `Casework` from the composition root.

Stateless: sessions, tokens and idempotency keys live in PostgreSQL, so two instances
behind a proxy answer alike. OpenAPI 3.1 at `/openapi.json`, docs at `/docs`,
`/healthz` (the process answers) and `/readyz` (PostgreSQL and Temporal answer).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from application import request_context
from application.bootstrap import Casework, open_casework
from application.request_context import REQUEST_ID_HEADER
from casework import i18n
from casework.api import (
    cases,
    client_records,
    clients,
    directory,
    documents,
    hsds,
    policy,
    portal,
    problems,
    provider_webhooks,
    reads,
    reports,
    sessions,
    transfers,
)
from casework.api.auth import Clock, casework_of
from casework.api.body_limit import BodyLimit
from casework.api.ratelimit import RateLimit
from casework.console import install as install_console
from infrastructure import tracing
from infrastructure.logs import get_logger
from infrastructure.metrics import meter
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

READINESS_TIMEOUT = timedelta(seconds=5)
"""How long `/readyz` waits for each of PostgreSQL and Temporal before it calls it down
(a server that does not answer at all, rather than refusing, would hold the probe)."""

MAX_BODY_BYTES = 1_000_000
"""Requests larger than this are refused (413): by their Content-Length before they are
read, else (chunked, or longer than declared) as soon as the bytes read pass it
(casework/api/body_limit.py)."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


UPLOAD_PATHS = re.compile(r"/(api/v1|console)/cases/[^/]+/documents")
"""Where documents are uploaded: their bodies may be as large as a document."""

UPLOAD_ENVELOPE_BYTES = 64 * 1024
"""What a form's upload adds to the file (its fields and boundaries)."""


def hsds_max_bytes(settings: Settings) -> int:
    """The largest HSDS package an import takes (`CASEWORK_HSDS_MAX_BYTES`, 100 MB)."""
    return settings.hsds_max_bytes


def system_clock() -> datetime:
    return datetime.now(UTC)


def create_api(
    settings: Settings,
    *,
    casework: Casework | None = None,
    clock: Clock = system_clock,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The API over `casework` (or one opened from `settings` for the app's lifetime).
    Traced with `tracer_provider`, else with the process's (infrastructure/tracing.py:
    none unless OTEL_EXPORTER_OTLP_ENDPOINT is set)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if casework is not None:
            api.state.casework = casework
            yield
            return
        # Stateless pool: no use case leaves session state (SET, LISTEN, session locks) on
        # a connection, so releasing one sends no reset query (a round trip per release,
        # 3 in a command or a caseload read; docs/performance.md, "HTTP API").
        async with open_casework(
            settings, pool_size=10, stateless_pool=True, service=True
        ) as opened:
            api.state.casework = opened
            yield

    api = FastAPI(
        title="Casework",
        version="1",
        summary="Case management for human-services agencies: every action from a proven "
        "identity, every change an event in an append-only log.",
        lifespan=lifespan,
    )
    api.state.clock = clock
    # Innermost (added first): every route reads its body through the count, and the
    # middlewares below add the request id and security headers to its refusals.
    # A document's upload (the API's and the case page's form) may be larger: the
    # document's own limit, and the form's envelope (casework/api/documents.py).
    api.add_middleware(
        BodyLimit,
        max_bytes=MAX_BODY_BYTES,
        uploads=[
            (UPLOAD_PATHS, settings.document_max_bytes + UPLOAD_ENVELOPE_BYTES),
            (re.compile(hsds.IMPORT_PATH), hsds_max_bytes(settings)),
        ],
    )
    api.state.sign_in_limit = RateLimit()
    if casework is not None:
        api.state.casework = casework
    problems.install(api)
    problems.install_openapi(api)
    api.include_router(sessions.router)
    api.include_router(cases.router)
    api.include_router(documents.router)
    api.include_router(reads.router)
    api.include_router(directory.router)
    api.include_router(policy.router)
    api.include_router(clients.router)
    api.include_router(client_records.router)
    api.include_router(transfers.router)
    api.include_router(reports.router)
    api.include_router(hsds.router)
    api.include_router(provider_webhooks.router)
    api.include_router(portal.router)
    reads.install_refusals(api)
    install_console(api)
    # Outermost: the request's server span, which the Temporal client's and the
    # statements' spans join (one trace per request; docs/tracing.md).
    tracing.instrument_api(api, tracer_provider or tracing.configure_tracing(settings))
    log = get_logger(component="api")
    # Request count and duration by route and status, on the process's Prometheus
    # endpoint (CASEWORK_METRICS_PORT; the worker's in `casework up`). Off with port 0.
    metrics = meter(settings) if settings.metrics_port else None
    requests = (
        metrics.create_counter("casework_http_requests", "HTTP requests") if metrics else None
    )
    durations = (
        metrics.create_histogram_float(
            "casework_http_request_duration", "HTTP request duration", unit="s"
        )
        if metrics
        else None
    )

    @api.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The request's id (a safe incoming X-Request-ID, else a new one) and the client's
        # address, for the access log (application/request_context.py); answered back.
        context = request_context.for_request(
            request.headers.get(REQUEST_ID_HEADER), request.client.host if request.client else None
        )
        started = time.perf_counter()
        # The request's language (casework/i18n): the problem documents' titles and
        # details, and the console's pages (which may prefer the staff member's setting).
        language = i18n.negotiate(request.headers.get("accept-language"))
        with request_context.bound(context), i18n.speaking(language):
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Content-Language", language)
        response.headers.setdefault("Vary", "Accept-Language")
        response.headers[REQUEST_ID_HEADER] = str(context.request_id)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", None) or "(unrouted)"
        labels = {"method": request.method, "route": route, "status": str(response.status_code)}
        if requests is not None and durations is not None:
            requests.add(1, labels)
            durations.record(elapsed, labels)
        log.info("request", **labels, ms=round(elapsed * 1000, 1), request_id=context.request_id)
        return response

    @api.get("/healthz", tags=["operations"], summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", tags=["operations"], summary="PostgreSQL and Temporal answer")
    async def readyz(request: Request) -> JSONResponse:
        app = casework_of(request)
        checks: dict[str, str] = {}
        wait = READINESS_TIMEOUT.total_seconds()
        try:
            await asyncio.wait_for(app.pool.fetchval("SELECT 1"), wait)
            checks["postgresql"] = "ok"
        except Exception as exc:
            checks["postgresql"] = f"unavailable: {type(exc).__name__}"
        try:
            client = await app.temporal()  # refused at once when nothing listens
            await client.service_client.check_health(timeout=READINESS_TIMEOUT)
            checks["temporal"] = "ok"
        except Exception as exc:
            checks["temporal"] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    return api
