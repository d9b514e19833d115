"""The pages, one module per kind of user."""

from __future__ import annotations

from web.pages import booking, visits

ROUTERS = [booking.router, visits.router]
