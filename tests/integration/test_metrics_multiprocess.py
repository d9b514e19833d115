"""`clinic serve --workers N`: one scrape sees every process's samples (prometheus_client's
multiprocess mode), even though the parent imported prometheus_client before it knew the
folder, and a previous run's files are gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
from infra.observability.metrics import observe_request, record_booking
record_booking("booked")
observe_request("POST", "/bookings", 201, 0.01)
"""
PARENT = """
import subprocess, sys
from pathlib import Path
from prometheus_client import generate_latest
from infra.observability import metrics  # imports prometheus_client, not yet multiprocess

metrics.enable_multiprocess(Path(sys.argv[1]))
metrics.record_publish_failure()  # the relay thread of the parent
for _ in range(2):  # two API workers; they inherit PROMETHEUS_MULTIPROC_DIR
    subprocess.run([sys.executable, "-c", sys.argv[2]], check=True)
print(generate_latest(metrics.exposition_registry()).decode())
"""


def test_one_scrape_adds_up_every_process(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"a previous run's file, unreadable now")
    scraped = subprocess.run([sys.executable, "-c", PARENT, str(folder), WORKER], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scraped) for s in family.samples}
    assert samples[("clinic_bookings_total", (("outcome", "booked"),))] == 2
    assert samples[("clinic_relay_publish_failures_total", ())] == 1
    request = (("method", "POST"), ("route", "/bookings"), ("status", "201"))
    assert samples[("clinic_http_request_duration_seconds_count", request)] == 2
    assert samples[("clinic_http_request_duration_seconds_bucket",
                    (("le", "0.025"), *request))] == 2
    assert not (folder / "counter_4242.db").exists()
