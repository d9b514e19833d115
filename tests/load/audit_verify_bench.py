"""`clinic audit verify` at scale: the audit follower building the Merkle tree, then the
verification, over a million stored events; events per second and peak memory of each, the
size and time of one inclusion proof, and this machine's pgbench baseline in the same run.

    .venv/bin/python -m tests.load.audit_verify_bench            # 1,000,000 events, minutes
    .venv/bin/python -m tests.load.audit_verify_bench --smoke    # seconds

The events are synthetic rows COPYed into the event table (realistic sizes: a few hundred
bytes of state each); the tree neither knows nor cares what they say.
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from infra.eventstore.application import build_application
from infra.postgres.audit_verify import verify_log
from infra.postgres.read_models import read_model
from infra.postgres.tables import ensure_schema
from infra.wiring.audit import audit_config, audit_signer
from projections.merkle import inclusion_proof, root_of, verify_inclusion
from projections.runner import CatchUpRunner
from tests.load.common import pgbench_baseline, report, servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("tests/load/results/audit_verify.json"))
    args = parser.parse_args()
    if args.smoke:
        args.events, args.baseline_seconds = 2_000, 1
    figures: dict[str, Any] = {"events": args.events}
    with servers() as srv:
        ensure_schema(srv.database_url, "public")
        settings = srv.settings()
        app = build_application(settings)  # creates the event table
        started = time.perf_counter()
        _fill(srv.database_url, args.events)
        figures["fill_s"] = round(time.perf_counter() - started, 1)

        model = read_model("audit_log", srv.database_url, "public", audit=audit_config(settings))
        before = _peak_mb()
        started = time.perf_counter()
        applied = CatchUpRunner(app, model, batch_size=5000).catch_up()
        elapsed = time.perf_counter() - started
        figures["follower_events_per_s"] = round(applied / elapsed)
        figures["follower_peak_rss_mb_growth"] = round(_peak_mb() - before, 1)
        model.datastore.close()

        before = _peak_mb()
        started = time.perf_counter()
        result = verify_log(srv.database_url, "public", [audit_signer(settings).verifier_key()])
        elapsed = time.perf_counter() - started
        assert result.ok and result.covered == args.events, result.failure
        figures["verify_events_per_s"] = round(result.events / elapsed)
        figures["verify_s"] = round(elapsed, 1)
        figures["verify_peak_rss_mb_growth"] = round(_peak_mb() - before, 1)
        figures["checkpoints_verified"] = result.checkpoints

        with psycopg.connect(srv.database_url) as conn:
            leaves = [bytes(r[0]) for r in conn.execute(
                "SELECT leaf FROM audit_leaves ORDER BY tree_index")]
        index = len(leaves) // 3
        started = time.perf_counter()
        proof = inclusion_proof(leaves, index)
        figures["inclusion_proof_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
        root = root_of(leaves)
        started = time.perf_counter()
        assert verify_inclusion(leaves[index], index, len(leaves), proof, root)
        figures["inclusion_proof_verify_ms"] = round((time.perf_counter() - started) * 1000, 3)
        figures["inclusion_proof_hashes"] = len(proof)
        figures["inclusion_proof_bytes"] = 32 * len(proof)
        app.close()
        figures |= pgbench_baseline(srv.postgres, args.baseline_seconds)

    report(figures, args)


def _fill(database_url: str, count: int) -> None:
    """`count` events of a few hundred bytes, one aggregate per 10 events."""
    state = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-07T10:00:00+00:00"},'
             b'"originator_topic":"domain.appointments:Appointment",' + b'"x":"' +
             b"y" * 300 + b'"}')
    copying = "COPY clinic_events (originator_id, originator_version, topic, state) FROM STDIN"
    with psycopg.connect(database_url) as conn, conn.cursor() as curs, \
            curs.copy(copying) as copy:
        aggregate = uuid.uuid4()
        for n in range(count):
            if n % 10 == 0:
                aggregate = uuid.uuid4()
            copy.write_row((aggregate, n % 10 + 1, "domain.appointments:Appointment.Booked",
                            state))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
