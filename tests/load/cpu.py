"""Where the CPU went during a phase: core-seconds per process group, and optional py-spy
profiles of the API. On a two-core machine with everything on it, the question behind every
latency figure is "who used the cores" (docs/performance.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

GROUPS = ("api workers", "api parent (followers)", "postgres", "redis", "kafka",
          "load generator", "other")


def _group(proc: psutil.Process, api_parent: int | None) -> str:
    try:
        name = proc.name()
        if proc.pid == os.getpid():
            return "load generator"
        if api_parent is not None and proc.pid == api_parent:
            return "api parent (followers)"
        if api_parent is not None and proc.ppid() == api_parent:
            return "api workers"
        if name.startswith("postgres") or name == "pgbench":
            return "postgres"
        if name.startswith("redis"):
            return "redis"
        if name == "java":
            return "kafka"
    except psutil.Error:
        pass
    return "other"


def _cpu_by_process() -> dict[int, tuple[psutil.Process, float]]:
    seen: dict[int, tuple[psutil.Process, float]] = {}
    for proc in psutil.process_iter():
        try:
            t = proc.cpu_times()
            seen[proc.pid] = (proc, t.user + t.system)
        except psutil.Error:
            continue
    return seen


@dataclass
class CpuMeter:
    """Core-seconds used per group between start() and stop(); processes that started or
    ended in between count from zero or up to their last sample."""

    api_parent: int | None = None
    _before: dict[int, tuple[psutil.Process, float]] = field(default_factory=dict)
    _wall: float = 0.0
    used: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def start(self) -> None:
        self._before = _cpu_by_process()
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        after = _cpu_by_process()
        self.seconds = time.perf_counter() - self._wall
        used = dict.fromkeys(GROUPS, 0.0)
        for pid, (proc, cpu) in after.items():
            before = self._before.get(pid)
            delta = cpu - (before[1] if before and before[0].create_time() ==
                           proc.create_time() else 0.0)
            used[_group(proc, self.api_parent)] += max(delta, 0.0)
        self.used = {k: round(v, 2) for k, v in used.items()}
        return self.used

    def report(self, requests: int) -> dict[str, object]:
        """Cores used on average, and CPU milliseconds per request served, per group."""
        total = sum(self.used.values())
        return {
            "seconds": round(self.seconds, 1),
            "cores": {k: round(v / self.seconds, 3) for k, v in self.used.items()},
            "cores_total": round(total / self.seconds, 3),
            "cpu_ms_per_request": {k: round(1000 * v / requests, 3)
                                   for k, v in self.used.items()} if requests else {},
            "machine_cores": psutil.cpu_count(),
        }


def api_parent_pid(port: int) -> int | None:
    """The `clinic serve` process listening on (or whose workers listen on) this port."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "serve" in cmd and "--port" in cmd and str(port) in cmd:
            pid: int = proc.pid
            return pid
    return None


@contextmanager
def py_spy(pids: dict[str, int], seconds: float, folder: Path | None) -> Iterator[None]:
    """`py-spy record` of each named process for `seconds` (speedscope JSON and a collapsed
    stack file per process in `folder`); nothing when folder is None."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    procs = []
    for label, pid in pids.items():
        out = folder / f"{label}.txt"
        procs.append(subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
             "--rate", "200", "--nonblocking", "--gil", "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for p in procs:
            try:
                p.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                p.kill()


def api_processes(port: int) -> dict[str, int]:
    parent = api_parent_pid(port)
    if parent is None:
        return {}
    found = {"api-parent": parent}
    workers = [c for c in psutil.Process(parent).children()
               if "resource_tracker" not in " ".join(c.cmdline())]
    for i, child in enumerate(workers):
        found[f"api-worker-{i}"] = child.pid
    return found
