"""Keep the benchmarks working: a seconds-long run with tiny figures. Not a timing test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_benchmark(module: str, out: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """Run `python -m tests.load.<module> ... --out <out>`; its stdout and its JSON file."""
    run = subprocess.run([sys.executable, "-m", f"tests.load.{module}", *args,
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return run.stdout, result


def test_slot_search_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    stdout, result = run_benchmark(
        "slot_search_bench", tmp_path / "result.json", "--sizes", "1500", "--duration", "1",
        "--rate", "40", "--baseline-seconds", "1", "--pgbench-scale", "1", "--workers", "1")
    assert "GET /slots" in stdout and "pgbench_simple_update_tps_c1" in stdout
    first = result["runs"][0]
    assert first["open_slots"] >= 1500
    assert first["completed"] == first["sent"] == 40
    assert first["error_rate"] == 0
    assert result["baseline"]["pgbench_simple_update_tps_c1"] > 0


def test_booking_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    _, result = run_benchmark("booking_bench", tmp_path / "booking.json", "--smoke")
    bookings = result["runs"][0]
    assert bookings["name"] == "POST /bookings" and bookings["completed"] == bookings["sent"]
    assert bookings["error_rate"] == 0
    assert result["summary"]["double_bookings"] == 0
    assert result["summary"]["appointments"] > 0


def test_slo_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "slo.json"
    stdout, result = run_benchmark("slo_bench", out, "--smoke", "--workers", "2")
    assert "SLO targets" in stdout and "pgbench" in stdout
    endpoints = result["mixed"]["endpoints"]
    assert set(endpoints) == {"GET /slots", "POST /holds", "POST /bookings", "POST /patients",
                              "POST /bookings/{id}/cancel"}
    for name, figures in endpoints.items():
        assert figures["sent"] > 0, name
        assert figures["completed"] == figures["sent"], name
        assert figures["error_rate"] == 0, (name, figures)
    assert result["double_bookings"] == 0
    assert result["live_appointments_event_store"] == result["live_appointments_read_model"] > 0
    assert result["saturation"]["steps"] and len(result["targets"]) == 6
    [half] = result["capacity"]["steps"]  # --smoke: one step, at half the mix
    assert half["error_rate"] == 0
    assert set(half["p95_ms"]) == {"GET /slots", "POST /bookings", "POST /patients"}
    assert all(e["completed"] == e["sent"] for e in half["endpoints"].values())
    assert half["endpoints"]["GET /slots"]["sent"] > 0
    assert result["baseline"]["pgbench_simple_update_tps_c1"] > 0
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_relay_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    _, result = run_benchmark("relay_bench", tmp_path / "relay.json", "--smoke")
    catch_up, load, latency = result["catch_up"], result["load"], result["latency"]
    assert catch_up["messages"] == catch_up["messages_expected"] > 0
    assert catch_up["messages_missing"] == 0
    assert load["name"] == "POST /bookings" and load["completed"] == load["sent"]
    assert load["error_rate"] == 0 and load["statuses"] == f"{{201: {load['sent']}}}"
    assert latency["arrived"] == latency["messages"] == load["sent"]
    assert latency["messages_missing"] == 0
    assert result["baseline"]["pgbench_simple_update_tps_c1"] > 0


def test_command_cpu_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    _, result = run_benchmark("command_cpu", tmp_path / "command_cpu.json", "--smoke")
    assert set(result["median"]) == {"GET /slots", "GET /fhir/R4/Slot", "POST /bookings",
                                     "POST /patients"}
    for command, figures in result["median"].items():
        assert figures["cpu_ms"] > 0 and figures["wall_ms"] >= figures["cpu_ms"] / 2, command


def test_write_latency_probe_runs_end_to_end(tmp_path: Path) -> None:
    stdout, result = run_benchmark("write_latency", tmp_path / "write.json", "--smoke")
    assert "One request at a time" in stdout
    assert set(result["results"]) == {"followers running", "no followers"}
    for figures in result["results"].values():
        assert set(figures["endpoints"]) == {"GET /slots", "POST /bookings", "POST /patients"}
        assert all(e["requests"] == 10 and e["p95_ms"] >= e["p50_ms"] > 0
                   for e in figures["endpoints"].values())
        assert figures["endpoints"]["POST /patients"]["statuses"] == {"202": 10}
        assert set(figures["cpu_ms_per_booking"]) >= {"api workers", "api parent (followers)",
                                                      "postgres"}


def test_audit_verify_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    stdout, result = run_benchmark("audit_verify_bench", tmp_path / "audit.json", "--smoke")
    figures = result["figures"]
    assert figures["verify_events_per_s"] > 0 and figures["follower_events_per_s"] > 0
    assert figures["inclusion_proof_hashes"] == 11  # log2 of 2,000 leaves, rounded up
    assert "pgbench_simple_update_tps_c1" in stdout


def test_waitlist_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    stdout, result = run_benchmark("waitlist_bench", tmp_path / "waitlist.json", "--smoke")
    figures = result["figures"]
    assert figures["entries"] == 30 and figures["matcher_step"]["p50_ms"] > 0
    # every freed slot's offer email reached the SMTP server, once, after its offer
    assert figures["errors"] == {"freed": 7, "failed": 0, "no_email": 0,
                                 "duplicate_emails": 0, "first_errors": [], "error_rate": 0}
    recorded, emailed = (figures["cancel_commit_to_offer_recorded"],
                         figures["cancel_commit_to_offer_email"])
    assert recorded["n"] == emailed["n"] == 3
    assert 0 < recorded["p50_ms"] < emailed["p50_ms"] and figures["offer_recorded_to_email"][
        "p50_ms"] > 0
    assert figures["burst"]["emails"] == figures["burst"]["freed"] == 3
    assert figures["pgbench"]["pgbench_simple_update_tps_c1"] > 0
    assert "pgbench_simple_update_tps_c1" in stdout
