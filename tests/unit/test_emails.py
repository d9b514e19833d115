"""Visit emails say the right thing in the clinic's local time, carry a calendar invitation
that updates one event per appointment, and nothing a patient did not need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from icalendar import Calendar

from infra.mail.dev_mailbox import DevMailbox
from projections.notifications.emails import (
    VisitSummary,
    cancellation_email,
    confirmation_email,
    reminder_email,
    rescheduled_email,
    sign_in_code_email,
)
from projections.notifications.wording import offset_phrase

SENDER = "Clinic <clinic@example.org>"
TO = "pat@example.com"
REASON = "persistent cough and night sweats"  # never to be mailed
JOIN = "https://video.example/join/secret-token-123"


def visit(*, start: datetime = datetime(2026, 11, 3, 14, 0, tzinfo=UTC), minutes: int = 30,
          telehealth: bool = False, sequence: int = 0) -> VisitSummary:
    return VisitSummary(
        appointment_id=UUID("8e5b6f0a-4d8e-4c57-9e43-0f1b2c3d4e5f"), start=start,
        end=start + timedelta(minutes=minutes), timezone="America/New_York",
        clinic_name="Downtown Clinic", provider_name="Dr. Ada Lovelace",
        service_name="General consultation",
        modality="telehealth" if telehealth else "in_person",
        join_url=JOIN if telehealth else None, sequence=sequence)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def invitation(message: EmailMessage) -> tuple[Calendar, str]:
    [part] = list(message.iter_attachments())
    assert part.get_filename() == "visit.ics"
    assert part.get_content_type() == "text/calendar"
    payload = part.get_content()
    return Calendar.from_ical(payload), str(part.get_param("method"))


def check_event(calendar: Calendar, subject: VisitSummary, status: str) -> None:
    [event] = calendar.walk("VEVENT")
    assert str(calendar["VERSION"]) == "2.0" and calendar.get("PRODID")
    assert str(event["UID"]) == f"{subject.appointment_id}@clinic-booking"
    assert event.decoded("DTSTART") == subject.start
    assert event.decoded("DTEND") == subject.end
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.get("DTSTAMP") is not None
    assert str(event["STATUS"]) == status
    assert event.decoded("SEQUENCE") == subject.sequence
    assert str(event["SUMMARY"]) == "General consultation with Dr. Ada Lovelace"


def test_headers_are_complete() -> None:
    message = confirmation_email(SENDER, TO, visit())
    assert message["From"] == SENDER and message["To"] == TO
    assert message["Subject"] == "Your visit is booked"
    assert message["Date"] and message["Message-ID"].endswith("@example.org>")


def test_sign_in_code_email_keeps_its_wording() -> None:
    message = sign_in_code_email(SENDER, TO, "042917")
    assert message["Subject"] == "Your clinic sign-in code"
    assert text_of(message) == ("Your sign-in code is 042917.\n\nIt works once, for 10 minutes. "
                                "If you did not ask for it, ignore this email.\n")


def test_confirmation_in_person() -> None:
    subject = visit()
    message = confirmation_email(SENDER, TO, subject)
    text = text_of(message)
    assert text.startswith("Hello,\n")
    assert "Your visit is booked." in text
    assert "Tuesday 3 November 2026, 9:00 AM to 9:30 AM EST" in text
    assert "Downtown Clinic" in text and "Dr. Ada Lovelace" in text
    assert "General consultation" in text and "Join" not in text
    calendar, method = invitation(message)
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    check_event(calendar, subject, "CONFIRMED")
    [event] = calendar.walk("VEVENT")
    assert str(event["LOCATION"]) == "Downtown Clinic" and "DESCRIPTION" not in event


def test_confirmation_telehealth_has_the_join_link() -> None:
    subject = visit(telehealth=True)
    message = confirmation_email(SENDER, TO, subject)
    assert JOIN in text_of(message) and "Video visit" in text_of(message)
    assert JOIN not in str(message["Subject"])
    calendar, _ = invitation(message)
    [event] = calendar.walk("VEVENT")
    assert str(event["LOCATION"]) == "Video visit"
    assert JOIN in str(event["DESCRIPTION"])


def test_local_time_follows_daylight_saving() -> None:
    before = text_of(confirmation_email(SENDER, TO, visit(
        start=datetime(2026, 10, 31, 13, 0, tzinfo=UTC))))
    after = text_of(confirmation_email(SENDER, TO, visit(
        start=datetime(2026, 11, 2, 14, 0, tzinfo=UTC))))
    assert "Saturday 31 October 2026, 9:00 AM to 9:30 AM EDT" in before
    assert "Monday 2 November 2026, 9:00 AM to 9:30 AM EST" in after
    across = text_of(confirmation_email(SENDER, TO, visit(
        start=datetime(2026, 11, 1, 5, 30, tzinfo=UTC), minutes=60)))
    assert "Sunday 1 November 2026, 1:30 AM EDT to 1:30 AM EST" in across


def test_rescheduled_carries_the_new_time_and_sequence() -> None:
    moved = visit(start=datetime(2026, 11, 5, 20, 0, tzinfo=UTC), sequence=2)
    message = rescheduled_email(SENDER, TO, moved)
    assert message["Subject"] == "Your visit was rescheduled"
    assert "Thursday 5 November 2026, 3:00 PM to 3:30 PM EST" in text_of(message)
    calendar, method = invitation(message)
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    check_event(calendar, moved, "CONFIRMED")


def test_cancellation_cancels_the_same_event() -> None:
    cancelled = visit(telehealth=True, sequence=3)
    message = cancellation_email(SENDER, TO, cancelled)
    assert message["Subject"] == "Your visit was cancelled"
    assert "Your visit was cancelled." in text_of(message)
    assert JOIN not in text_of(message)  # a dead link is no use
    calendar, method = invitation(message)
    assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    check_event(calendar, cancelled, "CANCELLED")


@pytest.mark.parametrize(("minutes", "subject"), [
    (1440, "Reminder: your visit in 24 hours"), (120, "Reminder: your visit in 2 hours"),
    (60, "Reminder: your visit in 1 hour"), (90, "Reminder: your visit in 1 hour 30 minutes"),
    (15, "Reminder: your visit in 15 minutes"), (2880, "Reminder: your visit in 2 days"),
    (0, "Reminder: your visit starts now")])
def test_reminder_phrasing(minutes: int, subject: str) -> None:
    message = reminder_email(SENDER, TO, visit(), minutes)
    assert message["Subject"] == subject
    assert not list(message.iter_attachments())


def test_reminder_for_telehealth_has_the_join_link() -> None:
    text = text_of(reminder_email(SENDER, TO, visit(telehealth=True), 120))
    assert "your visit starts in 2 hours" in text and JOIN in text


def test_negative_offset_is_refused() -> None:
    with pytest.raises(ValueError):
        offset_phrase(-5)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        visit(start=datetime(2026, 11, 3, 9, 0))


def test_no_reason_or_name_anywhere() -> None:
    subject = visit(telehealth=True)
    messages = [confirmation_email(SENDER, TO, subject), rescheduled_email(SENDER, TO, subject),
                reminder_email(SENDER, TO, subject, 1440),
                cancellation_email(SENDER, TO, subject)]
    for message in messages:
        everything = message.as_string() + "".join(
            str(part.get_content()) for part in message.walk() if not part.is_multipart())
        assert REASON not in everything and "reason" not in everything.lower()
        assert "Dear" not in everything and "Hello," in everything


# The development mailbox

def test_dev_mailbox_records_sends_and_forgets(tmp_path: Path) -> None:
    box = DevMailbox(tmp_path / "mailbox" / "messages.jsonl")
    alice, bob = uuid4(), uuid4()
    box.send(sign_in_code_email(SENDER, TO, "111111"), alice)
    box.send(confirmation_email(SENDER, TO, visit()), alice)
    box.send(sign_in_code_email(SENDER, "bob@example.com", "222222"), bob)
    newest, middle, oldest = box.messages()
    assert newest["to"] == "bob@example.com" and newest["patient_id"] == str(bob)
    assert middle["subject"] == "Your visit is booked" and "Hello," in middle["body"]
    assert middle["attachments"] == [{"filename": "visit.ics",
                                      "content_type": "text/calendar"}]
    assert oldest["attachments"] == [] and "111111" in oldest["body"] and oldest["at"]
    assert len(box.messages(limit=1)) == 1
    assert box.forget(alice) == 2
    assert [m["patient_id"] for m in box.messages()] == [str(bob)]
    assert box.forget(alice) == 0


def test_dev_mailbox_latest_code(tmp_path: Path) -> None:
    box = DevMailbox(tmp_path / "messages.jsonl")
    assert box.latest_code(TO) is None
    patient = uuid4()
    box.send(sign_in_code_email(SENDER, TO, "123456"), patient)
    box.send(sign_in_code_email(SENDER, TO, "654321"), patient)
    box.send(confirmation_email(SENDER, TO, visit()), patient)
    box.send(sign_in_code_email(SENDER, "other@example.com", "999999"), uuid4())
    assert box.latest_code(TO) == "654321"
    assert box.latest_code("PAT@example.com") == "654321"
    assert box.latest_code("nobody@example.com") is None
    box.forget(patient)
    assert box.latest_code(TO) is None
