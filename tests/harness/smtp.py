"""A real SMTP server for tests (aiosmtpd on loopback): it keeps what it receives, can
speak STARTTLS or implicit TLS with a throwaway CA, require a login, or refuse with a code
(every message, or only the first few: a server that recovers, for the retry path).

    with smtp_server(tls="starttls", reply=None) as server:
        SmtpMailer(server.host, server.port, ..., ca_file=server.ca_file).send(...)
        [received] = server.wait_for(1)
"""

from __future__ import annotations

import ssl
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from infra.embedded.process import free_port
from tests.harness.certs import make_tls_files

Tls = Literal["starttls", "tls"]
Stage = Literal["rcpt", "data"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage  # parsed with email.policy.default
    raw: bytes


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: Path | None  # the CA to trust when tls is on
    messages: list[Received] = field(default_factory=list)
    refused: int = 0  # messages turned away with the reply code so far

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` messages, once they arrived (for senders in other threads)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} emails arrived")
            time.sleep(0.05)
        return self.messages[:count]


class _Handler:
    def __init__(self, server: SmtpServer, reply: int | None, reply_at: Stage,
                 refuse_first: int | None) -> None:
        self.server, self.reply, self.reply_at = server, reply, reply_at
        self.refuse_first = refuse_first

    def _refuses(self, stage: Stage) -> bool:
        """Whether this message is turned away here (and counted). The handler runs in the
        controller's one event loop, so the count needs no lock."""
        if not self.reply or self.reply_at != stage:
            return False
        if self.refuse_first is not None and self.server.refused >= self.refuse_first:
            return False
        self.server.refused += 1
        return True

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self._refuses("rcpt"):  # real servers echo the address
            return f"{self.reply} <{address}> refused by the test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self._refuses("data"):
            return f"{self.reply} message for {envelope.rcpt_tos} refused by the test server"
        raw = cast(bytes, envelope.original_content or envelope.content)
        message = message_from_bytes(raw, policy=policy.default)
        self.server.messages.append(Received(str(envelope.mail_from),
                                             list(envelope.rcpt_tos), message, raw))
        return "250 Message accepted"


def _authenticator(username: str, password: str) -> Any:
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str,
              auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == username.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)  # False: the server answers 535
    return check


@contextmanager
def smtp_server(*, tls: Tls | None = None, reply: int | None = None, reply_at: Stage = "data",
                refuse_first: int | None = None,
                credentials: tuple[str, str] | None = None) -> Iterator[SmtpServer]:
    """A server on 127.0.0.1 and a free port. `reply` (e.g. 550, 451) refuses every message
    at RCPT or DATA, or with `refuse_first` only the first that many (one recipient each)
    and accepts the rest, as a server over its trouble would; `credentials` requires AUTH
    (over TLS only, as real servers do)."""
    with tempfile.TemporaryDirectory(prefix="clinic-smtp-") as folder:
        server = SmtpServer("127.0.0.1", free_port(), None)
        options: dict[str, Any] = {}
        if tls:
            files = make_tls_files(Path(folder))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(files.server.cert, files.server.key)
            server.ca_file = files.ca
            options = ({"tls_context": context, "require_starttls": True}
                       if tls == "starttls" else {"ssl_context": context})
        if credentials:
            options.update(authenticator=_authenticator(*credentials), auth_required=True)
        controller = Controller(_Handler(server, reply, reply_at, refuse_first),
                                hostname=server.host, port=server.port,
                                server_hostname="localhost", **options)
        controller.start()
        try:
            yield server
        finally:
            controller.stop()
