"""Messaging spans: the relay's publish spans and the notifier's process spans.

The relay publishes batches read from the event log, long after (and in another process
than) the request that saved each event, so a generic Kafka instrumentation would start
unrelated traces. Instead each message's publish span is the child of the context stored
with its event (the `traceparent` header the codec copies from `__meta__`), and the message
leaves with the publish span's own context in its headers; the consumer's process span is
the child of that. Attributes follow the OpenTelemetry messaging conventions; the key and
the message id are ids (appointment, patient, event), never PHI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Span, SpanKind, StatusCode

from infra.observability.tracing import W3C, tracer, tracing_enabled
from projections.ports import MessagePublisher, OutboundMessage

TRACE_HEADERS = ("traceparent", "tracestate")
LOCAL_SINK = "clinic_local_sink"  # messaging.system of the development stand-in for Kafka


class _HeaderGetter(Getter[Mapping[str, bytes]]):
    def get(self, carrier: Mapping[str, bytes], key: str) -> list[str] | None:
        value = carrier.get(key)
        return [value.decode("latin-1")] if value else None

    def keys(self, carrier: Mapping[str, bytes]) -> list[str]:
        return list(carrier)


class _HeaderSetter(Setter[MutableMapping[str, bytes]]):
    def set(self, carrier: MutableMapping[str, bytes], key: str, value: str) -> None:
        carrier[key] = value.encode("latin-1")


HEADERS_GET, HEADERS_SET = _HeaderGetter(), _HeaderSetter()


def messaging_system(kafka: object) -> str:
    """`messaging.system`: kafka when the client configuration names a broker."""
    return "kafka" if kafka else LOCAL_SINK


def attributes(operation: str, kind: str, topic: str, headers: Mapping[str, bytes],
               system: str, key: bytes | None) -> dict[str, str]:
    found = {"messaging.system": system, "messaging.destination.name": topic,
             "messaging.operation": operation, "messaging.operation.type": kind}
    if headers.get("event_id"):
        found["messaging.message.id"] = headers["event_id"].decode("latin-1")
    if key and system == "kafka":
        found["messaging.kafka.message.key"] = key.decode("latin-1")
    return found


class TracedPublisher:
    """A MessagePublisher whose every message is published inside a span of its own."""

    def __init__(self, inner: MessagePublisher, system: str) -> None:
        self.inner, self.system = inner, system

    def publish(self, messages: Sequence[OutboundMessage]) -> None:
        spans: list[Span] = []
        outgoing: list[OutboundMessage] = []
        for message in messages:
            span = tracer().start_span(
                f"publish {message.topic}", kind=SpanKind.PRODUCER,
                context=W3C.extract(message.headers, getter=HEADERS_GET),
                attributes=attributes("publish", "send", message.topic, message.headers,
                                      self.system, message.key))
            headers = {k: v for k, v in message.headers.items() if k not in TRACE_HEADERS}
            W3C.inject(headers, context=trace.set_span_in_context(span), setter=HEADERS_SET)
            spans.append(span)
            outgoing.append(replace(message, headers=headers))
        try:
            self.inner.publish(outgoing)
        except Exception as exc:
            for span in spans:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(StatusCode.ERROR, "not acknowledged")
                span.end()
            raise
        for span in spans:
            span.end()

    def ready(self) -> bool:
        return self.inner.ready()

    def close(self) -> None:
        self.inner.close()


def traced(publisher: MessagePublisher, system: str) -> MessagePublisher:
    """The publisher with publish spans when tracing is on; as it is otherwise."""
    return TracedPublisher(publisher, system) if tracing_enabled() else publisher


@contextmanager
def processing(topic: str, headers: Mapping[str, bytes], system: str,
               key: bytes | None = None) -> Iterator[Span]:
    """The consumer's span for handling one message: the child of the publish span whose
    context the message carries, and current while the message is handled."""
    if not tracing_enabled():
        yield trace.INVALID_SPAN
        return
    with tracer().start_as_current_span(
            f"process {topic}", kind=SpanKind.CONSUMER,
            context=W3C.extract(headers, getter=HEADERS_GET),
            attributes=attributes("process", "process", topic, headers, system, key),
            record_exception=False) as span:
        yield span
