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
from multiprocessing.process import BaseProcess

import uvicorn

APP = "infra.http.app:app_from_environment"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(APP, factory=True, host=host, port=port, log_config=None,
                          proxy_headers=False, timeout_keep_alive=30)


def _worker(host: str, port: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    server = uvicorn.Server(config(host, port))
    server.run(sockets=[bind(host, port)])


def serve(host: str, port: int, workers: int) -> None:
    """Run until SIGINT/SIGTERM reaches this process; then stop every worker gracefully."""
    if workers <= 1:
        uvicorn.Server(config(host, port)).run()
        return
    guard = bind(host, port)  # fail early (port in use) and keep the port while we start
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=_worker, args=(host, port), name=f"api-{n}", daemon=False)
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
