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
    fhir_appointments,
    fhir_bulk,
    fhir_directory,
    fhir_operations,
    fhir_patients,
    fhir_slots,
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
                            fhir_operations.router, fhir_appointments.router,
                            fhir_patients.router, fhir_directory.router, fhir_bulk.router,
                            fhir_slots.router, health.router, metrics.router,
                            messages.router, audit.router, ingest.router, waitlist.router,
                            attendance.router, webhooks.router]
