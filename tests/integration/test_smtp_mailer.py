"""SmtpMailer against a real SMTP server (aiosmtpd on loopback): what arrives, how refusals
and network trouble become permanent or transient errors, and TLS with a private CA."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID, uuid4

import pytest
from icalendar import Calendar

from infra.embedded.process import free_port
from infra.mail.smtp import (
    DeliveryError,
    PermanentDeliveryError,
    Security,
    SmtpMailer,
    TransientDeliveryError,
)
from projections.notifications.emails import VisitSummary, confirmation_email, sign_in_code_email
from tests.harness.smtp import SmtpServer, Stage, Tls, smtp_server

SENDER = "clinic@example.org"
TO = "pat@example.com"
JOIN = "https://video.example/join/secret-token-123"


def a_visit() -> VisitSummary:
    start = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    return VisitSummary(uuid4(), start, start + timedelta(minutes=30), "America/New_York",
                        "Downtown Clinic", "Dr. Ada Lovelace", "General consultation",
                        "telehealth", JOIN, 0)


def mailer(server: SmtpServer, security: Security = "none", username: str | None = None,
           password: str | None = None) -> SmtpMailer:
    return SmtpMailer(server.host, server.port, SENDER, security=security, timeout=5.0,
                      ca_file=server.ca_file, username=username, password=password)


def assert_no_phi(error: DeliveryError, message: EmailMessage) -> None:
    text = str(error)
    assert TO not in text and JOIN not in text and "Dr. Ada" not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_a_confirmation_arrives_with_its_invitation() -> None:
    visit = a_visit()
    with smtp_server() as server:
        mailer(server).send(confirmation_email(SENDER, TO, visit), uuid4())
        [received] = server.wait_for(1)
    assert received.mail_from == SENDER and received.rcpt_tos == [TO]
    assert received.message["Subject"] == "Your visit is booked"
    [part] = list(received.message.iter_attachments())
    assert part.get_filename() == "visit.ics" and part.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"{visit.appointment_id}@clinic-booking"
    assert event.decoded("DTSTART") == visit.start and event.decoded("DTEND") == visit.end


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_550_is_permanent(stage: Stage) -> None:
    message = confirmation_email(SENDER, TO, a_visit())
    with smtp_server(reply=550, reply_at=stage) as server, \
            pytest.raises(PermanentDeliveryError) as refused:
        mailer(server).send(message, uuid4())
    assert refused.value.smtp_code == 550
    assert_no_phi(refused.value, message)


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_451_is_transient(stage: Stage) -> None:
    message = confirmation_email(SENDER, TO, a_visit())
    with smtp_server(reply=451, reply_at=stage) as server, \
            pytest.raises(TransientDeliveryError) as deferred:
        mailer(server).send(message, uuid4())
    assert deferred.value.smtp_code == 451
    assert_no_phi(deferred.value, message)


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_server_that_defers_the_first_messages_then_accepts(stage: Stage) -> None:
    """The harness the notifier's retry tests rely on: 451 twice, then delivered."""
    message = sign_in_code_email(SENDER, TO, "123456")
    with smtp_server(reply=451, reply_at=stage, refuse_first=2) as server:
        for _ in range(2):
            with pytest.raises(TransientDeliveryError):
                mailer(server).send(message, uuid4())
        mailer(server).send(message, uuid4())
        [received] = server.wait_for(1)
    assert server.refused == 2 and len(server.messages) == 1
    assert received.rcpt_tos == [TO]


def test_nobody_listening_is_transient() -> None:
    smtp = SmtpMailer("127.0.0.1", free_port(), SENDER, security="none", timeout=2.0)
    with pytest.raises(TransientDeliveryError):
        smtp.send(sign_in_code_email(SENDER, TO, "123456"), uuid4())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never greets."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield int(listener.getsockname()[1])


def test_a_silent_server_times_out_transiently(silent_port: int) -> None:
    smtp = SmtpMailer("127.0.0.1", silent_port, SENDER, security="none", timeout=0.5)
    with pytest.raises(TransientDeliveryError):
        smtp.send(sign_in_code_email(SENDER, TO, "123456"), uuid4())


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_a_private_ca(security: Tls) -> None:
    with smtp_server(tls=security) as server:
        mailer(server, security).send(sign_in_code_email(SENDER, TO, "123456"), uuid4())
        [received] = server.wait_for(1)
    assert "123456" in str(received.message.get_body(preferencelist=("plain",)))


def test_an_untrusted_certificate_is_refused() -> None:
    with smtp_server(tls="starttls") as server, pytest.raises(TransientDeliveryError) as bad:
        SmtpMailer(server.host, server.port, SENDER, security="starttls", timeout=5.0).send(
            sign_in_code_email(SENDER, TO, "123456"), uuid4())  # system CAs only
    assert "TLS" in str(bad.value)
    assert not server.messages


def test_login_over_starttls() -> None:
    with smtp_server(tls="starttls", credentials=("mailer", "s3cret")) as server:
        mailer(server, "starttls", username="mailer", password="s3cret").send(
            sign_in_code_email(SENDER, TO, "123456"), uuid4())
        assert len(server.wait_for(1)) == 1
        with pytest.raises(PermanentDeliveryError) as wrong:
            mailer(server, "starttls", username="mailer", password="wrong").send(
                sign_in_code_email(SENDER, TO, "123456"), uuid4())
    assert wrong.value.smtp_code == 535


def test_credentials_need_tls() -> None:
    with pytest.raises(ValueError):
        SmtpMailer("127.0.0.1", 25, SENDER, security="none", username="u", password="p")


def test_sender_is_exposed_for_builders() -> None:
    assert SmtpMailer("127.0.0.1", 25, SENDER, security="starttls").sender == SENDER


def test_patient_id_is_not_a_header() -> None:
    patient = UUID("00000000-0000-4000-8000-000000000001")
    with smtp_server() as server:
        mailer(server).send(sign_in_code_email(SENDER, TO, "123456"), patient)
        [received] = server.wait_for(1)
    assert str(patient) not in received.raw.decode()
