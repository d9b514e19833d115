"""Prometheus metrics: what the API and the log followers count, and how one scrape sees them.

Metric objects are built on first use, not at import: `clinic serve --workers N` must switch
prometheus_client to multiprocess mode (enable_multiprocess) before any value exists, and the
CLI imports this module long before it knows the data folder. Labels carry route templates,
status codes, outcome enums, projector and topic names only: never an id, never PHI
(docs/observability.md has the catalogue).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.metrics import disable_created_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds. Fine steps where a 1-300 ms service lives; 0.2 / 0.25 / 0.3 are the latency SLO
# thresholds of slot search, registration and booking, so the SLI needs no interpolation.
BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5)

BookingOutcome = Literal["booked", "conflict", "rejected"]
OtpFailure = Literal["wrong", "expired"]
NotifierOutcome = Literal["sent", "skipped", "dead-lettered", "duplicate", "ignored"]
BOOKING_OUTCOMES: tuple[BookingOutcome, ...] = ("booked", "conflict", "rejected")
OTP_FAILURES: tuple[OtpFailure, ...] = ("wrong", "expired")
NOTIFIER_OUTCOMES: tuple[NotifierOutcome, ...] = ("sent", "skipped", "dead-lettered",
                                                  "duplicate", "ignored")
CONFLICT_COMMANDS = ("book", "reschedule")
WEBHOOK_OUTCOMES = ("delivered", "failed", "dead")


class _Metrics:
    """Every counter and histogram this code records (state gauges: infra/observability/state)."""

    def __init__(self) -> None:
        # `_created` series double the output, and no query uses them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.requests = Histogram(
            "clinic_http_request_duration_seconds",
            "HTTP requests by method, route template and status code, and how long they took.",
            ["method", "route", "status"], buckets=BUCKETS)
        self.bookings = Counter("clinic_bookings", "Booking attempts (POST /bookings) that "
                                "reached the command, by outcome.", ["outcome"])
        self.conflicts = Counter("clinic_booking_conflicts", "The time was taken meanwhile "
                                 "(409 slot-taken, decided by the event store).", ["command"])
        self.otp_failures = Counter("clinic_otp_failures", "Sign-in codes refused at "
                                    "/auth/verify, by reason.", ["reason"])
        self.relay_published = Counter("clinic_relay_messages_published", "Messages the "
                                       "broker (or local sink) acknowledged, by topic.", ["topic"])
        self.relay_failures = Counter("clinic_relay_publish_failures", "Relay batches the "
                                      "broker did not acknowledge (retried from the start).")
        self.notifications = Counter("clinic_notifier_messages", "Messages the notifier "
                                     "handled, by outcome.", ["outcome"])
        self.webhook_attempts = Counter("clinic_webhook_attempts", "Webhook delivery attempts "
                                        "the dispatcher made, by outcome (failed: tried "
                                        "again later; dead: the last attempt failed).",
                                        ["outcome"])
        # Known label values start at zero, so that rates and alerts see them from the start.
        for outcome in BOOKING_OUTCOMES:
            self.bookings.labels(outcome=outcome)
        for command in CONFLICT_COMMANDS:
            self.conflicts.labels(command=command)
        for reason in OTP_FAILURES:
            self.otp_failures.labels(reason=reason)
        for handled in NOTIFIER_OUTCOMES:
            self.notifications.labels(outcome=handled)
        for attempted in WEBHOOK_OUTCOMES:
            self.webhook_attempts.labels(outcome=attempted)


_built: _Metrics | None = None
_building = threading.Lock()


def _metrics() -> _Metrics:
    """Built once per process. Not functools.cache: two threads missing it at once (the
    first concurrent requests of a fresh worker) both built the metrics, and the second
    registration failed with DuplicateTimeseries: a 500 for that request."""
    global _built
    if _built is None:
        with _building:
            if _built is None:
                _built = _Metrics()
    return _built


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    _metrics().requests.labels(method=method, route=route, status=str(status)).observe(seconds)


def record_booking(outcome: BookingOutcome) -> None:
    _metrics().bookings.labels(outcome=outcome).inc()


def record_booking_conflict(command: Literal["book", "reschedule"]) -> None:
    _metrics().conflicts.labels(command=command).inc()


def record_otp_failure(reason: OtpFailure) -> None:
    _metrics().otp_failures.labels(reason=reason).inc()


def record_published(topic: str, count: int) -> None:
    _metrics().relay_published.labels(topic=topic).inc(count)


def record_publish_failure() -> None:
    _metrics().relay_failures.inc()


def record_notification(outcome: str) -> None:
    if outcome in NOTIFIER_OUTCOMES:  # an unknown word would be a new series per word
        _metrics().notifications.labels(outcome=outcome).inc()


def record_webhook_attempt(outcome: str) -> None:
    if outcome in WEBHOOK_OUTCOMES:
        _metrics().webhook_attempts.labels(outcome=outcome).inc()


def enable_multiprocess(directory: Path) -> None:
    """Several API processes: each writes its samples to files in `directory`, and a scrape
    of any of them merges every process's files. Call before anything was recorded and before
    the workers start (they inherit the environment variable). The folder is emptied: counters
    of a previous run must not add up with this one's."""
    if _built is not None:
        raise RuntimeError("metrics were recorded before multiprocess mode was enabled")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client picks its value class when first imported (from this variable); the
    # CLI imported it before the data folder was known, so pick again: no value exists yet.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class _ThisProcess(Collector):
    """The default registry (our metrics, and the process and GC collectors) as one collector
    of a per-app registry."""

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()


def exposition_registry(*collectors: Collector) -> CollectorRegistry:
    """What /metrics shows: every process's samples (multiprocess mode) or this process's,
    plus `collectors` (state read at scrape time)."""
    _metrics()
    registry = CollectorRegistry()
    if MULTIPROC_ENV in os.environ:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return registry


class PrometheusCommandMetrics:
    """The use cases' outcome counters (commands.ports.CommandMetrics)."""

    def booking(self, outcome: str) -> None:
        record_booking(outcome)  # type: ignore[arg-type]

    def booking_conflict(self, command: str) -> None:
        record_booking_conflict(command)  # type: ignore[arg-type]

    def sign_in_refused(self, reason: str) -> None:
        record_otp_failure(reason)  # type: ignore[arg-type]
