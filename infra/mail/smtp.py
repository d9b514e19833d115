"""Delivering email: the Mailer port, its SMTP implementation, and the errors a caller acts on.

The notifier retries TransientDeliveryError with backoff and dead-letters
PermanentDeliveryError. Error texts carry the SMTP code and a generic reason only: servers
echo recipient addresses in their replies, and those must not reach logs.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol
from uuid import UUID

from opentelemetry.trace import SpanKind, StatusCode

from infra.mail.dev_mailbox import DevMailbox
from infra.observability.tracing import tracer

__all__ = ["DeliveryError", "DevMailbox", "Mailer", "PermanentDeliveryError", "Security",
           "SmtpMailer", "TransientDeliveryError"]

Security = Literal["starttls", "tls", "none"]


class DeliveryError(Exception):
    """An email was not delivered; `smtp_code` is the server's reply code, if it gave one."""

    def __init__(self, reason: str, smtp_code: int | None = None) -> None:
        super().__init__(f"{reason} (SMTP {smtp_code})" if smtp_code else reason)
        self.smtp_code = smtp_code


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (5xx): the message goes to the dead-letter topic."""


class TransientDeliveryError(DeliveryError):
    """The server or network may recover (4xx, timeouts, TLS or connection trouble)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage, patient_id: UUID) -> None:
        """Deliver one message to a patient, or raise a DeliveryError."""


def _by_code(code: int, reason: str) -> DeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(reason, code)
    return TransientDeliveryError(reason, code)


class SmtpMailer(Mailer):
    """One SMTP session per message: a notifier sends few emails, and a fresh connection
    never inherits a half-broken one."""

    def __init__(self, host: str, port: int, sender: str, *, security: Security,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, ca_file: Path | None = None) -> None:
        if username and security == "none":
            raise ValueError("SMTP credentials need TLS: use security 'starttls' or 'tls'")
        self.host, self.port, self._sender = host, port, sender
        self.security, self.timeout = security, timeout
        self._username, self._password = username, password
        self._ca_file = ca_file

    @property
    def sender(self) -> str:
        return self._sender

    def send(self, message: EmailMessage, patient_id: UUID) -> None:
        """In an `smtp send` span: the server and the outcome, never an address."""
        with tracer().start_as_current_span(
                "smtp send", kind=SpanKind.CLIENT, record_exception=False,
                set_status_on_exception=False,
                attributes={"server.address": self.host, "server.port": self.port,
                            "network.protocol.name": "smtp"}) as span:
            try:
                self._deliver(message)
            except DeliveryError as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(StatusCode.ERROR, str(exc))  # a code and a generic reason
                raise

    def _deliver(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message, from_addr=self._sender)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentDeliveryError("recipient refused", codes[0]) from None
            raise TransientDeliveryError("recipient refused for now",
                                         codes[0] if codes else None) from None
        except smtplib.SMTPResponseException as exc:  # sender/data refused, auth, helo
            raise _by_code(exc.smtp_code, f"server refused the {_stage(exc)}") from None
        except smtplib.SMTPNotSupportedError:
            raise TransientDeliveryError("server does not offer STARTTLS or AUTH") from None
        except smtplib.SMTPServerDisconnected:
            raise TransientDeliveryError("server disconnected") from None
        except ssl.SSLError as exc:
            raise TransientDeliveryError(f"TLS failure: {type(exc).__name__}") from None
        except OSError as exc:  # refused, unreachable, timeout; also other SMTPExceptions
            raise TransientDeliveryError(f"connection failure: {type(exc).__name__}") from None
        if refused:  # some recipients took it: a retry would send it to them twice
            raise PermanentDeliveryError("some recipients refused",
                                         next(iter(refused.values()))[0])

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self._tls())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                smtp.starttls(context=self._tls())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._ca_file)


def _stage(exc: smtplib.SMTPResponseException) -> str:
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "sender"
    if isinstance(exc, smtplib.SMTPDataError):
        return "message"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "credentials"
    return "session"
