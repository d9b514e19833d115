"""GET /metrics: Prometheus exposition of every API process and the log followers.

Public like /readyz (docs/access.md): it carries counts, route templates and outcome names,
never PHI or ids. Restrict it at the network (the scraper's address) as for the probes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from infra.http.deps import MetricsRegistry

router = APIRouter(tags=["health"])
_TEXT = {"schema": {"type": "string"}}


@router.get("/metrics", response_class=Response, responses={200: {
    "description": "Prometheus text format (or OpenMetrics, if the Accept header asks)",
    "content": {"text/plain": _TEXT, "application/openmetrics-text": _TEXT}}})
def read_metrics(request: Request, registry: MetricsRegistry) -> Response:
    """Metrics for Prometheus: request latency, bookings, projector and relay lag."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
