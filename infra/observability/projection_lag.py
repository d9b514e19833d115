"""Each log follower's position against the head of the event store's notification log, and
whether it is stuck on an event it cannot apply: for the metrics, /readyz and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from infra.postgres.follower_health import FollowerFailure, current_failures

TIMEOUT_MS = 2000


@dataclass(frozen=True)
class FollowerState:
    name: str
    position: int  # the last notification id applied (0: none yet)
    lag_events: int
    lag_seconds: float  # age of the oldest event not yet applied (0: caught up)
    failure: FollowerFailure | None  # stuck on an event it cannot apply


class ProjectionLag:
    """Position, lag in events and lag in seconds (age of the oldest event not yet applied)
    of each projector, from its tracking table: `<name>_tracking`, as eventsourcing names it."""

    def __init__(self, pool: ConnectionPool[Any], schema: str, app: Application[Any],
                 projectors: Sequence[str]) -> None:
        self.pool, self.schema, self.projectors = pool, schema, tuple(projectors)
        self.app_name, self.mapper = app.name, app.mapper
        self.events = sql.Identifier(schema, f"{app.name.lower()}_events")

    def states(self) -> tuple[int, list[FollowerState]]:
        """The head of the log, and where each follower stands against it."""
        now = datetime.now(UTC)
        states = []
        with self.pool.connection(timeout=TIMEOUT_MS / 1000) as conn, conn.transaction():
            conn.execute(f"SET LOCAL statement_timeout = {TIMEOUT_MS}")
            head = self._scalar(conn, sql.SQL("SELECT max(notification_id) FROM {}")
                                .format(self.events)) or 0
            failures = {f.follower: f for f in current_failures(conn, self.schema)}
            for name in self.projectors:
                at = self._position(conn, name)
                oldest = self._first_after(conn, at) if at < head else None
                age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
                failure = failures.get(name)
                if failure is not None and failure.position <= at:
                    failure = None  # moved past it (the report outlived its process)
                states.append(FollowerState(name, at, head - at, age, failure))
        return head, states

    def __call__(self) -> list[Metric]:
        head_family = GaugeMetricFamily("clinic_event_log_head", "Notification id of the "
                                        "newest event in the event store.")
        position = _family("clinic_projection_position", "Notification id of the last event "
                           "the projector applied (0: none yet).")
        lag = _family("clinic_projection_lag_events", "Events recorded but not yet applied.")
        age = _family("clinic_projection_lag_seconds", "Age of the oldest event not yet "
                      "applied (0: caught up).")
        relay = GaugeMetricFamily("clinic_relay_lag_events", "Events the relay has not yet "
                                  "published to Kafka (or the local sink).")
        failing = _family("clinic_projection_failing", "1 while the follower is stuck on an "
                          "event it cannot apply (`clinic projections status` says which).")
        head, states = self.states()
        head_family.add_metric([], head)
        for state in states:
            position.add_metric([state.name], state.position)
            lag.add_metric([state.name], state.lag_events)
            age.add_metric([state.name], state.lag_seconds)
            failing.add_metric([state.name], 1 if state.failure else 0)
            if state.name == "relay":
                relay.add_metric([], state.lag_events)
        return [head_family, position, lag, age, relay, failing]

    def _position(self, conn: Connection[Any], name: str) -> int:
        table = f"{name}_tracking"
        if self._scalar(conn, sql.SQL("SELECT to_regclass({})").format(
                sql.Literal(f'"{self.schema}"."{table}"'))) is None:
            return 0  # the projector never ran here
        return self._scalar(conn, sql.SQL(
            "SELECT max(notification_id) FROM {} WHERE application_name = {}").format(
            sql.Identifier(self.schema, table), sql.Literal(self.app_name))) or 0

    def _first_after(self, conn: Connection[Any], position: int) -> datetime | None:
        """When the oldest unapplied event was recorded: read from its stored state without
        opening any sealed PHI."""
        row = conn.execute(sql.SQL("SELECT state FROM {} WHERE notification_id > %s "
                                   "ORDER BY notification_id LIMIT 1").format(self.events),
                           (position,)).fetchone()
        return _recorded_at(self.mapper, bytes(row[0])) if row else None

    @staticmethod
    def _scalar(conn: Connection[Any], query: sql.Composed) -> Any:
        row = conn.execute(query).fetchone()
        return row[0] if row else None


def _family(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["projector"])


def _recorded_at(mapper: Mapper[Any], state: bytes) -> datetime | None:
    if mapper.cipher:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor:
        state = mapper.compressor.decompress(state)
    timestamp = mapper.transcoder.decode(state).get("timestamp")
    return timestamp if isinstance(timestamp, datetime) else None
