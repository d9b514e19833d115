"""The emails a patient receives: sign-in code, visit booked, moved, reminded, cancelled.

Minimum necessary: the greeting is "Hello," and no email carries the patient's name, birth
date, visit reason or notes. The telehealth join link is a credential: it appears in the
body and the .ics only, never in a subject or a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from uuid import UUID
from zoneinfo import ZoneInfo

from projections.notifications.ics import Method, visit_calendar
from projections.notifications.wording import local_when, offset_phrase, visit_details

SIGN_IN_SUBJECT = "Your clinic sign-in code"
_CODE = re.compile(r"Your sign-in code is (\d{6})\.")


@dataclass(frozen=True)
class VisitSummary:
    """What an email may say about a visit, and nothing more."""

    appointment_id: UUID
    start: datetime  # UTC aware
    end: datetime
    timezone: str  # IANA zone of the clinic
    clinic_name: str
    provider_name: str
    service_name: str
    modality: str  # "in_person" | "telehealth"
    join_url: str | None
    sequence: int  # iCalendar SEQUENCE: 0 when booked, bumped on every change

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("visit times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("a visit ends after it starts")
        if self.modality not in ("in_person", "telehealth"):
            raise ValueError(f"unknown modality {self.modality!r}")
        ZoneInfo(self.timezone)  # fails early on an unknown zone

    @property
    def telehealth(self) -> bool:
        return self.modality == "telehealth"


def sign_in_code_email(sender: str, to: str, code: str) -> EmailMessage:
    text = (f"Your sign-in code is {code}.\n\nIt works once, for 10 minutes. If you did not "
            "ask for it, ignore this email.\n")
    return _message(sender, to, SIGN_IN_SUBJECT, text)


def find_sign_in_code(body: str) -> str | None:
    """The code in a sign_in_code_email body (the development mailbox reads it back)."""
    found = _CODE.search(body)
    return found.group(1) if found else None


@dataclass(frozen=True)
class ConfirmRequest:
    """After repeated no-shows the patient confirms the visit by `by`, at `url`."""

    by: datetime
    url: str

    def text(self, timezone: str) -> str:
        until = local_when(self.by, self.by, timezone).split(" to ")[0]
        return (f"Please confirm that you are coming by {until}:\n{self.url}\n"
                "If it is not confirmed by then, the time goes to someone waiting for it.")


def confirmation_email(sender: str, to: str, visit: VisitSummary,
                       confirm: ConfirmRequest | None = None) -> EmailMessage:
    closing = "The attached invitation adds it to your calendar."
    if confirm is not None:
        closing = f"{confirm.text(visit.timezone)}\n\n{closing}"
    text = _visit_text("Your visit is booked.", visit, closing)
    return _with_invitation(_message(sender, to, "Your visit is booked", text), visit, "REQUEST")


def rescheduled_email(sender: str, to: str, visit: VisitSummary) -> EmailMessage:
    text = _visit_text("Your visit was moved. Here is the new time.", visit,
                       "The attached invitation updates your calendar.")
    return _with_invitation(_message(sender, to, "Your visit was rescheduled", text), visit,
                            "REQUEST")


def reminder_email(sender: str, to: str, visit: VisitSummary, offset_minutes: int,
                   confirm: ConfirmRequest | None = None) -> EmailMessage:
    when = offset_phrase(offset_minutes)  # "in 24 hours", or "now"
    subject = "Reminder: your visit starts now" if when == "now" else f"Reminder: your visit {when}"
    closing = "" if confirm is None else confirm.text(visit.timezone)
    text = _visit_text(f"A reminder: your visit starts {when}.", visit, closing)
    return _message(sender, to, subject, text)


def cancellation_email(sender: str, to: str, visit: VisitSummary) -> EmailMessage:
    """The caller passes a sequence above the last one sent, as iTIP requires for CANCEL."""
    text = _visit_text("Your visit was cancelled.", visit,
                       "The attached update removes it from your calendar.", join=False)
    return _with_invitation(_message(sender, to, "Your visit was cancelled", text), visit,
                            "CANCEL")


def missed_visit_email(sender: str, to: str, visit: VisitSummary,
                       rebook_url: str) -> EmailMessage:
    """A no-show: no blame, and the way to another time."""
    text = _visit_text("We missed you at your visit.", visit,
                       f"If you still need it, pick another time here:\n{rebook_url}",
                       join=False)
    return _message(sender, to, "We missed you today", text)


def waitlist_offer_email(sender: str, to: str, visit: VisitSummary, expires_at: datetime,
                         accept_url: str) -> EmailMessage:
    """Freed time held for a patient on the waitlist, until `expires_at`."""
    until = local_when(expires_at, expires_at, visit.timezone).split(" to ")[0]
    text = _visit_text(
        "An earlier time is free, and we are holding it for you.", visit,
        f"It is yours if you accept it by {until}:\n{accept_url}\n"
        "After that it goes to the next person on the waitlist.", join=False)
    return _message(sender, to, "A time on your waitlist is free", text)


def _visit_text(opening: str, visit: VisitSummary, closing: str, *, join: bool = True) -> str:
    parts = ["Hello,", opening, visit_details(visit, join=join)]
    if closing:
        parts.append(closing)
    parts.append("To change or cancel, sign in to your clinic account.")
    return "\n\n".join(parts) + "\n"


def _message(sender: str, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "clinic-booking"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text)
    return message


def _with_invitation(message: EmailMessage, visit: VisitSummary, method: Method) -> EmailMessage:
    ics = visit_calendar(visit, method, sender=str(message["From"]), to=str(message["To"]),
                         now=datetime.now(UTC))
    message.add_attachment(ics, maintype="text", subtype="calendar", filename="visit.ics",
                           params={"method": method, "charset": "utf-8"})
    return message
