"""Every HTTP route, one module per resource. A route only translates: parse, call one use
case (commands/) or query (queries/), answer."""

from fastapi import APIRouter

from infra.http.routes import (
    attendance,
    audit,
    auth,
    bookings,
    clinics,
    consents,
    fhir,
    fhir_appointments,
    health,
    holds,
    ingest,
    messages,
    metrics,
    patients,
    privacy,
    providers,
    services,
    slots,
    telehealth,
    waitlist,
    webhooks,
)

# The busiest first: route matching tries every route in order (docs/performance.md).
ROUTERS: list[APIRouter] = [slots.router, holds.router, bookings.router, patients.router,
                            auth.router, consents.router, clinics.router, services.router,
                            providers.router, privacy.router, telehealth.router,
                            fhir_appointments.router, fhir.router, health.router,
                            metrics.router, messages.router, audit.router, ingest.router,
                            waitlist.router, attendance.router, webhooks.router]
