"""The Grafana dashboard and the Prometheus rules are well-formed, every PromQL expression in
them parses, and every metric they name is in a real scrape of the app, with the suffix its
type gives it (`_total` of a counter, `_bucket`/`_count`/`_sum` of a histogram) and histogram
bounds that exist (`le`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.utils import floatToGoString

from infra.observability.metrics import BUCKETS

ASSETS = Path(__file__).resolve().parents[2] / "infra" / "observability"
DASHBOARD = ASSETS / "grafana" / "clinic.json"
RULES = ASSETS / "prometheus" / "alerts.yml"
SEVERITIES = {"page", "ticket"}
# Grafana fills these in before the query reaches Prometheus.
GRAFANA_INTERVAL = re.compile(r"\$__(rate_interval|interval|range)\b")
GRAFANA_VARIABLE = re.compile(r"\$\{?\w+\}?")
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*\w+\)$")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def expressions() -> list[str]:
    """Every PromQL expression: dashboard targets, template variables and rules."""
    found = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            match = LABEL_VALUES.match(variable["definition"])
            assert match, variable["definition"]
            found.append(match.group(1))
    return found + [rule["expr"] for rule in rules()]


def parsed(expr: str) -> Any:
    prometheus_form = GRAFANA_VARIABLE.sub(".*", GRAFANA_INTERVAL.sub("5m", expr))
    return promql_parser.parse(prometheus_form)


def selectors(expr: str) -> list[Any]:
    found: list[Any] = []
    promql_parser.walk(parsed(expr), lambda node: found.append(node)
                       if isinstance(node, promql_parser.VectorSelector) else None)
    return found


def test_the_dashboard_has_a_datasource_variable_and_panels_with_targets() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["title"] and panel["description"], panel
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}"
    titles = " ".join(p["title"] for p in panels).lower()
    for signal in ("request rate", "error rate", "p50", "p95", "p99", "burn rate",
                   "projector lag", "relay", "kafka consumer lag"):
        assert signal in titles, signal


def test_the_rules_are_recording_rules_or_alerts_with_severity_and_annotations() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert groups and all(g["name"] and g["rules"] for g in groups)
    names = []
    for rule in rules():
        assert rule["expr"].strip()
        if "record" in rule:
            assert set(rule) == {"record", "expr"}, rule
            names.append(rule["record"])
            continue
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        names.append(rule["alert"])
    assert len(names) == len(set(names))


def test_slo_alerts_are_multi_window_multi_burn_rate() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    for sli, budget in (("availability", "0.001"), ("latency", "0.01")):
        fast = alerts[f"Clinic{sli.title()}BudgetBurnFast"]
        slow = alerts[f"Clinic{sli.title()}BudgetBurnSlow"]
        assert fast["labels"]["severity"] == "page" and slow["labels"]["severity"] == "ticket"
        for rule, windows in ((fast, [("14.4", "1h", "5m"), ("6", "6h", "30m")]),
                              (slow, [("3", "1d", "2h"), ("1", "3d", "6h")])):
            for factor, long, short in windows:
                for window in (long, short):
                    assert re.search(rf"ratio_rate{window} > \({factor} \* {budget}\)",
                                     rule["expr"]), (rule["alert"], factor, window)


def test_every_expression_parses() -> None:
    for expr in expressions():
        try:
            parsed(expr)
        except ValueError as exc:
            pytest.fail(f"{exc}: {expr}")


def test_latency_thresholds_are_histogram_bounds() -> None:
    bounds = {floatToGoString(b) for b in BUCKETS}
    assert {"0.2", "0.25", "0.3"} <= bounds
    used = {m.value for expr in expressions() for s in selectors(expr)
            for m in s.matchers.matchers if m.name == "le"}
    assert used and used <= bounds, used - bounds
