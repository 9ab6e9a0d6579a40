"""One trace per request (docs/tracing.md), and the API's readiness.

A command sent over HTTP to the API is traced, with the SDK's in-memory exporter, from
the FastAPI server span through the Temporal client's span, the case workflow's spans
(a real worker in this process, on the test Temporal server, with the client's
TracingInterceptor), its local activity, down to the PostgreSQL statements of both the
API and the activity: one trace, one tree. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from application.bootstrap import Casework
from application.runtime import build_worker
from casework.api.app import create_api
from events.store import EventStore
from infrastructure.embedded_postgres import free_port
from infrastructure.settings import Settings
from infrastructure.tracing import (
    instrument_asyncpg,
    new_tracer_provider,
    otlp_tracer_provider,
    temporal_interceptors,
    traces_url,
    uninstrument_asyncpg,
    workflow_runner,
)
from tests.api.conftest import Api, Clock, open_case_body, seed_staff
from tests.pg import create_database, drop_database, with_database
from tests.temporal_env import DEV_SERVER
from tests.test_environment import casework, clean_environment, the_one_line
from workflows.case import CaseWorkflow

WITHIN_S = 30.0
"""The longest a test waits for a condition (spans exported, a server answering)."""

CLIENT_NAME = open_case_body("x")["client"]["name"]


@pytest.fixture
def traced() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider exporting each span as it ends to memory; PostgreSQL statements traced
    with it for the test's duration."""
    exporter = InMemorySpanExporter()
    provider = new_tracer_provider("casework-test", exporter, batch=False)
    instrument_asyncpg(provider)
    try:
        yield provider, exporter
    finally:
        uninstrument_asyncpg()
        provider.shutdown()


def is_server_request(span: ReadableSpan) -> bool:
    return span.kind == SpanKind.SERVER and "fastapi" in (
        span.instrumentation_scope.name if span.instrumentation_scope else ""
    )


def is_statement(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return "db.system" in attributes or "db.system.name" in attributes


async def one_request_trace(
    exporter: InMemorySpanExporter, route: str, needed: Sequence[str]
) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The server span of the (one) request to `route` and every span of its trace, once
    spans named `needed` (prefixes) are all in it."""
    deadline = asyncio.get_running_loop().time() + WITHIN_S
    while True:
        spans = list(exporter.get_finished_spans())
        roots = [s for s in spans if is_server_request(s) and s.name == route]
        if len(roots) == 1:
            assert roots[0].context is not None
            trace_id = roots[0].context.trace_id
            in_trace = [s for s in spans if s.context and s.context.trace_id == trace_id]
            if all(any(s.name.startswith(n) for s in in_trace) for n in needed):
                return roots[0], in_trace
        if asyncio.get_running_loop().time() > deadline:
            names = sorted(
                (s.name, f"{s.context.trace_id:032x}"[:8] if s.context else "") for s in spans
            )
            raise AssertionError(f"no trace of {route} with {needed}; spans: {names}")
        await asyncio.sleep(0.05)


def assert_one_tree(root: ReadableSpan, spans: Sequence[ReadableSpan]) -> dict[int, ReadableSpan]:
    """Every span of the trace reaches `root` through its parents: spans by id."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    assert root.parent is None, "the request's server span starts the trace"
    for span in spans:
        seen = 0
        current = span
        while current is not root:
            assert current.parent is not None, f"{span.name} is not under the request"
            assert current.parent.span_id in by_id, f"{current.name}'s parent is not exported"
            current = by_id[current.parent.span_id]
            seen += 1
            assert seen < 100
    return by_id


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_a_command_is_one_trace_from_http_to_postgresql(
    time_skipping_env: WorkflowEnvironment,
    sealed_store: EventStore,
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    await seed_staff(sealed_store)
    # The API's Temporal client, traced (the time-skipping client's own interceptors kept).
    config = time_skipping_env.client.config()
    config["interceptors"] = [*config["interceptors"], *temporal_interceptors(provider)]
    client = Client(**config)
    task_queue = f"traced-{uuid.uuid4().hex[:8]}"
    settings = Settings(task_queue=task_queue, metrics_port=0)
    app = Casework(settings, sealed_store.pool, sealed_store, _client=client)
    clock = Clock()
    api = create_api(settings, casework=app, clock=clock, tracer_provider=provider)
    case_id: str | None = None
    # The worker is built on the traced client: it inherits the TracingInterceptor.
    async with (
        build_worker(client, task_queue, sealed_store),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://casework.test"
        ) as http,
    ):
        try:
            alice = await Api(http, app, clock).sign_in("alice")

            # Opening a case: Update-with-Start, the workflow's run and its update, the
            # local activity that appends, the statements of the API and the activity.
            exporter.clear()
            opened = await http.post(
                "/api/v1/cases", json=open_case_body("CL-TRACE-1"), headers=alice
            )
            assert opened.status_code == 201, opened.text
            case_id = opened.json()["case_id"]
            root, spans = await one_request_trace(
                exporter,
                "POST /api/v1/cases",
                [
                    "StartUpdateWithStartWorkflow:CaseWorkflow",
                    "RunWorkflow:CaseWorkflow",
                    "HandleUpdate:",
                    "StartActivity:append_command",
                    "RunActivity:append_command",
                ],
            )
            by_id = assert_one_tree(root, spans)
            assert_statements_on_both_sides(spans, by_id)
            assert_workflow_spans_only_in(exporter, f"case-{case_id}", root)
            assert root.context is not None
            opened_trace = root.context.trace_id

            # A command on the open case: an Update of the running workflow.
            exporter.clear()
            path = f"/api/v1/cases/{case_id}/commands/record_note"
            noted = await http.post(
                path,
                json={"text": "Spoke with the GP"},
                headers={**alice, "If-Match": opened.headers["ETag"]},
            )
            assert noted.status_code == 200, noted.text
            root, spans = await one_request_trace(
                exporter,
                "POST /api/v1/cases/{case_id}/commands/record_note",
                [
                    "StartWorkflowUpdate:record_note",
                    "ValidateUpdate:record_note",
                    "HandleUpdate:record_note",
                    "StartActivity:append_command",
                    "RunActivity:append_command",
                ],
            )
            by_id = assert_one_tree(root, spans)
            assert_statements_on_both_sides(spans, by_id)
            assert_workflow_spans_only_in(exporter, f"case-{case_id}", root)
            # The update's span links to the case's run, in the trace of its opening.
            (handled,) = [s for s in spans if s.name == "HandleUpdate:record_note"]
            assert [link.context.trace_id for link in handled.links] == [opened_trace]

            # What a span records of a request: no query string, no personal data.
            exporter.clear()
            shown = await http.get(f"/api/v1/cases/{case_id}?code=s3cret-code", headers=alice)
            assert shown.status_code == 200 and shown.json()["client"]["name"] == CLIENT_NAME
            await one_request_trace(exporter, "GET /api/v1/cases/{case_id}", [])
            everything = " ".join(
                f"{span.name} {dict(span.attributes or {})}"
                for span in exporter.get_finished_spans()
            )
            assert "s3cret-code" not in everything and CLIENT_NAME not in everything

            # The probes make no trace.
            exporter.clear()
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            assert not [s for s in exporter.get_finished_spans() if is_server_request(s)]

            # Replay, with the interceptor, from a cold cache: the same commands (no
            # nondeterminism), and not one span made again.
            exporter.clear()
            history = await client.get_workflow_handle(f"case-{case_id}").fetch_history()
            await Replayer(
                workflows=[CaseWorkflow],
                data_converter=client.data_converter,
                interceptors=temporal_interceptors(provider),
                workflow_runner=workflow_runner(),
            ).replay_workflow(history)
            assert not [s for s in exporter.get_finished_spans() if not is_statement(s)]
        finally:
            if case_id is not None:
                await client.get_workflow_handle(f"case-{case_id}").terminate("test finished")


def assert_statements_on_both_sides(
    spans: Sequence[ReadableSpan], by_id: dict[int, ReadableSpan]
) -> None:
    """PostgreSQL statements of the API itself (the session's check) and of the worker's
    activity (the append) are in the trace."""
    statements = [ancestors(s, by_id) for s in spans if is_statement(s)]
    assert any(not any(":" in name for name in above) for above in statements), statements
    assert any(above[0].startswith("RunActivity:") for above in statements), statements


def assert_workflow_spans_only_in(
    exporter: InMemorySpanExporter, workflow_id: str, root: ReadableSpan
) -> None:
    """No span of the case's workflow was left in another trace (one trace per request)."""
    assert root.context is not None
    for span in exporter.get_finished_spans():
        if (span.attributes or {}).get("temporalWorkflowID") == workflow_id:
            assert span.context is not None
            assert span.context.trace_id == root.context.trace_id, span.name


# --- readiness -------------------------------------------------------------------------


@pytest.fixture
async def own_database(pg_server: str) -> AsyncIterator[str]:
    """An empty database of the test's own, which it may drop while a pool uses it."""
    name = await create_database(pg_server)
    try:
        yield name
    finally:
        await drop_database(pg_server, name)


async def readiness(http: httpx.AsyncClient, status: int) -> dict[str, Any]:
    """/readyz's answer once it has `status` (a server just started may take a while)."""
    deadline = asyncio.get_running_loop().time() + WITHIN_S
    while True:
        answer = await http.get("/readyz")
        if answer.status_code == status:
            body: dict[str, Any] = answer.json()
            return body
        assert asyncio.get_running_loop().time() < deadline, answer.text
        await asyncio.sleep(0.1)


async def test_readyz_names_the_dependency_that_is_down(pg_server: str, own_database: str) -> None:
    port = free_port()  # nothing listens there yet
    settings = Settings(temporal_address=f"127.0.0.1:{port}", metrics_port=0)
    pool = await asyncpg.create_pool(with_database(pg_server, own_database), min_size=1, max_size=2)
    assert pool is not None
    app = Casework(settings, pool, EventStore(pool))
    api = create_api(settings, casework=app)
    env: WorkflowEnvironment | None = None
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://casework.test"
        ) as http:
            # Temporal down: 503, naming it; PostgreSQL answers.
            down = await http.get("/readyz")
            assert down.status_code == 503, down.text
            body = down.json()
            assert body["ready"] is False and body["postgresql"] == "ok", body
            assert body["temporal"].startswith("unavailable"), body
            assert (await http.get("/healthz")).status_code == 200  # alive all the same

            # Temporal comes up at that address: ready.
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=str(DEV_SERVER), port=port
            )
            assert await readiness(http, 200) == {
                "ready": True,
                "postgresql": "ok",
                "temporal": "ok",
            }

            # PostgreSQL's database goes: 503, naming it; Temporal answers.
            await drop_database(pg_server, own_database)
            body = await readiness(http, 503)
            assert body["postgresql"].startswith("unavailable") and body["temporal"] == "ok"
    finally:
        await pool.close()
        if env is not None:
            await env.shutdown()


# --- configuration ---------------------------------------------------------------------


def test_unset_endpoint_means_no_tracing() -> None:
    settings = Settings.model_validate({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
    assert settings.otlp_endpoint is None
    assert otlp_tracer_provider(settings) is None
    assert temporal_interceptors(None) == []


def test_the_endpoint_is_a_collector_base_url() -> None:
    settings = Settings.model_validate({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert settings.otlp_endpoint == "http://collector:4318"
    assert traces_url(settings.otlp_endpoint) == "http://collector:4318/v1/traces"
    provider = otlp_tracer_provider(settings)
    assert provider is not None
    provider.shutdown()
    for bad in ("collector:4318", "ftp://collector", "http://collector:http", "http://:4318"):
        with pytest.raises(ValidationError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
            Settings.model_validate({"OTEL_EXPORTER_OTLP_ENDPOINT": bad})


def test_a_bad_endpoint_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = {**clean_environment(), "OTEL_EXPORTER_OTLP_ENDPOINT": "collector.example:4318"}
    line = the_one_line(casework("verify", env=env, cwd=tmp_path))
    assert "OTEL_EXPORTER_OTLP_ENDPOINT is not valid" in line, line


EXPORTING_PROCESS = """
import asyncio, sys
import asyncpg
from infrastructure.settings import Settings
from infrastructure.tracing import configure_tracing

provider = configure_tracing(Settings())
assert provider is not None and configure_tracing(Settings()) is provider

async def main() -> None:
    conn = await asyncpg.connect(sys.argv[1])
    with provider.get_tracer("test").start_as_current_span("a request"):
        await conn.fetchval("SELECT 1")
    await conn.fetchval("SELECT 2")  # no parent: a background statement, not sampled
    await conn.close()

asyncio.run(main())
assert provider.force_flush()
"""


async def test_a_configured_process_exports_by_otlp_http(database_url: str, tmp_path: Path) -> None:
    """`configure_tracing` with OTEL_EXPORTER_OTLP_ENDPOINT set (in a process of its own:
    it sets the process's global provider): spans reach <endpoint>/v1/traces as OTLP
    protobuf, statements under a span included, those without one left out."""
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    serving = threading.Thread(target=collector.serve_forever, daemon=True)
    serving.start()
    try:
        env = {
            **clean_environment(),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
            "OTEL_SERVICE_NAME": "casework-test-export",
            "CASEWORK_LOG_LEVEL": "ERROR",
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            EXPORTING_PROCESS,
            database_url,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(child.communicate(), timeout=120)
        assert child.returncode == 0, err.decode()[-3000:]
    finally:
        collector.shutdown()
        collector.server_close()
    assert received and {path for path, _ in received} == {"/v1/traces"}
    names: list[str] = []
    services: set[str] = set()
    for _, body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services |= {
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            }
            names += [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert sorted(names) == ["SELECT", "a request"], names
    assert services == {"casework-test-export"}
