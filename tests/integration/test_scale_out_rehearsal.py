"""The scale-out rehearsal, short form: two processes of every role against separate
PostgreSQL, Redis and a three-broker Kafka cluster (replication 3, min.insync.replicas 2);
under a bounded booking load a notifier, a broker, an API process, the active projector
and the active relay are SIGKILLed one at a time; afterwards nothing acknowledged is lost,
nothing is double-booked, Kafka holds every event in order per key, nobody is emailed twice
and the read models equal a rebuild from zero (tests/harness/rehearsal.py).

Every wait has a deadline and fails saying what it waited for; nothing asserts on speed."""

from __future__ import annotations

from pathlib import Path

from tests.harness.kafka_cluster import kafka_cluster
from tests.harness.rehearsal import Plan, rehearsal
from tests.harness.smtp import smtp_server
from tests.load.common import servers

SHORT = Plan(patients=220, providers=1, threads=3, pause_s=1.0, phase_s=2.0,
             deadline_s=120.0)


def test_every_role_survives_a_sigkill_under_load(tmp_path: Path) -> None:
    # Without Java or Maven, kafka_cluster() fails with what to install.
    with kafka_cluster() as cluster, servers() as srv, smtp_server() as smtp, \
            rehearsal(SHORT, srv, cluster, smtp, tmp_path) as run:
        figures = run.run()
    print(f"\nrehearsal (short form): {figures}")
    assert figures["bookings_acknowledged"] > 0
    assert figures["booking_errors_by_kind"], "the API kill cost no request: was it killed?"
    for key in ("projector_takeover_caught_up_s", "relay_takeover_caught_up_s",
                "broker_loss_first_publish_s", "broker_back_in_sync_s",
                "api_restart_to_ready_s"):
        assert key in figures, f"{key}: that kill's step did not run to its end"
