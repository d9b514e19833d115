"""The operations pages (role admin): ingestion runs and their rejected rows with the reasons
(the data-validation view), projection and relay lag and the SLO burn figures read from
GET /metrics, and the dead letters awaiting a retry (webhook deliveries, sent again from
here; the notifier's, counted, retried with `clinic notify --retry-dead-letters`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from prometheus_client.parser import text_string_to_metric_families

from web.api import ApiError
from web.app import go, render
from web.pages.common import Signed, signed_in_as, trouble
from web.session import checked_csrf

router = APIRouter(default_response_class=HTMLResponse)
Csrf = Depends(checked_csrf)
Admin = Annotated[Signed, signed_in_as("admin")]
NOT_COUNTED = {"/healthz", "/readyz", "/metrics"}  # as the SLOs count (docs/observability.md)
# The SLOs of docs/observability.md: (name, method, route, threshold in seconds, objective)
LATENCY_SLOS = (("Booking latency", "POST", "/bookings", "0.3", 0.99),
                ("Slot search latency", "GET", "/slots", "0.2", 0.99),
                ("Registration latency", "POST", "/patients", "0.25", 0.99))
AVAILABILITY = 0.999
SHOWN_REJECTS = 3  # the newest runs with rejected rows, shown with them on the page


@dataclass(frozen=True)
class Burn:
    name: str
    objective: float
    requests: int
    bad: int

    @property
    def rate(self) -> float | None:
        """How fast the error budget burns: 1 spends it exactly over the SLO's 30 days."""
        if not self.requests:
            return None
        return (self.bad / self.requests) / (1 - self.objective)


@router.get("/ops", response_model=None)
async def operations(request: Request, signed: Admin) -> HTMLResponse:
    api = signed.api
    try:
        runs = await api.get("/ingest/runs", limit=20)
        dead = await api.get("/webhooks/deliveries", status="dead", limit=50)
        metrics = await api.get("/metrics")
        rejects = [await api.get(f"/ingest/runs/{run['run_id']}") for run in
                   [r for r in runs["runs"] if r["rejected"]][:SHOWN_REJECTS]]
    except ApiError as problem:
        return trouble(request, problem, back="/ops", back_label="Operations")
    samples = _samples(metrics)
    return render(request, "ops_start.html", person=signed.person, runs=runs["runs"],
                  dead=dead["deliveries"], rejects=rejects, lag=_lag(samples),
                  burns=_burns(samples),
                  relay_lag=_one(samples, "clinic_relay_lag_events"),
                  head=_one(samples, "clinic_event_log_head"),
                  notifier_dead=_one(samples, "clinic_notifier_messages_total",
                                     outcome="dead-lettered"),
                  retried=_uuid(request.query_params.get("retried")))


@router.get("/ops/ingest/{run_id}", response_model=None)
async def ingest_run(request: Request, run_id: UUID, signed: Admin) -> HTMLResponse:
    api = signed.api
    try:
        run = await api.get(f"/ingest/runs/{run_id}")
    except ApiError as problem:
        return trouble(request, problem, back="/ops", back_label="Operations")
    return render(request, "ops_ingest_run.html", run=run)


@router.post("/ops/webhooks/deliveries/{delivery_id}/retry", dependencies=[Csrf],
             response_model=None)
async def retry(request: Request, delivery_id: UUID,
                signed: Admin) -> HTMLResponse | RedirectResponse:
    api = signed.api
    try:
        await api.post(f"/webhooks/deliveries/{delivery_id}/retry")
    except ApiError as problem:
        return trouble(request, problem, back="/ops", back_label="Operations")
    return go(f"/ops?retried={delivery_id}#dead-letters")


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


# GET /metrics, read -----------------------------------------------------------------
Samples = list[tuple[str, dict[str, str], float]]


def _samples(text: Any) -> Samples:
    return [(s.name, s.labels, s.value) for family in
            text_string_to_metric_families(str(text or "")) for s in family.samples]


def _one(samples: Samples, name: str, **labels: str) -> int | None:
    values = [v for n, got, v in samples
              if n == name and all(got.get(k) == want for k, want in labels.items())]
    return int(sum(values)) if values else None


def _lag(samples: Samples) -> list[dict[str, Any]]:
    """Per follower: position, lag in events and seconds, stuck or not."""
    rows: dict[str, dict[str, Any]] = defaultdict(dict)
    names = {"clinic_projection_position": "position", "clinic_projection_lag_events":
             "events", "clinic_projection_lag_seconds": "seconds",
             "clinic_projection_failing": "failing"}
    for name, labels, value in samples:
        if name in names and "projector" in labels:
            rows[labels["projector"]][names[name]] = value
    return [{"projector": name, **row} for name, row in sorted(rows.items())]


def _burns(samples: Samples) -> list[Burn]:
    """Each SLO's error ratio over the requests this API process has answered, as a burn
    rate; Prometheus keeps the windowed ones (the alerts' 5m … 3d)."""
    total = errors = 0.0
    counts: dict[tuple[str, str], float] = defaultdict(float)
    fast: dict[tuple[str, str, str], float] = defaultdict(float)
    for name, labels, value in samples:
        route, method, status = labels.get("route", ""), labels.get("method", ""), \
            labels.get("status", "")
        if route in NOT_COUNTED:
            continue
        if name == "clinic_http_request_duration_seconds_count":
            total += value
            if status.startswith("5"):
                errors += value
            else:
                counts[(method, route)] += value
        elif name == "clinic_http_request_duration_seconds_bucket" and \
                not status.startswith("5"):
            fast[(method, route, _bound(labels.get("le", "")))] += value
    burns = [Burn("Availability (no 5xx)", AVAILABILITY, int(total), int(errors))]
    for title, method, route, threshold, objective in LATENCY_SLOS:
        answered = counts[(method, route)]
        within = fast[(method, route, _bound(threshold))]
        burns.append(Burn(f"{title} ({method} {route} within {float(threshold) * 1000:.0f} "
                          "ms)", objective, int(answered), int(answered - within)))
    return burns


def _bound(text: str) -> str:
    try:
        return repr(float(text))
    except ValueError:
        return text
