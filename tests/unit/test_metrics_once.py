"""The metrics are built once per process, however many request threads ask first (a fresh
API worker's first concurrent requests once got a 500: DuplicateTimeseries)."""

from __future__ import annotations

import subprocess
import sys

FIRST_USE = """
import threading
from infra.observability import metrics

barrier = threading.Barrier(32)
seen, errors = [], []

def first_use():
    barrier.wait()
    try:
        seen.append(id(metrics._metrics()))
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=first_use) for _ in range(32)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors[0]
assert len(set(seen)) == 1, "built more than once"
"""


def test_concurrent_first_use_builds_the_metrics_once() -> None:
    for _ in range(3):  # a fresh process each time: nothing built yet
        run = subprocess.run([sys.executable, "-c", FIRST_USE], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-2000:]
