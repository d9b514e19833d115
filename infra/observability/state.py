"""Gauges that are the state of the database and the broker, read when Prometheus scrapes.

Positions, lags and active holds are facts of PostgreSQL, Redis and Kafka, not of any one
process: reading them at scrape time gives the same answer from every API worker, where a
gauge set by the projector thread would exist only in the process that runs it. Every query
is bounded (statement and broker timeouts) and the answer is kept for a few seconds, so a
scrape storm cannot load the servers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from infra.messaging.kafka import kafka_client_config
from infra.observability.consumer_lag import ConsumerLag
from infra.observability.projection_lag import ProjectionLag
from infra.postgres.ingest_runs import PostgresIngestRuns
from infra.postgres.read_models import READ_MODELS
from infra.postgres.webhook_deliveries import PostgresWebhookDeliveries
from infra.redis.holds import active_holds
from infra.wiring.container import Container
from projections.messages import TOPICS
from projections.relay import Relay

log = structlog.get_logger("clinic.metrics")
Source = Callable[[], list[Metric]]
PROJECTORS = (*READ_MODELS, Relay.name)


class StateCollector(Collector):
    """Measures each source at most once per `ttl` seconds; `clinic_state_up` says which
    sources answered (a failed one leaves its gauges out rather than reporting stale ones)."""

    def __init__(self, sources: Mapping[str, Source], ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sources, self.ttl, self.clock = dict(sources), ttl, clock
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._measured_at = float("-inf")

    def collect(self) -> Iterable[Metric]:
        with self._lock:  # concurrent scrapes wait for one measurement instead of each making one
            if self.clock() - self._measured_at >= self.ttl:
                self._cached = self._measure()
                self._measured_at = self.clock()
            return list(self._cached)

    def _measure(self) -> list[Metric]:
        up = GaugeMetricFamily("clinic_state_up", "1 if the last scrape-time reading of the "
                               "source (postgres, redis, kafka) succeeded.", labels=["source"])
        measured: list[Metric] = []
        for name, source in self.sources.items():
            try:
                measured.extend(source())
            except Exception as exc:
                log.warning("state metrics unavailable", source=name, error=type(exc).__name__)
                up.add_metric([name], 0)
            else:
                up.add_metric([name], 1)
        return [*measured, up]


def state_collector(container: Container, ttl: float = 5.0) -> StateCollector:
    """The sources of this deployment: the event store, Redis, and Kafka when configured."""
    settings = container.settings
    sources: dict[str, Source] = {
        "postgres": ProjectionLag(container.pool, settings.db_schema, container.app, PROJECTORS),
        "redis": lambda: [_holds(container)],
        "ingest": lambda: [_ingest_successes(container)],
        "webhooks": lambda: [_webhook_deliveries(container)],
    }
    client = kafka_client_config(settings)
    if client is not None:
        sources["kafka"] = ConsumerLag(client, settings.notify_group,
                                       [settings.kafka_topic_prefix + t for t in TOPICS])
    return StateCollector(sources, ttl)


def _ingest_successes(container: Container) -> Metric:
    gauge = GaugeMetricFamily(
        "clinic_ingest_last_success_timestamp_seconds", "When each ingestion source last "
        "completed a run (Unix time): alert when a scheduled partner pull falls behind.",
        labels=["source"])
    runs = container.adapters.ingest_runs
    if isinstance(runs, PostgresIngestRuns):
        for source, finished in sorted(runs.last_successes().items()):
            gauge.add_metric([source], finished.timestamp())
    return gauge


def _webhook_deliveries(container: Container) -> Metric:
    gauge = GaugeMetricFamily(
        "clinic_webhook_deliveries", "Webhook deliveries in the delivery log by status "
        "(dead: the dead letters an admin may send again).", labels=["status"])
    log = container.adapters.webhook_deliveries
    if isinstance(log, PostgresWebhookDeliveries):
        counts = log.counts()
        for status in ("pending", "delivered", "dead", "cancelled"):
            gauge.add_metric([status], counts.get(status, 0))
    return gauge


def _holds(container: Container) -> Metric:
    return GaugeMetricFamily("clinic_holds_active", "Slot holds not yet expired or released.",
                             value=active_holds(container.redis))
