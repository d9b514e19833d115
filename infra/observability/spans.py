"""The tracing SDK behind infra/observability/tracing.py, imported only when traces are on.

- Sampling: parent-based (a remote parent's decision is kept, so the relay and the notifier
  follow the request's). A span without a parent is kept, except a client call: the
  projectors, the relay and the notifier poll PostgreSQL many times a second outside any
  request, and each poll would be a one-span trace. OTEL_TRACES_SAMPLER=traceidratio or
  parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG keeps that fraction of new traces;
  always_off / parentbased_always_off none.
- Export: OTLP over HTTP/protobuf (OTEL_EXPORTER_OTLP_* variables, OTEL_BSP_* batching),
  through RedactingExporter, the last word on what leaves the process: no query strings
  (a join link's token is a credential, docs/decisions/0016), no client address or user
  agent, no captured headers or SQL parameters, Redis commands without their arguments, and
  email addresses, tokens and phone numbers masked in every remaining text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util.types import Attributes

from infra.observability.logging import redact_text
from infra.observability.tracing import DEFAULT_SERVICE_NAME

URL_KEYS = frozenset({"http.url", "url.full", "http.target"})
DROPPED = frozenset({"url.query", "client.address", "client.port", "http.client_ip",
                     "http.user_agent", "user_agent.original", "user_agent.synthetic.type",
                     "db.statement.parameters", "enduser.id"})
DROPPED_PREFIXES = ("http.request.header.", "http.response.header.", "db.query.parameter.")
PEER_KEYS = frozenset({"net.peer.ip", "net.peer.port", "net.peer.name",
                       "network.peer.address", "network.peer.port"})  # the client, on SERVER
STATEMENT_KEYS = frozenset({"db.statement", "db.query.text"})


class _Roots(Sampler):
    """New traces: none from parentless client calls (background polls); the rest by ratio."""

    def __init__(self, ratio: float) -> None:
        self.ratio = TraceIdRatioBased(ratio)

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: trace.TraceState | None = None) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self.ratio.should_sample(parent_context, trace_id, name, kind, attributes,
                                        links, trace_state)

    def get_description(self) -> str:
        return f"ClinicRoots{{{self.ratio.get_description()}}}"


def sampler(env: Mapping[str, str]) -> Sampler:
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    ratio = 1.0
    if name in ("always_off", "parentbased_always_off"):
        ratio = 0.0
    elif name in ("traceidratio", "parentbased_traceidratio"):
        try:
            ratio = min(max(float(env.get("OTEL_TRACES_SAMPLER_ARG", "1")), 0.0), 1.0)
        except ValueError:
            ratio = 1.0
    return ParentBased(root=_Roots(ratio))


class _Route(SpanProcessor):
    """The provider's one processor: forwards to the current export path, if any."""

    target: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if (target := self.target) is not None:
            target.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if (target := self.target) is not None:
            target.on_end(span)

    def shutdown(self) -> None:
        if (target := self.target) is not None:
            target.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        target = self.target
        return target.force_flush(timeout_millis) if target is not None else True


_ROUTE = _Route()


def install_provider(process: str, env: Mapping[str, str]) -> TracerProvider:
    """The global tracer provider (once per process: the API allows no second one)."""
    name = env.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
    provider = TracerProvider(sampler=sampler(env), resource=Resource.create(
        {"service.name": name, "clinic.process": process}))
    provider.add_span_processor(_ROUTE)
    trace.set_tracer_provider(provider)
    return provider


def export_path(exporter: SpanExporter | None) -> SpanProcessor:
    """Given an exporter (tests): each span as it ends. Otherwise OTLP/HTTP, in batches."""
    if exporter is not None:
        return SimpleSpanProcessor(RedactingExporter(exporter))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(RedactingExporter(OTLPSpanExporter()))


def route_to(processor: SpanProcessor | None) -> None:
    _ROUTE.target = processor


def instrument_clients() -> None:
    """psycopg: statements only (no parameters, no sqlcommenter). Redis: the command name
    and one `?` per argument (the instrumentation's own sanitizing, enforced again below)."""
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    PsycopgInstrumentor().instrument(enable_commenter=False, capture_parameters=False)
    RedisInstrumentor().instrument()


def uninstrument_clients() -> None:
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    PsycopgInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()


class RedactingExporter(SpanExporter):
    """Exports a redacted copy of every span (see the module docstring)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def redacted(span: ReadableSpan) -> ReadableSpan:
    attributes = dict(span.attributes or {})
    redis = "redis" in (attributes.get("db.system"), attributes.get("db.system.name"))
    clean = {key: _value(key, value, redis) for key, value in attributes.items()
             if not _dropped(key, span.kind)}
    events = [Event(e.name, {k: _value(k, v, False) for k, v in (e.attributes or {}).items()},
                    e.timestamp) for e in span.events]
    status = span.status
    if status.description:
        status = Status(status.status_code, redact_text(status.description))
    return ReadableSpan(name=redact_text(span.name), context=span.context, parent=span.parent,
                        resource=span.resource, attributes=clean, events=events,
                        links=span.links, kind=span.kind, status=status,
                        start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)


def _dropped(key: str, kind: SpanKind) -> bool:
    return (key in DROPPED or key.startswith(DROPPED_PREFIXES)
            or (kind == SpanKind.SERVER and key in PEER_KEYS))


def _value(key: str, value: Any, redis: bool) -> Any:
    if isinstance(value, str):
        if key in URL_KEYS:
            value = value.split("?", 1)[0].split("#", 1)[0]
        elif redis and key in STATEMENT_KEYS:
            value = value.split(" ", 1)[0]
        return redact_text(value)
    if isinstance(value, tuple | list):
        return tuple(redact_text(v) if isinstance(v, str) else v for v in value)
    return value
