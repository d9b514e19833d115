"""Shared benchmark plumbing: servers in a temp folder, the PostgreSQL baseline, the API,
a Kafka broker, the followers' positions, a saturation staircase and a progress bar."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import psycopg

from infra.embedded.kafka import EmbeddedKafka, missing_prerequisites
from infra.embedded.postgres import EmbeddedPostgres
from infra.embedded.process import free_port
from infra.embedded.redis import EmbeddedRedis
from infra.postgres.read_models import READ_MODELS
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


@contextmanager
def background_kafka(folder: Path) -> Iterator[Callable[[], str]]:
    """A real Kafka broker (KRaft, from the project's Maven jars) started in the background
    while the caller seeds: yields a function that waits until it is up and returns its
    bootstrap address. Stopped on exit."""
    missing = missing_prerequisites()
    if missing:
        raise RuntimeError("the benchmark starts a real Kafka broker and needs: "
                           + ", ".join(missing))
    kafka = EmbeddedKafka(folder)
    with ThreadPoolExecutor(1, thread_name_prefix="kafka-start") as pool:
        started: Future[EmbeddedKafka] = pool.submit(kafka.start)
        try:
            yield lambda: started.result(timeout=300).bootstrap
        finally:
            started.exception()  # wait for the start to finish, whatever its outcome
            kafka.stop()


FOLLOWERS = (*READ_MODELS, "relay")


def follower_positions(conn: psycopg.Connection[Any], schema: str = "public",
                       names: tuple[str, ...] | None = None) -> dict[str, int]:
    """The event log's head and each follower's position (as `clinic projections status`)."""
    row = conn.execute(f'SELECT max(notification_id) FROM "{schema}".clinic_events').fetchone()
    positions = {"head": int(row[0] or 0) if row else 0}
    for name in names or FOLLOWERS:
        try:
            row = conn.execute(f'SELECT notification_id FROM "{schema}".{name}_tracking '
                               "WHERE application_name = 'clinic'").fetchone()
        except psycopg.errors.UndefinedTable:
            conn.rollback()
            row = None
        positions[name] = int(row[0]) if row and row[0] is not None else 0
    return positions


def wait_for_followers(database_url: str, timeout_s: float,
                       names: tuple[str, ...] = FOLLOWERS) -> float:
    """Wait until every named follower reached the log's head (as it was when asked, or
    later); return the seconds it took. RuntimeError after timeout_s."""
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        head = follower_positions(conn)["head"]
        while True:
            positions = follower_positions(conn)
            if all(positions[n] >= head for n in names):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout_s:
                behind = {n: head - positions[n] for n in names if positions[n] < head}
                raise RuntimeError(f"followers still behind after {timeout_s:.0f}s: {behind}")
            time.sleep(0.1)


def wait_until_quiet(database_url: str, port: int, timeout_s: float,
                     quiet_s: float = 2.0) -> float:
    """Wait until the API answers /healthz at once five times in a row (new connections,
    so any worker), no event has been recorded for `quiet_s` and every follower is at the
    head: requests a phase left queued in the API (their clients gave up at the timeout,
    the server still runs them) are done before the next phase measures anything. Returns
    the seconds it took; RuntimeError after timeout_s."""
    started, fast = time.perf_counter(), 0
    while fast < 5:
        if time.perf_counter() - started > timeout_s:
            raise RuntimeError(f"the API still answers slowly after {timeout_s:.0f}s")
        sent = time.perf_counter()
        try:
            ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            ok = False
        fast = fast + 1 if ok and time.perf_counter() - sent < 0.05 else 0
        time.sleep(0.1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        head, since = follower_positions(conn)["head"], time.perf_counter()
        while time.perf_counter() - since < quiet_s:
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"events still being recorded after {timeout_s:.0f}s")
            time.sleep(0.25)
            now = follower_positions(conn)["head"]
            if now != head:
                head, since = now, time.perf_counter()
    return time.perf_counter() - started + wait_for_followers(
        database_url, max(1.0, timeout_s - (time.perf_counter() - started)))


Step = dict[str, Any]


def staircase(rates: list[float], run_step: Callable[[float], Step],
              sustained: Callable[[Step], bool]) -> tuple[list[Step], Step | None]:
    """Offer rising rates, one step each, until a step is not sustained (latency or errors
    blew up). Returns every step run, and the highest-rate sustained step (or None)."""
    steps: list[Step] = []
    best: Step | None = None
    for rate in rates:
        step = run_step(rate)
        step["sustained"] = sustained(step)
        steps.append(step)
        if not step["sustained"]:
            break
        best = step
    return steps, best


class Progress:
    """A one-line text progress bar on stderr, redrawn in place (at most 5 times a second);
    close() ends the line. No dependency: a benchmark must not need a terminal library."""

    def __init__(self, label: str, total: float, unit: str = "",
                 stream: TextIO = sys.stderr, width: int = 28) -> None:
        self.label, self.total, self.unit = label, max(total, 1e-9), unit
        self.stream, self.width = stream, width
        self.started = time.perf_counter()
        self.drawn = 0.0
        self.done = 0.0

    def update(self, done: float, note: str = "", force: bool = False) -> None:
        self.done = done
        now = time.perf_counter()
        if not force and now - self.drawn < 0.2:
            return
        self.drawn = now
        share = min(1.0, max(0.0, done / self.total))
        bar = "#" * int(share * self.width)
        figures = f"{done:,.0f}/{self.total:,.0f}{self.unit}"
        line = (f"{self.label:<22} [{bar:<{self.width}}] {share:4.0%} {figures} "
                f"{now - self.started:5.1f}s {note}")
        self.stream.write(f"\r{line:<110}")
        self.stream.flush()

    def close(self, note: str = "", done: float | None = None) -> None:
        self.update(self.done if done is None else done, note, force=True)
        self.stream.write("\n")
        self.stream.flush()


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    """Print a benchmark's figures, and write them to `args.out` with its configuration,
    the machine's CPU count and the time."""
    width = max(map(len, figures), default=0) + 2
    for key, value in figures.items():
        print(f"{key:{width}} {value}")
    save_results(args.out, {"figures": figures, "config": vars(args) | {"out": str(args.out)}})


def save_results(out: Path, content: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**content, "cpus": os.cpu_count(),
                               "measured_at": datetime.now(UTC).isoformat()}, indent=2,
                              default=str))
    print(f"results written to {out}")
