"""The offer email's path as deployed, for the waitlist benchmark: `clinic project` (read models
and the offer matcher), `clinic relay` and `clinic notify` as processes on the benchmark's
servers, sending to a real SMTP server (the tests' aiosmtpd) that notes when each email came."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness.servers import kafka_server
from tests.harness.smtp import Received, SmtpServer, smtp_server
from tests.load.common import Servers
from tests.load.openloop import percentile

ROLES = ("project", "relay", "notify")
OFFER_SUBJECT = "A time on your waitlist is free"
_TICKS = os.sysconf("SC_CLK_TCK")


class Arrivals(list[Received]):
    """The SMTP server's inbox, noting the wall-clock time each email was accepted (the
    server's handler appends to it in its event loop)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: Received) -> None:
        self.times.append(time.time())
        super().append(item)


@dataclass
class Pipeline:
    smtp: SmtpServer
    inbox: Arrivals
    processes: dict[str, subprocess.Popen[bytes]]
    logs: Path
    started: dict[str, float] = field(default_factory=dict)

    def offers(self) -> list[tuple[float, Received]]:
        """Offer emails so far, each with when it arrived."""
        return [(at, m) for at, m in zip(self.inbox.times, list(self.inbox), strict=False)
                if m.message["Subject"] == OFFER_SUBJECT]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, every thread) each role's process used so far."""
        used = {}
        for role, proc in self.processes.items():
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[role] = (int(fields[11]) + int(fields[12])) / _TICKS
        return used

    def check_alive(self) -> None:
        for role, proc in self.processes.items():
            if proc.poll() is not None:
                tail = (self.logs / f"{role}.log").read_text()[-3000:]
                raise RuntimeError(f"`clinic {role}` exited ({proc.returncode}):\n{tail}")

    def settle(self, quiet_s: float, timeout_s: float) -> float:
        """Wait until no email has arrived for `quiet_s` (the notifier caught up)."""
        began = since = time.perf_counter()
        count = len(self.inbox)
        while time.perf_counter() - since < quiet_s:
            self.check_alive()
            if time.perf_counter() - began > timeout_s:
                raise RuntimeError(f"emails still arriving after {timeout_s:.0f}s")
            time.sleep(0.2)
            if len(self.inbox) != count:
                count, since = len(self.inbox), time.perf_counter()
        return time.perf_counter() - began


@contextmanager
def pipeline(srv: Servers, kafka_bootstrap: str | None = None,
             prefix: str = "bench.") -> Iterator[Pipeline]:
    """The three processes and the SMTP server, stopped (SIGTERM) on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": srv.database_url, "CLINIC_REDIS_URL": srv.redis.url,
            "CLINIC_DATA_DIR": str(srv.data_dir), "CLINIC_LOG_LEVEL": "WARNING"}
    if kafka_bootstrap:
        env |= {"CLINIC_KAFKA_BOOTSTRAP": kafka_bootstrap, "CLINIC_KAFKA_TOPIC_PREFIX": prefix}
    logs = srv.data_dir.parent / "pipeline-logs"
    logs.mkdir(exist_ok=True)
    with smtp_server() as smtp:
        inbox = Arrivals()
        smtp.messages = inbox
        env |= {"CLINIC_SMTP_HOST": smtp.host, "CLINIC_SMTP_PORT": str(smtp.port),
                "CLINIC_SMTP_STARTTLS": "false"}
        processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for role in ROLES:
                with (logs / f"{role}.log").open("wb") as log:
                    processes[role] = subprocess.Popen(
                        [sys.executable, "-m", "infra.cli.main", role], env=env,
                        stdout=log, stderr=subprocess.STDOUT)
            yield Pipeline(smtp, inbox, processes, logs)
        finally:
            for proc in processes.values():
                proc.send_signal(signal.SIGTERM)
            for proc in processes.values():
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@contextmanager
def broker(kafka: bool) -> Iterator[str | None]:
    """A real Kafka broker's address, or None (the local sink)."""
    if not kafka:
        yield None
        return
    with kafka_server() as running:
        yield running.bootstrap


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: round(after[role] - before[role], 3) for role in after}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentiles_ms(seconds: list[float]) -> dict[str, Any]:
    """p50/p95/p99 (nearest rank) and max in ms; NaN when there is nothing."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), **{f"p{p}_ms": round(percentile(ms, p), 1) for p in (50, 95, 99)},
            "max_ms": round(max(ms, default=float("nan")), 1)}
