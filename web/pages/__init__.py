"""The pages, one module per kind of user."""

from __future__ import annotations

from web.pages import (
    booking,
    compliance,
    operations,
    patient_account,
    staff_calendar,
    staff_hours,
    staff_oidc,
    staff_sign_in,
    staff_visits,
    visits,
)

ROUTERS = [booking.router, patient_account.router, visits.router, compliance.router,
           operations.router, staff_sign_in.router, staff_calendar.router, staff_visits.router,
           staff_hours.router, staff_oidc.router]
