"""API worker processes that each own a SO_REUSEPORT socket on the same port.

uvicorn's own `--workers` shares one listening socket; the kernel then hands most new
connections to whichever process happens to be awake, and keep-alive clients stay pinned to
it (measured: one worker at 75% CPU, the other at 30%). With one SO_REUSEPORT socket per
worker the kernel spreads connections by hash, evenly (docs/decisions/0011-reuseport.md).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import ssl
from collections.abc import Mapping
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from infra.http.protocol import ProblemHttpProtocol
from infra.settings import Settings

APP = "infra.http.app:app_from_environment"
SslOptions = Mapping[str, Any]


def ssl_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS keywords from CLINIC_TLS_*: HTTPS with the configured certificate, and
    with a client CA, mutual TLS (a client certificate signed by it is required). {}: HTTP."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return {}
    options: dict[str, Any] = {"ssl_certfile": str(settings.tls_cert_file),
                               "ssl_keyfile": str(settings.tls_key_file)}
    if settings.tls_client_ca_file is not None:
        options |= {"ssl_ca_certs": str(settings.tls_client_ca_file),
                    "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def bind(host: str, port: int, *, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def config(host: str, port: int, tls: SslOptions | None = None) -> uvicorn.Config:
    """tls: ssl_options(settings); empty or None serves plain HTTP. No access log: its line
    carries the query string (a join link's token); our middleware logs the route instead.
    What the HTTP parser refuses is answered as problem+json too (infra/http/protocol.py)."""
    return uvicorn.Config(APP, factory=True, host=host, port=port, log_config=None,
                          http=ProblemHttpProtocol,
                          access_log=False, proxy_headers=False, timeout_keep_alive=30,
                          **(tls or {}))


def _worker(host: str, port: int, tls: SslOptions | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    server = uvicorn.Server(config(host, port, tls))
    server.run(sockets=[bind(host, port)])


def serve(host: str, port: int, workers: int, tls: SslOptions | None = None) -> None:
    """Run until SIGINT/SIGTERM reaches this process; then stop every worker gracefully."""
    if workers <= 1:
        uvicorn.Server(config(host, port, tls)).run()
        return
    # Fail early (port in use) and keep the port while workers start. Not listening: the
    # kernel would queue connections on it, and closing it would reset them.
    guard = bind(host, port, listen=False)
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=_worker, args=(host, port, tls), name=f"api-{n}", daemon=False)
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    guard.close()
    try:
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive() and process.pid:
                process.terminate()  # SIGTERM: uvicorn finishes in-flight requests
        for process in processes:
            process.join(30)
