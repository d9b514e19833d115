"""OpenTelemetry traces: off unless an OTLP endpoint is configured (docs/observability.md).

`configure_tracing(process)` is called once by every `clinic` process (serve / demo and their
API workers, relay, notify, project). With neither OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor
OTEL_EXPORTER_OTLP_ENDPOINT set it installs nothing: the OpenTelemetry API stays a no-op and
this module's helpers return at once. Otherwise it installs the SDK (infra/observability/
spans.py: sampler, PHI redaction, OTLP/HTTP export) and instruments psycopg and Redis;
FastAPI apps are instrumented one by one (`instrument_app`). The SDK, exporter and
instrumentations are imported only then.

One booking is one trace: the HTTP server span's context is stored with each event it saves
(`trace_context()`, written by infra/eventstore/mapper.py into `__meta__`), the relay's
publish span is its child and travels in the Kafka headers, the notifier's process span is
the child of that (infra/messaging/tracing.py), and the SMTP send span the child of the
process span.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
DEFAULT_SERVICE_NAME = "clinic-booking"
# Probes and scrapes would be most of the traces and tell nothing.
DEFAULT_EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"
# Only W3C trace context travels (never `baggage`: a client could put anything in it).
W3C = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracer()


class _State:
    lock = threading.Lock()
    enabled = False
    tracer: trace.Tracer = _NOOP
    provider: TracerProvider | None = None
    processor: SpanProcessor | None = None  # the current export path (replaceable: tests)
    excluded_urls = DEFAULT_EXCLUDED_URLS


def requested(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINTS)


def configure_tracing(process: str, *, exporter: SpanExporter | None = None,
                      env: Mapping[str, str] | None = None) -> bool:
    """Install tracing for this process if the environment asks for it (or an `exporter` is
    given: tests); return whether tracing is on. Idempotent: the first call wins."""
    env = os.environ if env is None else env
    if _State.enabled or (exporter is None and not requested(env)):
        return _State.enabled
    from infra.observability import spans

    with _State.lock:
        if _State.enabled:
            return True
        if _State.provider is None:
            _State.provider = spans.install_provider(process, env)
        _State.processor = spans.export_path(exporter)
        spans.route_to(_State.processor)
        spans.instrument_clients()
        _State.excluded_urls = (env.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS")
                                or env.get("OTEL_PYTHON_EXCLUDED_URLS") or DEFAULT_EXCLUDED_URLS)
        _State.tracer = _State.provider.get_tracer("clinic")
        _State.enabled = True
    return True


def shutdown_tracing() -> None:
    """Flush and stop exporting, and remove the psycopg / Redis instrumentation (tests; the
    SDK's own exit hook flushes a running process). configure_tracing may be called again."""
    from infra.observability import spans

    with _State.lock:
        if not _State.enabled:
            return
        _State.enabled, _State.tracer = False, _NOOP
        spans.uninstrument_clients()
        spans.route_to(None)
        if _State.processor is not None:
            _State.processor.shutdown()
        _State.processor = None


def tracing_enabled() -> bool:
    return _State.enabled


def tracer() -> trace.Tracer:
    """The tracer for our own spans (relay, notifier, SMTP); the no-op one when off."""
    return _State.tracer


def instrument_app(app: FastAPI) -> None:
    """HTTP server spans for this app, when tracing is on. Route templates name the spans;
    request and response bodies and headers are never recorded, query strings and client
    addresses are removed before export (infra/observability/spans.py)."""
    if not _State.enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=_State.excluded_urls,
                                       exclude_spans=["receive", "send"])


def trace_context() -> dict[str, str]:
    """The W3C `traceparent` (and `tracestate`) of the current span; {} without one."""
    if not _State.enabled:
        return {}
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return carrier


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, or None outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
