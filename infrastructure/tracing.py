"""OpenTelemetry tracing: one trace per request, from the HTTP API through the Temporal
client, the case workflow and its activities, down to the PostgreSQL statements.

Nothing here makes a span by hand; well-kept instrumentations do:

- `opentelemetry-instrumentation-fastapi`: the API's server span (`instrument_api`);
- `temporalio.contrib.opentelemetry.TracingInterceptor` on the Temporal client
  (`temporal_interceptors`, used by infrastructure/temporal.py `connect`): the client's
  start and update spans, and, on a worker built on that client, the workflow's spans
  (made outside the sandbox, never on replay, adding no command to a history) and the
  activities'. The trace context travels in the Temporal headers; an update's spans
  join the trace of the request that sent it (`_interceptor_class`);
- `opentelemetry-instrumentation-asyncpg`: a span per statement (its SQL text, never its
  parameters: the event data with its personal fields is a parameter).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then no provider is made, no library is
instrumented and no interceptor added, so tracing costs nothing. Set, each process
(`configure_tracing`, once) sends its spans in batches by OTLP/HTTP to
`<endpoint>/v1/traces`; the exporter's other standard variables
(`OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._CERTIFICATE`) apply. See docs/tracing.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from infrastructure.logs import get_logger
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span
    from temporalio.contrib.opentelemetry import TracingInterceptor
    from temporalio.worker import WorkflowRunner

SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_PATH = "/v1/traces"
"""Where an OTLP/HTTP collector takes spans, below its base endpoint (the OTLP spec)."""

UNTRACED_URLS = "/healthz$,/readyz$,/metrics$"
"""Probes a load balancer or Prometheus sends every few seconds: no trace each."""

_process_provider: TracerProvider | None = None
_decided = False


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base `endpoint` (Settings checked it)."""
    return endpoint.rstrip("/") + TRACES_PATH


def new_tracer_provider(
    service_name: str, exporter: SpanExporter, *, batch: bool = True
) -> TracerProvider:
    """A provider as Casework's processes use it, its spans to `exporter`: in batches from
    a background thread, or (`batch=False`, for tests) each as it ends."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        sampler=ParentBased(root=_requests_only()),
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider


def otlp_tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting by OTLP/HTTP to the settings' endpoint; None when unset."""
    if settings.otlp_endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))
    return new_tracer_provider(settings.otel_service_name, exporter)


def configure_tracing(settings: Settings) -> TracerProvider | None:
    """This process's tracer provider, decided at the first call: made from the settings
    (the global provider from then on, PostgreSQL statements traced) when an OTLP endpoint
    is set; None, and nothing made or instrumented, when it is not."""
    global _process_provider, _decided
    if _decided:
        return _process_provider
    provider = otlp_tracer_provider(settings)
    _decided = True
    if provider is None:
        return None
    from opentelemetry import trace

    trace.set_tracer_provider(provider)
    instrument_asyncpg(provider)
    _process_provider = provider
    endpoint = urlsplit(traces_url(settings.otlp_endpoint or ""))
    get_logger(component="tracing").info(
        "tracing on",
        # Never the credentials a URL may carry.
        endpoint=f"{endpoint.scheme}://{endpoint.hostname}"
        + (f":{endpoint.port}" if endpoint.port else "")
        + endpoint.path,
        service=settings.otel_service_name,
    )
    return provider


def instrument_asyncpg(provider: TracerProvider) -> None:
    """A span for every asyncpg statement (the whole process), made with `provider`."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]


def uninstrument_asyncpg() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]


def temporal_interceptors(provider: TracerProvider | None) -> list[TracingInterceptor]:
    """The Temporal client's interceptors: none untraced, else the SDK's TracingInterceptor
    with updates traced as their requests (a worker built on the client inherits it)."""
    if provider is None:
        return []
    return [_interceptor_class()(provider.get_tracer("casework.temporal"))]


@functools.cache
def _interceptor_class() -> type[TracingInterceptor]:
    """The SDK's TracingInterceptor, its workflow side subclassed (as its documentation
    says to customise it) for one thing: an update's spans, and the activities the update
    runs, belong to the trace of the request that sent the update, linked to the case's
    run. The SDK puts every update under the trace of the workflow's *start*: for a case
    open for months, each command would join the trace of the request that opened it.
    An update sent without a trace context (`temporal workflow update`) keeps the SDK's
    way. Spans are still made outside the sandbox and never on replay; nothing here
    reaches a workflow's commands."""
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind
    from temporalio.contrib.opentelemetry import (
        TracingInterceptor,
        TracingWorkflowInboundInterceptor,
    )
    from temporalio.contrib.opentelemetry._context import attached_context
    from temporalio.worker import HandleUpdateInput, WorkflowInterceptorClassInput

    class UpdatesAsRequests(TracingWorkflowInboundInterceptor):
        def _update_context(self, input: HandleUpdateInput) -> Context | None:
            header = input.headers.get(self.header_key)
            carrier = self.payload_converter.from_payloads([header])[0] if header else None
            if not carrier:
                return None
            return self._set_on_context(self.text_map_propagator.extract(carrier))

        def handle_update_validator(self, input: HandleUpdateInput) -> None:
            context = self._update_context(input)
            if context is None:
                return super().handle_update_validator(input)
            with attached_context(context):
                self._completed_span(
                    f"ValidateUpdate:{input.update}",
                    link_context_carrier=self._load_workflow_context_carrier(),
                    kind=SpanKind.SERVER,
                )
                self.next.handle_update_validator(input)
            return None

        async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
            context = self._update_context(input)
            if context is None:
                return await super().handle_update_handler(input)
            with attached_context(context):
                self._completed_span(
                    f"HandleUpdate:{input.update}",
                    link_context_carrier=self._load_workflow_context_carrier(),
                    kind=SpanKind.SERVER,
                )
                return await self.next.handle_update_handler(input)

    class CaseworkTracingInterceptor(TracingInterceptor):
        def workflow_interceptor_class(
            self, input: WorkflowInterceptorClassInput
        ) -> type[TracingWorkflowInboundInterceptor]:
            super().workflow_interceptor_class(input)  # registers the span-making extern
            return UpdatesAsRequests

    return CaseworkTracingInterceptor


def workflow_runner() -> WorkflowRunner:
    """The workflow sandbox, with opentelemetry passed through (the TracingInterceptor's
    workflow side uses it; the workflows never import it): what Temporal's samples do."""
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("opentelemetry")
    )


def instrument_api(app: Any, provider: TracerProvider | None) -> None:
    """A server span for every request to the FastAPI `app` but the probes; nothing when
    `provider` is None. The URL's query string is left out of the span (a sign-in's
    callback carries its code there); no header is recorded."""
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
        server_request_hook=_without_query,
    )


def _without_query(span: Span, scope: Mapping[str, Any]) -> None:
    """Overwrite the request attributes that carry the query string."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    for key in ("http.url", "url.full", "http.target"):
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def _requests_only() -> Any:
    """The sampler of a trace's first span: every request and Temporal call, but no
    database statement without a parent (the projector's and the notary's polls, a pool's
    checks: each would be a trace of one span, several a second)."""
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import Link, SpanKind, TraceState
    from opentelemetry.util.types import Attributes

    class RequestsOnly(Sampler):
        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None,
        ) -> SamplingResult:
            if attributes and ("db.system" in attributes or "db.system.name" in attributes):
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "CaseworkRequestsOnly"

    return RequestsOnly()
