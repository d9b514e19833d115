"""A webhook receiver on loopback: a threaded http.server wrapped in TLS (a certificate from
tests/harness/certs.py), keeping every request and answering from a script (e.g. 500, 500,
then 200 for ever), optionally after a delay (a slow partner)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.harness.certs import TlsFiles


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int


class Receiver:
    def __init__(self, server: ThreadingHTTPServer, statuses: list[int], then: int) -> None:
        self.server, self.statuses, self.then = server, list(statuses), then
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/hooks/clinic"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else self.then
            self.received.append(Received(path, headers, body, status))
        return status

    def answering(self, status: int) -> None:
        """From now on answer `status` (after what is left of the script)."""
        with self.lock:
            self.statuses, self.then = [], status

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]


@contextmanager
def https_receiver(tls: TlsFiles, statuses: list[int], then: int = 200,
                   delay: float = 0.0) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            time.sleep(delay)
            status = receiver.answer(self.path, headers, body)
            payload = b'{"ok": true}' if status < 300 else b"receiver is failing on purpose"
            self.send_response(status)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server.cert, tls.server.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    receiver = Receiver(server, statuses, then)
    thread = threading.Thread(target=server.serve_forever, name="https-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
