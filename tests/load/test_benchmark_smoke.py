"""Keep the benchmarks working: a seconds-long run with tiny figures. Not a timing test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_slot_search_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, "-m", "tests.load.slot_search_bench", "--sizes", "1500",
         "--duration", "1", "--rate", "40", "--baseline-seconds", "1", "--pgbench-scale", "1",
         "--workers", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "GET /slots" in run.stdout and "pgbench_simple_update_tps_c1" in run.stdout
    result = json.loads(out.read_text())
    first = result["runs"][0]
    assert first["open_slots"] >= 1500
    assert first["completed"] == first["sent"] == 40
    assert first["error_rate"] == 0
    assert result["baseline"]["pgbench_simple_update_tps_c1"] > 0


def test_booking_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "booking.json"
    run = subprocess.run([sys.executable, "-m", "tests.load.booking_bench", "--smoke",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(out.read_text())
    bookings = result["runs"][0]
    assert bookings["name"] == "POST /bookings" and bookings["completed"] == bookings["sent"]
    assert bookings["error_rate"] == 0
    assert result["summary"]["double_bookings"] == 0
    assert result["summary"]["appointments"] > 0
