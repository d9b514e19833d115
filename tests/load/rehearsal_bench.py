"""Scale-out rehearsal, long form: the short test's scenario (tests/harness/rehearsal.py)
with more patients, more load threads and longer phases between the kills, and figures.

    .venv/bin/python -m tests.load.rehearsal_bench             # full run (~6 minutes)
    .venv/bin/python -m tests.load.rehearsal_bench --smoke     # the short form's size

Every role runs as two OS processes (`clinic serve --no-projectors` x2, `clinic project` x2,
`clinic relay` x2, `clinic notify` x2) against PostgreSQL, Redis and a three-broker KRaft
Kafka cluster (replication 3, min.insync.replicas 2), all on this machine. Under a bounded
booking load a notifier, an API process, the active projector, the active relay and one
broker are SIGKILLed in turn. Prints bookings acknowledged, errors (transport errors while
an API process is down; each retried on the other one), p50/p95/p99 booking latency, the
takeover times, and this machine's pgbench simple-update baseline, last. The invariants
(nothing acknowledged lost, no double booking, Kafka complete and in order per key, no
email twice, read models equal to a rebuild) are checked as in the test: a violation fails
the run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.harness.kafka_cluster import kafka_cluster
from tests.harness.rehearsal import Plan, rehearsal
from tests.harness.smtp import smtp_server
from tests.integration.test_scale_out_rehearsal import SHORT
from tests.load.common import pgbench_baseline, report, servers

LONG = Plan(patients=1500, providers=2, threads=4, pause_s=0.4, phase_s=15.0,
            deadline_s=300.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the short form's size")
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/rehearsal.json"))
    args = parser.parse_args()
    plan = SHORT if args.smoke else LONG
    with tempfile.TemporaryDirectory(prefix="clinic-rehearsal-") as tmp, \
            kafka_cluster() as cluster, servers() as srv, smtp_server() as smtp:
        with rehearsal(plan, srv, cluster, smtp, Path(tmp)) as run:
            figures = run.run()
        print("measuring the PostgreSQL baseline (pgbench simple-update)...", flush=True)
        figures |= pgbench_baseline(srv.postgres, 2 if args.smoke else 10,
                                    1 if args.smoke else 10)
    report(figures | {"plan": vars(plan)}, args)


if __name__ == "__main__":
    main()
