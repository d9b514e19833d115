"""An open-loop HTTP load generator: requests start on a fixed schedule, whatever the server
does, and latency is measured from the *scheduled* start (no coordinated omission).

A minimal HTTP/1.1 keep-alive client over asyncio streams, so the generator itself stays
cheap enough to share two cores with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = min(len(data) - 1, max(0, round(p / 100 * len(data) + 0.5) - 1))
    return data[k]


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    # Scheduled send time of each answered request, seconds after `started` (parallel to
    # latencies_ms): latency over time.
    sent_at_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    skipped: int = 0  # scheduled, but make_request had nothing to send
    # How late the generator itself dispatched each request (its own event loop busy or
    # starved of CPU): milliseconds after the scheduled time. Large values mean the
    # generator, not the server, limits the offered rate.
    dispatch_late_ms: list[float] = field(default_factory=list)
    started: float = 0.0  # time.perf_counter() of the first scheduled send
    elapsed_s: float = 0.0

    def record(self, status: int, latency_ms: float, sent_at_s: float = float("nan")) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies_ms.append(latency_ms)
        self.sent_at_s.append(sent_at_s)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def error_rate(self) -> float:
        bad = self.errors + sum(n for s, n in self.statuses.items() if s >= 500)
        return bad / self.sent if self.sent else 0.0

    def summary(self) -> dict[str, float | int | str]:
        done = len(self.latencies_ms)
        return {
            "name": self.name, "sent": self.sent, "completed": done,
            "throughput_rps": round(done / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": round(self.percentile(50), 2), "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2), "max_ms": round(max(self.latencies_ms or
                                                                        [0.0]), 2),
            "error_rate": round(self.error_rate, 5),
            "statuses": str(dict(sorted(self.statuses.items()))),
            "errors": str(self.error_kinds),
        }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; the answer's status and body."""
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server (keep-alive timeout)")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        body = await self.reader.readexactly(length) if length else b""
        return status, body


async def run_open_loop(host: str, port: int, rate: float, duration_s: float,
                        make_request: Callable[[int], bytes | None], name: str,
                        max_connections: int = 256, initial_connections: int = 32, *,
                        on_response: Callable[[int, int, bytes], None] | None = None,
                        timeout_s: float | None = None) -> Result:
    """Send `rate` requests per second for `duration_s`; return latencies and statuses.

    make_request(i) builds request i at its scheduled time; None skips that tick (nothing to
    send, e.g. no earlier booking left to cancel: counted in `skipped`, not in `sent`).
    on_response(i, status, body) hears every answer; status 0 (empty body) when request i
    got none (transport error or timeout). timeout_s bounds each request, connecting and
    queueing for a connection included; a request past it counts as a `TimeoutError`.

    Connections are opened up front and used in turn, so that keep-alive connections spread
    over every API worker process the way a load balancer would spread them; a lazily
    grown pool would pin most traffic to whichever worker accepted first.
    """
    result = Result(name)
    idle: deque[_Connection] = deque([
        _Connection(*await asyncio.open_connection(host, port))
        for _ in range(initial_connections)
    ])
    # Requests waiting for a connection when all max_connections are busy, served in
    # order; a future each, so waiting costs no CPU (a polling wait would make an
    # overloaded server look worse by starving it of the generator's share of the cores).
    waiting: deque[asyncio.Future[_Connection]] = deque()
    open_count = len(idle)
    interval = 1.0 / rate
    total = int(rate * duration_s)
    start = time.perf_counter()
    result.started = start
    tasks: list[asyncio.Task[None]] = []
    spares: set[asyncio.Task[None]] = set()

    async def connect() -> _Connection:
        nonlocal open_count
        open_count += 1
        try:
            return _Connection(*await asyncio.open_connection(host, port))
        except BaseException:
            open_count -= 1
            raise

    async def acquire() -> _Connection:
        if idle:
            return idle.popleft()  # the longest idle: rotate over every connection
        if open_count < max_connections:
            return await connect()
        turn: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                release(turn.result())  # handed over just as the wait timed out
            raise

    def release(conn: _Connection) -> None:
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(conn)
                return
        idle.append(conn)

    async def replace() -> None:
        with contextlib.suppress(OSError):
            release(await connect())

    async def one(i: int, scheduled: float, raw: bytes) -> None:
        nonlocal open_count
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout_s):
                conn = await acquire()
                try:
                    status, body = await conn.request(raw)
                except ConnectionResetError:
                    # An idle keep-alive connection the server closed: reconnect, as any HTTP
                    # client does; the latency still counts from the scheduled start.
                    conn.writer.close()
                    open_count -= 1
                    conn = None
                    conn = await connect()
                    status, body = await conn.request(raw)
            result.record(status, (time.perf_counter() - scheduled) * 1000, scheduled - start)
            release(conn)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            # OSError includes TimeoutError (asyncio.timeout)
            result.errors += 1
            kind = type(exc).__name__
            result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
            if conn is not None:
                conn.writer.close()
                open_count -= 1
                if waiting:  # its place goes to whoever waits for a connection
                    spares.add(asyncio.create_task(replace()))
            status, body = 0, b""
        if on_response is not None:
            on_response(i, status, body)

    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.dispatch_late_ms.append((time.perf_counter() - scheduled) * 1000)
        raw = make_request(i)
        if raw is None:
            result.skipped += 1
            continue
        result.sent += 1
        tasks.append(asyncio.create_task(one(i, scheduled, raw)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=max(60.0, (timeout_s or 0) + 10))
    result.elapsed_s = time.perf_counter() - start
    for spare in spares:
        spare.cancel()
    for conn in idle:
        conn.writer.close()
    return result


def post(path: str, body: bytes, headers: dict[str, str] | None = None,
         host: str = "127.0.0.1") -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def get(path: str, host: str = "127.0.0.1") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
