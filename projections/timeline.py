"""The audit timeline: which records each event is about, and what it changed in one line
without PHI (docs/compliance.md). infra/postgres/audit_timeline.py writes it.

An event is about its own record, every record it names (`patient_id`, `clinic_ids`, ...),
and the records its own record was created about: a cancellation names no patient, yet it
is about the patient the appointment was booked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from domain.agendas import PatientAgenda
from domain.appointments import Appointment
from domain.calendars import ProviderCalendar
from domain.clinics import Clinic
from domain.consent import Consent
from domain.openings import Opening
from domain.patients import EmailClaim, Patient
from domain.privacy import phi_of
from domain.provenance import context_of
from domain.providers import Provider
from domain.reminders import Reminder
from domain.schedules import Schedule
from domain.services import Service
from domain.waitlist import WaitlistEntry
from domain.webhooks import WebhookRegistry, WebhookSubscription

NOT_SUBJECTS = frozenset({"slot_id", "previous_slot_id"})  # times, not records
FOLLOWS_THE_RECORD = frozenset({"to_provider_id"})  # later events concern them too


@dataclass(frozen=True)
class TimelineEntry:
    position: int  # the event's notification id (its leaf in the audit tree is one less)
    record_id: UUID
    version: int
    event: str  # e.g. "Appointment.Cancelled"
    recorded_at: datetime
    actor: str
    role: str
    purpose: str
    reason: str
    request_id: str
    summary: str  # no PHI, by construction
    named: frozenset[UUID]  # records the event names
    links: frozenset[UUID]  # of those, the ones every later event of the record is about
    patient_id: UUID | None  # the patient the event names (or is a record of), if any


def entry_of(position: int, event: Any) -> TimelineEntry:
    meta = context_of(event)
    named = frozenset(_named_ids(event)) - {event.originator_id}
    follows = named if event.originator_version == 1 else frozenset(
        _named_ids(event, only=FOLLOWS_THE_RECORD))
    return TimelineEntry(
        position=position, record_id=event.originator_id, version=event.originator_version,
        event=type(event).__qualname__, recorded_at=event.timestamp,
        actor=meta.get("actor", ""), role=meta.get("role", ""),
        purpose=meta.get("purpose", ""), reason=meta.get("reason", ""),
        request_id=meta.get("request_id", ""), summary=describe(event), named=named,
        links=follows, patient_id=_patient_of(event))


def _patient_of(event: Any) -> UUID | None:
    if isinstance(event, Patient.Event):
        return UUID(str(event.originator_id))
    named = getattr(event, "patient_id", None)
    return named if isinstance(named, UUID) else None


def _named_ids(event: Any, only: frozenset[str] | None = None) -> Iterator[UUID]:
    phi = phi_of(type(event))
    for name, value in vars(event).items():
        if not name.endswith(("_id", "_ids")) or name in NOT_SUBJECTS or name.startswith("_"):
            continue
        if (only is not None and name not in only) or (phi and name in phi.fields):
            continue
        for item in value if isinstance(value, list | tuple | set | frozenset) else (value,):
            if isinstance(item, UUID):
                yield item


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _visit(modality: str) -> str:
    return "a video visit" if modality == "telehealth" else "an in-person visit"


def _span(start: datetime, end: datetime) -> str:
    return f"{_utc(start)[:-4]} to {end:%H:%M} UTC"


_SUMMARIES: dict[type[Any], Callable[[Any], str]] = {
    Patient.Registered: lambda e: "registered the patient record",
    Patient.EmailVerified: lambda e: "verified the email address",
    Patient.SignInCodeRequested: lambda e: "asked for a sign-in code",
    Patient.ContactDetailsChanged: lambda e: "changed the contact details",
    Patient.Erased: lambda e: f"erased the patient's personal data (basis: {e.basis})",
    EmailClaim.Claimed: lambda e: f"claimed an email address for patient {e.patient_id}",
    EmailClaim.Released: lambda e: "released an email address",
    EmailClaim.Reclaimed: lambda e: f"an email address passed to patient {e.patient_id}",
    Consent.Granted: lambda e: (f"granted {e.purpose} consent (policy {e.policy_version}, "
                                f"sha256 {e.policy_digest[:12]}…, by {e.method})"),
    Consent.Regranted: lambda e: (f"granted consent again (policy {e.policy_version}, "
                                  f"sha256 {e.policy_digest[:12]}…, by {e.method})"),
    Consent.Revoked: lambda e: f"withdrew consent (by {e.method})",
    Appointment.Booked: lambda e: (
        f"booked {_visit(e.modality)} {_span(e.start, e.end)} with provider {e.provider_id} "
        f"at clinic {e.clinic_id} for service {e.service_id}"),
    Appointment.Cancelled: lambda e: "cancelled the visit" + (" late" if e.late else ""),
    Appointment.Rescheduled: lambda e: (
        f"moved the visit from {_span(e.previous_start, e.previous_end)} to "
        f"{_span(e.start, e.end)}"),
    Appointment.HandedOff: lambda e: (f"handed the visit from provider {e.from_provider_id} "
                                      f"to provider {e.to_provider_id}"
                                      + (f" ({e.cause})" if e.cause else "")),
    Appointment.CheckedIn: lambda e: "checked the patient in",
    Appointment.Fulfilled: lambda e: "completed the visit",
    Appointment.MarkedNoShow: lambda e: "marked the visit a no-show",
    Appointment.Discharged: lambda e: "discharged the visit (summary filed by reference)",
    Appointment.ConfirmationRequested: lambda e: (
        f"asked the patient to confirm the visit ({e.release_minutes} min before the start, "
        "or it is released)"),
    Appointment.Confirmed: lambda e: "confirmed the visit",
    Appointment.ConfirmationLapsed: lambda e: "released the visit: not confirmed in time",
    PatientAgenda.Opened: lambda e: f"opened the agenda of patient {e.patient_id}",
    PatientAgenda.Reserved: lambda e: (f"reserved {_span(e.start, e.end)} for visit "
                                       f"{e.appointment_id}" + (" beyond the visit limit"
                                                                if e.over_limit else "")),
    PatientAgenda.Released: lambda e: f"released the time of visit {e.appointment_id}",
    PatientAgenda.NoShowRecorded: lambda e: (f"counted the missed visit {e.appointment_id} "
                                             "for the no-show rule"),
    ProviderCalendar.Opened: lambda e: f"opened the calendar of provider {e.provider_id} "
                                       f"for {e.day}",
    ProviderCalendar.Reserved: lambda e: (f"reserved {_span(e.start, e.end)} for visit "
                                          f"{e.appointment_id} at clinic {e.clinic_id}"),
    ProviderCalendar.Released: lambda e: f"released the time of visit {e.appointment_id}",
    ProviderCalendar.RulesRevised: lambda e: f"hours changed by schedule {e.schedule_id}",
    Clinic.Registered: lambda e: f"registered clinic {e.name!r} ({e.time_zone})",
    Clinic.Revised: lambda e: f"revised clinic {e.name!r}",
    Clinic.NoShowPolicySet: lambda e: (
        "returned the clinic to the deployment's no-show rule" if e.no_shows is None else
        f"set the clinic's no-show rule ({e.no_shows} in {e.within_days} days: "
        f"{e.upcoming or 'no lower'} upcoming limit, confirmation "
        f"{'asked ' + str(e.release_hours) + ' h before' if e.confirm else 'off'})"),
    Service.Registered: lambda e: (f"registered service {e.name!r} ({e.duration_minutes} "
                                   f"min, {e.modality})"),
    Service.Revised: lambda e: (f"revised service {e.name!r} ({e.duration_minutes} min, "
                                f"{e.modality})"),
    Provider.Registered: lambda e: (f"registered provider {e.display_name!r} at "
                                    f"{len(e.clinic_ids)} clinic(s)"),
    Provider.Revised: lambda e: (f"revised provider {e.display_name!r} at "
                                 f"{len(e.clinic_ids)} clinic(s)"),
    Schedule.Published: lambda e: (f"published weekly hours of provider {e.provider_id} at "
                                   f"clinic {e.clinic_id} ({len(e.rules)} rule(s))"),
    Schedule.RulesChanged: lambda e: f"changed the weekly hours ({len(e.rules)} rule(s))",
    Reminder.Due: lambda e: (f"scheduled a reminder {e.offset_minutes} min before visit "
                             f"{e.appointment_id}, due {_utc(e.due_at)}"),
    WaitlistEntry.Joined: lambda e: (f"joined the waitlist for service {e.service_id} until "
                                     f"{_utc(e.not_after)}"),
    WaitlistEntry.PrioritySet: lambda e: f"set the waitlist priority to {e.priority}",
    WaitlistEntry.Offered: lambda e: (f"offered {_span(e.start, e.end)} from the waitlist "
                                      f"until {_utc(e.expires_at)}"),
    WaitlistEntry.OfferLapsed: lambda e: f"waitlist offer {e.offer_id} ended ({e.cause})",
    WaitlistEntry.Booked: lambda e: f"booked visit {e.appointment_id} from the waitlist",
    WaitlistEntry.Left: lambda e: "left the waitlist",
    WaitlistEntry.Expired: lambda e: "the waitlist entry expired",
    Opening.Opened: lambda e: (f"freed {_span(e.start, e.end)} of provider {e.provider_id} "
                               "for the waitlist"),
    Opening.Offered: lambda e: f"offered the freed time to waitlist entry {e.entry_id}",
    Opening.OfferLapsed: lambda e: f"the offer to entry {e.entry_id} ended ({e.cause})",
    Opening.Skipped: lambda e: f"passed over waitlist entry {e.entry_id} ({e.cause})",
    Opening.Accepted: lambda e: f"entry {e.entry_id} booked the freed time",
    Opening.Closed: lambda e: f"closed the freed time ({e.cause})",
    WebhookSubscription.Registered: lambda e: (f"registered a webhook to {_host(e.url)} for "
                                               f"{', '.join(e.events)}"),
    WebhookSubscription.SecretRotated: lambda e: "rotated the webhook's signing secret",
    WebhookSubscription.Disabled: lambda e: "disabled the webhook",
    WebhookRegistry.Added: lambda e: f"webhook {e.subscription_id} active",
    WebhookRegistry.Removed: lambda e: f"webhook {e.subscription_id} no longer active",
}


def _host(url: str) -> str:
    """A webhook URL's host only: its path or query may carry a partner's token."""
    return urlsplit(url).hostname or "?"


def describe(event: Any) -> str:
    """One line about the change; never a PHI field (domain/privacy.py)."""
    summary = _SUMMARIES.get(type(event))
    if summary is None:  # an event type added later: its name still says what happened
        return type(event).__qualname__.replace(".", ": ")
    return summary(event)
