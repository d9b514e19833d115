"""The scrape-time state collector: one measurement per few seconds whatever the scrape rate,
and a source that fails is reported down instead of failing the scrape."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from infra.observability.state import StateCollector


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_readings_are_kept_for_the_ttl_and_a_failed_source_is_down() -> None:
    calls: list[str] = []

    def lag() -> list[Metric]:
        calls.append("lag")
        return [GaugeMetricFamily("clinic_relay_lag_events", "", value=len(calls))]

    def broken() -> list[Metric]:
        calls.append("broken")
        raise TimeoutError("the broker did not answer in time")

    clock = Clock()
    collector = StateCollector({"postgres": lag, "kafka": broken}, ttl=5.0, clock=clock)
    first = {m.name: m for m in collector.collect()}
    clock.now = 4.9
    assert {m.name for m in collector.collect()} == set(first)
    assert calls == ["lag", "broken"]  # one measurement for both scrapes
    up = {s.labels["source"]: s.value for s in first["clinic_state_up"].samples}
    assert up == {"postgres": 1, "kafka": 0}
    clock.now = 5.0
    again = {m.name: m for m in collector.collect()}
    assert calls == ["lag", "broken", "lag", "broken"]
    assert again["clinic_relay_lag_events"].samples[0].value == 3
