"""Shared benchmark plumbing: servers in a temp folder, the PostgreSQL baseline, the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.embedded.postgres import EmbeddedPostgres
from infra.embedded.process import free_port
from infra.embedded.redis import EmbeddedRedis
from infra.settings import Settings


@dataclass
class Servers:
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    database_url: str
    data_dir: Path

    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, redis_url=self.redis.url,
                        data_dir=self.data_dir)


@contextmanager
def servers() -> Iterator[Servers]:
    with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        with EmbeddedPostgres(folder / "pg") as pg, EmbeddedRedis(folder / "redis") as rd:
            yield Servers(pg, rd, pg.create_database("clinic"), folder / "data")


def pgbench_baseline(pg: EmbeddedPostgres, seconds: int = 10,
                     scale: int = 10) -> dict[str, float]:
    """pgbench simple-update (-N) TPS at 1 and 8 clients: this machine's write ceiling."""
    url = pg.create_database("pgbench")
    bench = str(pg.binary("pgbench"))
    subprocess.run([bench, "-i", "-s", str(scale), "-q", url], check=True, capture_output=True)
    figures: dict[str, float] = {}
    for clients in (1, 8):
        out = subprocess.run([bench, "-N", "-c", str(clients), "-j", str(min(clients, 2)),
                              "-T", str(seconds), url], check=True, capture_output=True,
                             text=True).stdout
        figures[f"pgbench_simple_update_tps_c{clients}"] = _tps(out)
        figures[f"pgbench_simple_update_latency_ms_c{clients}"] = _latency(out)
    return figures


def pgbench_script(pg: EmbeddedPostgres, database_url: str, script: str, clients: int,
                   seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    os.chmod(f.name, 0o644)
    out = subprocess.run([str(pg.binary("pgbench")), "-n", "-f", f.name, "-c", str(clients),
                          "-j", str(min(clients, 2)), "-T", str(seconds), database_url],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    return {"tps": _tps(out), "latency_ms": _latency(out)}


def _tps(out: str) -> float:
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else float("nan")


def _latency(out: str) -> float:
    match = re.search(r"latency average = ([\d.]+) ms", out)
    return float(match.group(1)) if match else float("nan")


@contextmanager
def api_server(srv: Servers, workers: int, extra_env: dict[str, str] | None = None,
               projectors: bool = False) -> Iterator[int]:
    """`clinic serve` as a person would run it, against the benchmark's servers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": srv.database_url, "CLINIC_REDIS_URL": srv.redis.url,
            "CLINIC_DATA_DIR": str(srv.data_dir), "CLINIC_LOG_LEVEL": "WARNING",
            **(extra_env or {})}
    flags = [] if projectors else ["--no-projectors"]
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli.main", "serve", "--port",
                             str(port), "--workers", str(workers), *flags],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = 0
        for _ in range(600):  # every worker ready: many answers in a row on new connections
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                ok = False
            ready = ready + 1 if ok else 0
            if ready >= 10 * workers:
                break
            time.sleep(0.05 if ok else 0.1)
        else:
            raise RuntimeError("the API did not become ready")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def print_table(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys))
