"""What leaves the process in a span (infra/observability/spans.py), and tracing off by default
(infra/observability/tracing.py). Local tracer providers only: no global state, no I/O."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import Attributes

from infra.observability.spans import RedactingExporter, sampler
from infra.observability.tracing import (
    configure_tracing,
    requested,
    trace_context,
    tracing_enabled,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJhcHQiOiIxIn0.c2lnbmF0dXJl-_x"


def _exported(name: str, kind: SpanKind, attributes: Attributes,
              error: Exception | None = None) -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exporter)))
    span = provider.get_tracer("test").start_span(name, kind=kind, attributes=attributes)
    if error is not None:
        span.record_exception(error)
        span.set_status(StatusCode.ERROR, str(error))
    span.end()
    [exported] = exporter.get_finished_spans()
    return exported


def test_server_spans_lose_query_strings_client_addresses_and_headers() -> None:
    span = _exported("GET /telehealth/join", SpanKind.SERVER, {
        "http.url": f"http://clinic/telehealth/join?token={JWT}",
        "http.target": f"/telehealth/join?token={JWT}", "url.query": f"token={JWT}",
        "http.route": "/telehealth/join", "net.peer.ip": "10.1.2.3", "client.address": "x",
        "http.user_agent": "Mozilla", "http.request.header.authorization": ("Bearer x",)})
    assert dict(span.attributes or {}) == {"http.url": "http://clinic/telehealth/join",
                                           "http.target": "/telehealth/join",
                                           "http.route": "/telehealth/join"}


def test_redis_statements_keep_the_command_only_and_text_is_masked() -> None:
    redis = _exported("SET", SpanKind.CLIENT, {"db.system": "redis",
                                               "db.statement": "SET hold:abc secret PX 300"})
    assert (redis.attributes or {})["db.statement"] == "SET"
    failed = _exported("smtp send", SpanKind.CLIENT, {"server.port": 25},
                       ValueError("refused ana@example.org, call +1 (555) 010-2233"))
    assert failed.status.description == "refused [email], call [phone]"
    [event] = failed.events
    assert "ana@example.org" not in repr(dict(event.attributes or {}))


def test_new_traces_start_anywhere_but_at_a_client_call() -> None:
    roots = sampler({})
    assert roots.should_sample(None, 1, "SELECT", SpanKind.CLIENT).decision == Decision.DROP
    assert roots.should_sample(None, 1, "POST /bookings", SpanKind.SERVER).decision == (
        Decision.RECORD_AND_SAMPLE)
    assert sampler({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}).should_sample(
        None, 1, "publish", SpanKind.PRODUCER).decision == Decision.DROP


def test_off_unless_an_endpoint_is_configured() -> None:
    assert not requested({})
    assert requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                          "OTEL_SDK_DISABLED": "true"})
    assert not requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                          "OTEL_TRACES_EXPORTER": "none"})
    assert configure_tracing("test", env={}) is False
    assert not tracing_enabled() and trace_context() == {}
