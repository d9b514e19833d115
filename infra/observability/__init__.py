"""Observability: metrics, tracing, dashboards and alert rules (docs/observability.md)."""
