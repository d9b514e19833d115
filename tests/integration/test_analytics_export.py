"""`clinic analytics export`: a v1 view as CSV, from a clinic-local date on, in a stable order;
`clinic projections status` shows the analytics projector's position and lag."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from infra.postgres.analytics import FACT_COLUMNS, SUPPLY_COLUMNS
from infra.wiring.container import Container
from projections.runner import CatchUpRunner
from tests.driver import drive
from tests.integration.analytics_script import analytics_model, clinic, play


def test_export_writes_the_view_from_a_date_on(container: Container, tmp_path: Path) -> None:
    s = play(drive(container))
    model = analytics_model(container)
    try:
        CatchUpRunner(container.app, model).catch_up()
    finally:
        model.datastore.close()
    out = tmp_path / "facts.csv"
    done = clinic(container, "analytics", "export", "appointment_facts", "--format", "csv",
                  "--since", "2027-03-13", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "appointment_facts: 6 rows" in done.stderr
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == FACT_COLUMNS
    # Every visit but a6 (Friday 12th in Chicago), by start; a3 and a4 share theirs.
    names = {str(v): k for k, v in s.visits.items()}
    order = [names[r[0]] for r in rows[1:]]
    assert order[:2] == ["a1", "a2"] and set(order[2:4]) == {"a3", "a4"}
    assert order[4:] == ["a5", "a7"]

    supply = clinic(container, "analytics", "export", "slot_supply")
    assert supply.returncode == 0, supply.stderr
    table = list(csv.reader(io.StringIO(supply.stdout)))
    assert tuple(table[0]) == SUPPLY_COLUMNS and len(table) == 1 + 6

    refused = clinic(container, "analytics", "export", "slot_supply", "--since", "March")
    assert refused.returncode == 2 and "--since" in refused.stderr


    head = container.app.recorder.max_notification_id()
    status = clinic(container, "projections", "status")
    assert f"analytics: position {head} of {head} (lag 0)" in status.stdout, status.stdout
