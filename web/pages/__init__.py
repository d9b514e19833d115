"""The pages, one module per kind of user."""

from __future__ import annotations

from web.pages import booking, compliance, operations, staff, staff_oidc, visits

ROUTERS = [booking.router, visits.router, compliance.router, operations.router,
           staff.router, staff_oidc.router]
