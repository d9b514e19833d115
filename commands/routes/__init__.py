"""HTTP routes of the write side, one module per area."""

from commands.routes.bookings import router as bookings_router
from commands.routes.consents import router as consents_router
from commands.routes.directory import router as directory_router
from commands.routes.holds import router as holds_router
from commands.routes.patients import router as patients_router
from commands.routes.privacy import router as privacy_router
from commands.routes.telehealth import router as telehealth_router

# The busiest first: route matching is linear (infra/http/app.py).
ROUTERS = [holds_router, bookings_router, patients_router, consents_router, directory_router,
           privacy_router, telehealth_router]
