"""iCalendar invitations (RFC 5545 / iTIP RFC 5546) for visit emails.

One UID per appointment and a SEQUENCE the caller bumps, so a calendar client updates or
removes the event it already holds instead of adding a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal

from icalendar import Calendar, Event, vCalAddress

if TYPE_CHECKING:
    from projections.notifications.emails import VisitSummary

PRODID = "-//Clinic Booking//Visit notifications//EN"
Method = Literal["REQUEST", "CANCEL"]


def visit_uid(appointment_id: object) -> str:
    return f"{appointment_id}@clinic-booking"


def visit_calendar(visit: VisitSummary, method: Method, *, sender: str, to: str,
                   now: datetime) -> bytes:
    """A one-event calendar: METHOD:REQUEST books or moves the visit, CANCEL removes it."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", visit_uid(visit.appointment_id))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", visit.start.astimezone(UTC))
    event.add("dtend", visit.end.astimezone(UTC))
    event.add("summary", f"{visit.service_name} with {visit.provider_name}")
    event.add("location", "Video visit" if visit.telehealth else visit.clinic_name)
    if visit.join_url:
        event.add("description", f"Join your video visit: {visit.join_url}")
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("sequence", visit.sequence)
    # iTIP wants an organizer and the attendee; RSVP=FALSE: no replies are expected
    organizer = vCalAddress(f"mailto:{parseaddr(sender)[1]}")
    organizer.params["cn"] = visit.clinic_name
    attendee = vCalAddress(f"mailto:{to}")
    attendee.params.update({"role": "REQ-PARTICIPANT", "rsvp": "FALSE"})
    event.add("organizer", organizer)
    event.add("attendee", attendee)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics
